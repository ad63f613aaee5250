# SPDX-License-Identifier: Apache-2.0
"""Certificate checks for JPKI holder certificates, and the basic four items.

Why not a general path builder: JPKI chains are one level deep (holder
certificate directly under a self-signed root, jpki-card.md §6), and every
root generation shares one DN, so the issuer is found by trying each
configured root's signature, not by name. Revocation is a separate step
(``verifier.revocation``) so its source can be recorded.

Why credential kinds here: smartphone certificates chain to CAs of their
own (``verifier.credentials``), kept in sub-folders of the trust folder
(``mobile/``, and ``android/`` / ``iphone/`` where a PKI splits them), each
laid out like the folder itself. Which root signed a certificate is already
found here, so its kind comes with it, for free and from nothing the
terminal said.

Why a cache: a terminal population presents the same few thousand
certificates again and again, and the issuer signature check is an RSA
verification per call. What depends only on the DER bytes and the fixed
roots (parse, key type, which root signed it) is remembered per DER for
certificates that chain to a root (junk is not remembered, so it cannot evict
them); validity is checked against ``now`` on every call.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from verifier.codes import Reason
from verifier.credentials import CredentialKind
from verifier.errors import ConfigError

__all__ = [
    "CACHE_ENTRIES",
    "KINDS",
    "MAX_CERTIFICATE_BYTES",
    "PHONE_FOLDERS",
    "REVOCATION_KEYS",
    "BasicFour",
    "CertificateCheck",
    "TrustStore",
    "basic_four",
    "parse_revocation_key",
    "revocation_key",
    "verify_signature",
]

_log = logging.getLogger(__name__)

#: The two JPKI certificate kinds, as named in files and configuration.
KINDS: Final = ("auth", "sign")
#: Trust sub-folders of smartphone CAs and the kind their certificates are.
PHONE_FOLDERS: Final = {
    "mobile": CredentialKind.MOBILE,
    "android": CredentialKind.ANDROID,
    "iphone": CredentialKind.IPHONE,
}


def revocation_key(kind: str, credential: CredentialKind = CredentialKind.CARD) -> str:
    """How configuration names the CRLs and OCSP responder of ``kind`` CAs of ``credential``.

    ``auth`` and ``sign`` for cards; ``mobile-auth``, ``android-sign``... for
    phones, as the test PKI names its mobile CRLs (``…/mobile-auth.crl``).
    """
    return kind if credential is CredentialKind.CARD else f"{credential.value}-{kind}"


#: Every name ``revocation_key`` gives (the keys ``[revocation]`` accepts).
REVOCATION_KEYS: Final = frozenset(
    revocation_key(kind, credential) for kind in KINDS for credential in CredentialKind
)


def parse_revocation_key(key: str) -> tuple[str, CredentialKind]:
    """The inverse of ``revocation_key``.

    Raises:
        ValueError: not one of ``REVOCATION_KEYS``.
    """
    if key in KINDS:
        return key, CredentialKind.CARD
    credential, _, kind = key.partition("-")
    if key not in REVOCATION_KEYS:
        raise ValueError(f"unknown revocation key {key!r}")
    return kind, CredentialKind(credential)


#: Real holder certificates are about 1.6-2 KiB (§6); anything past this is refused.
MAX_CERTIFICATE_BYTES: Final = 8192
#: How many checked certificates ``TrustStore`` remembers (least recently used goes).
CACHE_ENTRIES: Final = 4096

# subjectAltName otherName ids of the basic four items (jpki-card.md §6).
_OID_NAME: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.1")
_OID_GENDER: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.3")
_OID_BIRTH: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.4")
_OID_ADDRESS: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.5")


@dataclass(frozen=True)
class CertificateCheck:
    """Result of checking a holder certificate (without revocation).

    ``reason`` is ``Reason.OK`` or a ``Reason.CERTIFICATE_...``; ``credential``
    is the issuing root's kind, None when no root signed it.
    """

    reason: Reason
    certificate: x509.Certificate | None = None
    issuer: x509.Certificate | None = None
    credential: CredentialKind | None = None

    @property
    def serial_hex(self) -> str:
        """Uppercase hex serial, or empty when the certificate did not parse."""
        return "" if self.certificate is None else format(self.certificate.serial_number, "X")


@dataclass(frozen=True)
class BasicFour:
    """Name, address, birth date and gender from a signing certificate."""

    name: str
    address: str
    birth_date: str
    gender: str

    def __repr__(self) -> str:
        # Personal data stays out of reprs and logs (STYLE §7).
        return "BasicFour(<redacted>)"


class TrustStore:
    """The configured root certificates per kind (all generations), cards' and phones'."""

    def __init__(
        self,
        roots: Mapping[str, Sequence[x509.Certificate]],
        phones: Mapping[CredentialKind, Mapping[str, Sequence[x509.Certificate]]] | None = None,
    ) -> None:
        """``roots``: the card CAs per kind; ``phones``: smartphone CAs per credential kind."""
        families = {CredentialKind.CARD: roots, **(phones or {})}
        # kind -> ((credential kind, root), ...), cards first.
        self._tagged = {
            kind: tuple(
                (credential, root)
                for credential, by_kind in families.items()
                for root in by_kind.get(kind, ())
            )
            for kind in KINDS
        }
        self._roots = {kind: tuple(root for _, root in self._tagged[kind]) for kind in KINDS}
        # (kind, DER) -> the time-independent part of ``check``.
        self._cache: OrderedDict[tuple[str, bytes], CertificateCheck] = OrderedDict()
        self._cache_lock = threading.Lock()

    @classmethod
    def from_folder(cls, folder: Path) -> TrustStore:
        """Load ``auth-ca*.pem`` and ``sign-ca*.pem`` (one or more certificates each).

        Each ``PHONE_FOLDERS`` sub-folder that exists holds a phone family's
        CAs, laid out the same way (``mobile/auth-ca.pem``...).

        Raises:
            ConfigError: a kind has no readable root certificate.
        """
        phones = {
            credential: _load_roots(folder / name)
            for name, credential in PHONE_FOLDERS.items()
            if (folder / name).is_dir()
        }
        return cls(_load_roots(folder), phones)

    def roots(self, kind: str) -> tuple[x509.Certificate, ...]:
        """The roots of ``kind``, of every credential kind."""
        return self._roots[kind]

    def roots_of(self, kind: str, credential: CredentialKind) -> tuple[x509.Certificate, ...]:
        """The roots of ``kind`` whose certificates are ``credential``s."""
        return tuple(root for tag, root in self._tagged[kind] if tag is credential)

    def credentials(self) -> frozenset[CredentialKind]:
        """The credential kinds with a root of some kind."""
        return frozenset(tag for tagged in self._tagged.values() for tag, _ in tagged)

    def check(self, kind: str, der: bytes, now: dt.datetime) -> CertificateCheck:
        """Parse ``der`` and check issuer signature and validity at ``now``."""
        if not der or len(der) > MAX_CERTIFICATE_BYTES:
            return CertificateCheck(Reason.CERTIFICATE_MALFORMED)
        key = (kind, der)
        with self._cache_lock:
            static = self._cache.get(key)
            if static is not None:
                self._cache.move_to_end(key)
        if static is None:
            static = self._check_static(kind, der)
            if static.reason is Reason.OK:  # junk must not evict real certificates
                with self._cache_lock:
                    self._cache[key] = static
                    if len(self._cache) > CACHE_ENTRIES:
                        self._cache.popitem(last=False)
        certificate, issuer = static.certificate, static.issuer
        if static.reason is not Reason.OK or certificate is None or issuer is None:
            return static
        if now < certificate.not_valid_before_utc or now < issuer.not_valid_before_utc:
            return dataclasses.replace(static, reason=Reason.CERTIFICATE_NOT_YET_VALID)
        if now > certificate.not_valid_after_utc or now > issuer.not_valid_after_utc:
            return dataclasses.replace(static, reason=Reason.CERTIFICATE_EXPIRED)
        return static

    def _check_static(self, kind: str, der: bytes) -> CertificateCheck:
        """What does not depend on the time: parse, key type, issuing root."""
        try:
            certificate = x509.load_der_x509_certificate(der)
            certificate.public_key()
            # Parsed lazily, so a damaged name or time raises on first use: use
            # them here, once (a bad issuer DN crashed the check; fuzz, issue 15).
            _ = (certificate.issuer, certificate.subject, certificate.serial_number)
            _ = (certificate.not_valid_before_utc, certificate.not_valid_after_utc)
        except (ValueError, TypeError, x509.InvalidVersion, UnsupportedAlgorithm):
            # InvalidVersion and UnsupportedAlgorithm (a damaged key) are no ValueError.
            return CertificateCheck(Reason.CERTIFICATE_MALFORMED)
        if not isinstance(certificate.public_key(), rsa.RSAPublicKey):
            return CertificateCheck(Reason.CERTIFICATE_MALFORMED, certificate)
        found = self._issuer(kind, certificate)
        if found is None:
            return CertificateCheck(Reason.CERTIFICATE_UNTRUSTED, certificate)
        credential, issuer = found
        return CertificateCheck(Reason.OK, certificate, issuer, credential)

    def _issuer(
        self, kind: str, certificate: x509.Certificate
    ) -> tuple[CredentialKind, x509.Certificate] | None:
        for credential, root in self._tagged[kind]:
            if certificate.issuer != root.subject:
                continue
            try:
                certificate.verify_directly_issued_by(root)
            except (InvalidSignature, ValueError, TypeError):
                continue
            return credential, root
        return None


def _load_roots(folder: Path) -> dict[str, list[x509.Certificate]]:
    """``<kind>-ca*.pem`` of every kind in ``folder``; ConfigError if a kind has none."""
    roots: dict[str, list[x509.Certificate]] = {}
    for kind in KINDS:
        found: list[x509.Certificate] = []
        for path in sorted(folder.glob(f"{kind}-ca*.pem")):
            try:
                found.extend(x509.load_pem_x509_certificates(path.read_bytes()))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"cannot load CA certificate {path}: {exc}") from exc
        if not found:
            raise ConfigError(f"no {kind}-ca*.pem in trust folder {folder}")
        roots[kind] = found
    return roots


def verify_signature(certificate: x509.Certificate, digest: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is RSASSA-PKCS1-v1_5 over the SHA-256 ``digest``."""
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or len(signature) != key.key_size // 8:
        return False
    try:
        key.verify(signature, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def _other_name_text(value: bytes) -> str | None:
    # otherName value is [0] EXPLICIT { UTF8String } in DER; cryptography hands
    # us the inner encoding. Accept short and long definite lengths only.
    if len(value) < 2 or value[0] != 0x0C:
        return None
    length, offset = value[1], 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 2 or len(value) < 2 + count:
            return None
        length, offset = int.from_bytes(value[2 : 2 + count], "big"), 2 + count
    body = value[offset:]
    if len(body) != length:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def basic_four(certificate: x509.Certificate) -> BasicFour | None:
    """The basic four items from a signing certificate's SAN, or None if absent."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    values: dict[x509.ObjectIdentifier, str] = {}
    for name in san.value.get_values_for_type(x509.OtherName):
        text = _other_name_text(name.value)
        if text is not None:
            values.setdefault(name.type_id, text)
    wanted = (_OID_NAME, _OID_ADDRESS, _OID_BIRTH, _OID_GENDER)
    if not all(oid in values for oid in wanted):
        return None
    return BasicFour(
        name=values[_OID_NAME],
        address=values[_OID_ADDRESS],
        birth_date=values[_OID_BIRTH],
        gender=values[_OID_GENDER],
    )
