# SPDX-License-Identifier: Apache-2.0
"""``TestPki``: the simulator's certificate authority, cached in one folder.

Virtual cards need holder certificates that chain to a CA, verifiers need
that CA and its CRLs, and both may run in different processes. ``TestPki``
is the shell around the pure builders in ``builders``: it generates the CAs
and the card-data issuer key once, keeps them in a folder (``store``), issues
and revokes certificates, and exports the public half as a host trust folder.

Folder layout::

    index.json                 format version and the file names below
    auth-ca.pem, auth-ca.key.pem, sign-ca.pem, sign-ca.key.pem
    card-data-issuer.key.pem   signs the card-info AP's integrity record
    holders/<label>.key.pem    card holders' keys
    revoked.json               every revocation, read afresh on each use
    .lock                      serialises creation and changes
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, ClassVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from host.private_files import private_folder
from hw_sim.home import sim_home
from hw_sim.identity import Person
from hw_sim.pki import builders, profile, store
from hw_sim.pki.profile import CaFamily, CertKind

__all__ = ["TestPki"]

_FORMAT = 1
_INDEX = "index.json"
_REVOKED = "revoked.json"
_HOLDERS = "holders"
_CARD_DATA_KEY = "card-data-issuer.key.pem"
_LABEL = re.compile(r"[a-z0-9_.-]{1,200}")
#: Gap between "now" and the default start of validity, so that a verifier
#: whose clock is a little behind still accepts a fresh certificate.
_BACKDATE = dt.timedelta(days=1)
_CRL_LIFETIME = dt.timedelta(days=1)
#: CRL numbers are (this-update second, revocation count) packed into one
#: integer: they never go down, and two CRLs share a number only when they
#: have the same content, with no counter to keep on disk (RFC 5280 §5.2.3).
_CRL_COUNT_SLOTS = 1 << 20
_EXPIRED_SPAN = dt.timedelta(days=5 * 365)


def _now() -> dt.datetime:
    # X.509 times have whole seconds; dropping the rest keeps what we return
    # equal to what a parser reads back.
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _aware(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        # A naive time here is ambiguous (UTC or JST?), a classic off-by-9h bug.
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(dt.UTC).replace(microsecond=0)


def _ca_files(kind: CertKind) -> tuple[str, str]:
    return f"{kind.value}-ca.pem", f"{kind.value}-ca.key.pem"


class TestPki:
    """A JPKI-shaped test PKI kept in a folder; make one with ``TestPki.open``.

    Holds two self-signed RSA-2048 roots (user authentication and digital
    signature) and the card-data issuer key; issues holder certificates per
    ``profile``; records revocations on disk, so every ``TestPki`` opened on
    the same folder, in any process, sees them.
    """

    # The name starts with "Test"; without this pytest would try to collect
    # the class from every test module that imports it.
    __test__: ClassVar[bool] = False

    def __init__(
        self,
        directory: Path,
        ca_keys: dict[CertKind, rsa.RSAPrivateKey],
        ca_certificates: dict[CertKind, x509.Certificate],
        card_data_key: rsa.RSAPrivateKey,
        family: CaFamily = CaFamily.CARD,
    ) -> None:
        """Wrap loaded material; use ``TestPki.open`` instead."""
        self._family = family
        self._directory = directory
        self._ca_keys = dict(ca_keys)
        self._ca_certificates = dict(ca_certificates)
        self._card_data_key = card_data_key
        self._holder_keys: dict[str, rsa.RSAPrivateKey] = {}

    @classmethod
    def open(
        cls, directory: Path | str | None = None, *, family: CaFamily = CaFamily.CARD
    ) -> TestPki:
        """Load the PKI from ``directory``, generating it on first use.

        Args:
            directory: the cache folder, created if needed; the default is
                ``pki`` in the simulator's home (``hw_sim.home.sim_home``).
            family: which CAs the folder holds (card or mobile); a folder
                made for the other family is refused.

        Raises:
            PkiCacheError: the folder holds a damaged or foreign cache.
            OSError: the folder cannot be created or written.
        """
        path = Path(directory) if directory is not None else sim_home() / "pki"
        private_folder(path)  # holds the CA keys: 0700, never another user's
        if not (path / _INDEX).exists():
            with store.locked(path):
                # Re-check under the lock: another process may have won.
                if not (path / _INDEX).exists():
                    _create(path, CaFamily(family))
        return cls._load(path, CaFamily(family))

    @classmethod
    def _load(cls, path: Path, family: CaFamily) -> TestPki:
        index = store.read_json(path / _INDEX)
        if index.get("format") != _FORMAT:
            raise store.PkiCacheError(f"unknown cache format in {path / _INDEX}")
        # Folders from before the mobile CAs have no family: they are card CAs.
        if index.get("family", CaFamily.CARD.value) != family.value:
            raise store.PkiCacheError(f"{path} holds another family's CAs")
        keys: dict[CertKind, rsa.RSAPrivateKey] = {}
        certificates: dict[CertKind, x509.Certificate] = {}
        for kind in CertKind:
            cert_name, key_name = _ca_files(kind)
            key = store.load_private_key(path / key_name)
            certificate = store.load_certificate(path / cert_name)
            if certificate.public_key() != key.public_key():
                raise store.PkiCacheError(f"{cert_name} does not match {key_name}")
            keys[kind], certificates[kind] = key, certificate
        card_data_key = store.load_private_key(path / _CARD_DATA_KEY)
        return cls(path, keys, certificates, card_data_key, family)

    def __repr__(self) -> str:
        return f"TestPki(directory={str(self._directory)!r}, family={self._family.value!r})"

    @property
    def family(self) -> CaFamily:
        """Whether these CAs issue card or smartphone certificates."""
        return self._family

    @property
    def directory(self) -> Path:
        """The cache folder."""
        return self._directory

    def ca_certificate(self, kind: CertKind) -> x509.Certificate:
        """Return the self-signed root certificate of ``kind``."""
        return self._ca_certificates[CertKind(kind)]

    def ocsp_signer(self, kind: CertKind) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
        """Return the ``kind`` CA's certificate and key, for the test OCSP responder.

        The responder (``hw_sim.pki.ocsp``) signs with the CA key itself, as
        RFC 6960 §2.6 allows; nothing outside the simulator should call this.
        """
        kind = CertKind(kind)
        return self._ca_certificates[kind], self._ca_keys[kind]

    def card_data_key(self) -> rsa.RSAPrivateKey:
        """Return the key that signs the card-info AP's integrity record (EF 0003).

        A host checks that record offline with this key's public half, which
        ``export_public`` writes as ``card-data-issuer.pub.pem``.
        """
        return self._card_data_key

    def holder_key(self, label: str) -> rsa.RSAPrivateKey:
        """Return the card holder key named ``label``, generating it on first use.

        The same label gives the same key in every process sharing the folder.

        Raises:
            ValueError: ``label`` is not 1-200 characters of ``[a-z0-9_.-]``.
            PkiCacheError: the cached key file is damaged.
        """
        if not isinstance(label, str) or not _LABEL.fullmatch(label):
            raise ValueError("a holder label is 1-200 characters of [a-z0-9_.-]")
        cached = self._holder_keys.get(label)
        if cached is not None:
            return cached
        folder = self._directory / _HOLDERS
        path = folder / f"{label}.key.pem"
        if not path.exists():
            private_folder(folder)
            with store.locked(self._directory):
                if not path.exists():
                    store.atomic_write(path, store.private_key_pem(_new_key()), private=True)
        key = store.load_private_key(path)
        self._holder_keys[label] = key
        return key

    def issue(
        self,
        kind: CertKind,
        person: Person,
        public_key: rsa.RSAPublicKey,
        *,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> x509.Certificate:
        """Issue a holder certificate of ``kind`` for ``person`` (profile in §6).

        Args:
            kind: which CA issues it, and so which profile applies.
            person: the holder; only the signing certificate names them.
            public_key: the holder's RSA-2048 key (e=65537).
            not_before: start of validity; default one day ago.
            not_after: end of validity; default the last second (JST) of the
                holder's 5th birthday after ``not_before``, as JPKI does.

        Raises:
            ValueError: a naive datetime, an empty validity period, or a key
                outside the profile.
            TypeError: ``public_key`` is not an RSA key.
        """
        kind = CertKind(kind)
        start = _now() - _BACKDATE if not_before is None else _aware(not_before, "not_before")
        if not_after is None:
            birthday = builders.fifth_birthday_after(
                person.birth_date, start.astimezone(profile.JST).date()
            )
            end = dt.datetime.combine(birthday, profile.VALIDITY_END_TIME).astimezone(dt.UTC)
        else:
            end = _aware(not_after, "not_after")
        return builders.build_holder_certificate(
            kind,
            person,
            public_key,
            ca_certificate=self._ca_certificates[kind],
            ca_key=self._ca_keys[kind],
            not_before=start,
            not_after=end,
            family=self._family,
        )

    def issue_expired(
        self, kind: CertKind, person: Person, public_key: rsa.RSAPublicKey
    ) -> x509.Certificate:
        """Issue a holder certificate whose validity ended yesterday.

        It ran for five years, so it looks like a card that was not renewed.
        """
        now = _now()
        return self.issue(
            kind, person, public_key, not_before=now - _EXPIRED_SPAN, not_after=now - _BACKDATE
        )

    def revoke(
        self,
        certificate: x509.Certificate,
        *,
        reason: x509.ReasonFlags = x509.ReasonFlags.unspecified,
        when: dt.datetime | None = None,
    ) -> None:
        """Revoke ``certificate`` and record it in the folder.

        Revoking a revoked certificate again changes nothing (the first record
        stays, as on a real CRL).

        Args:
            certificate: a holder certificate issued by this PKI.
            reason: the CRL reason code; ``remove_from_crl`` is for delta CRLs
                and is refused.
            when: the revocation time; default now.

        Raises:
            ValueError: the certificate was not issued by this PKI, ``when`` is
                naive, or the reason is ``remove_from_crl``.
        """
        kind = self._issuer_kind(certificate)
        if kind is None:
            raise ValueError("the certificate was not issued by this PKI")
        reason = x509.ReasonFlags(reason)
        if reason is x509.ReasonFlags.remove_from_crl:
            raise ValueError("remove_from_crl belongs in delta CRLs, not in a revocation")
        moment = _now() if when is None else _aware(when, "when")
        with store.locked(self._directory):
            records = self._read_revocations()
            if any(_matches(r, kind, certificate.serial_number) for r in records):
                return
            records.append(
                {
                    "kind": kind.value,
                    "serial": format(certificate.serial_number, "X"),
                    "when": moment.isoformat(),
                    "reason": reason.name,
                }
            )
            store.write_json(self._directory / _REVOKED, {"format": _FORMAT, "revoked": records})

    def is_revoked(self, certificate: x509.Certificate) -> bool:
        """Return whether this PKI has revoked ``certificate``.

        A certificate from another issuer is not on our lists, so it is
        reported as not revoked.
        """
        kind = self._issuer_kind(certificate)
        return kind is not None and any(
            _matches(r, kind, certificate.serial_number) for r in self._read_revocations()
        )

    def crl(self, kind: CertKind) -> x509.CertificateRevocationList:
        """Return a fresh CRL of the ``kind`` CA listing all its revocations.

        thisUpdate is now, nextUpdate a day later (J-LIS publishes daily, §8.2).
        """
        kind = CertKind(kind)
        entries = [
            builders.Revocation(
                serial_number=int(r["serial"], 16),
                when=dt.datetime.fromisoformat(r["when"]),
                reason=x509.ReasonFlags[r["reason"]],
            )
            for r in self._read_revocations()
            if r["kind"] == kind.value
        ]
        now = _now()
        return builders.build_crl(
            self._ca_certificates[kind],
            self._ca_keys[kind],
            entries,
            this_update=now,
            next_update=now + _CRL_LIFETIME,
            crl_number=int(now.timestamp()) * _CRL_COUNT_SLOTS + len(entries),
        )

    def export_public(self, directory: Path | str) -> None:
        """Write the public material a host trusts, and nothing private.

        Files: ``auth-ca.pem``, ``sign-ca.pem``, ``auth.crl.der``,
        ``sign.crl.der`` and ``card-data-issuer.pub.pem``. Existing files of
        those names are replaced.
        """
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        for kind in CertKind:
            store.atomic_write(
                target / f"{kind.value}-ca.pem", store.certificate_pem(self.ca_certificate(kind))
            )
            crl_der = self.crl(kind).public_bytes(serialization.Encoding.DER)
            store.atomic_write(target / f"{kind.value}.crl.der", crl_der)
        store.atomic_write(
            target / "card-data-issuer.pub.pem",
            store.public_key_pem(self._card_data_key.public_key()),
        )

    def _issuer_kind(self, certificate: x509.Certificate) -> CertKind | None:
        # Every CA generation shares one DN (§6), so the name alone proves
        # nothing: check the signature too.
        for kind, ca in self._ca_certificates.items():
            if certificate.issuer != ca.subject:
                continue
            try:
                certificate.verify_directly_issued_by(ca)
            except (InvalidSignature, ValueError, TypeError):
                return None
            return kind
        return None

    def _read_revocations(self) -> list[dict[str, Any]]:
        path = self._directory / _REVOKED
        if not path.exists():
            return []
        records = store.read_json(path).get("revoked")
        if not isinstance(records, list):
            raise store.PkiCacheError(f"{_REVOKED} has no revocation list")
        return records


def _matches(record: dict[str, Any], kind: CertKind, serial_number: int) -> bool:
    return bool(record["kind"] == kind.value and int(record["serial"], 16) == serial_number)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(
        public_exponent=profile.PUBLIC_EXPONENT, key_size=profile.KEY_SIZE
    )


def _create(path: Path, family: CaFamily) -> None:
    """Generate the CAs and the card-data key; the caller holds the lock.

    ``index.json`` is written last, so a crash part-way leaves a folder that
    the next ``open`` simply generates again.
    """
    start = _now() - _BACKDATE
    files: dict[str, Any] = {}
    for kind in CertKind:
        key = _new_key()
        certificate = builders.build_ca_certificate(kind, key, not_before=start, family=family)
        cert_name, key_name = _ca_files(kind)
        store.atomic_write(path / key_name, store.private_key_pem(key), private=True)
        store.atomic_write(path / cert_name, store.certificate_pem(certificate))
        files[kind.value] = {"certificate": cert_name, "key": key_name}
    store.atomic_write(path / _CARD_DATA_KEY, store.private_key_pem(_new_key()), private=True)
    store.write_json(
        path / _INDEX,
        {
            "format": _FORMAT,
            "family": family.value,
            "created": start.isoformat(),
            "ca": files,
            "card_data_key": _CARD_DATA_KEY,
        },
    )
