# SPDX-License-Identifier: Apache-2.0
"""Revocation status from OCSP (preferred) and CRLs (fallback).

Why both: the national CRL is published daily and lags by minutes, so
verifiers that need same-day status use OCSP (terminal-conventions §5,
jpki-card.md §8.2); the CRL is what remains when the responder is down. The
answer records which source decided, because a signing certificate is
revoked when the holder moves and disputes ask "what did you know, when".

* CRLs are loaded from files or ``http(s)://`` URLs, verified against the
  kind's roots, and refreshed every ``crl_refresh_seconds`` or when past
  nextUpdate. A CRL that fails to load or verify is rejected and the
  previous good one kept. A CRL past its nextUpdate is stale: it answers
  nothing (status UNKNOWN, which the service treats as a rejection).
* OCSP responses are verified (signed by the root itself or by a responder
  certificate the root issued with the OCSP-signing EKU, for our serial) and
  cached until their nextUpdate.
* ``RevocationChecker.peek`` answers without I/O and without scanning a CRL
  when the answer is already known (an OCSP answer cached until its
  nextUpdate, or the answer ``lookup`` gave for the serial from CRLs that are
  still current: remembered until a refresh is due or nextUpdate passes), so
  the service decides on its event loop and goes to a worker thread only
  when a download or a CRL scan may be needed. It returns exactly what
  ``status`` would return at that moment, or None.
* Smartphone certificates (issue 15) come from CAs of their own, with their
  own CRLs and responders. Every lookup names the issuing CAs by a
  revocation key (``verifier.pki.revocation_key``: ``auth``, ``sign`` for
  cards, ``mobile-auth``... for phones): a CRL answers only for its own
  CAs' certificates (a lost phone's serial on the mobile CRL leaves the
  holder's card alone), and OCSP asks the responder configured for that key.
  The CRLs of one certificate kind (card and phone CAs alike) are loaded and
  refreshed together, under the kind.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from verifier.codes import RevocationSource, RevocationStatus
from verifier.pki import KINDS, TrustStore, parse_revocation_key

__all__ = ["CrlStore", "OcspClient", "RevocationAnswer", "RevocationChecker", "fetch_bytes"]

_log = logging.getLogger(__name__)

#: Largest CRL or OCSP response accepted (a national CRL is large, but bounded).
_MAX_DOWNLOAD: Final = 64 * 1024 * 1024
_CLOCK_SKEW: Final = dt.timedelta(minutes=5)
#: Per-serial CRL answers remembered per kind before the memo starts over.
_MAX_REMEMBERED: Final = 65536


@dataclass(frozen=True)
class RevocationAnswer:
    """One revocation status: ``status`` is GOOD, REVOKED or UNKNOWN; ``source`` OCSP/CRL."""

    status: RevocationStatus
    source: RevocationSource = RevocationSource.NONE
    revocation_time: dt.datetime | None = None
    checked_time: dt.datetime | None = None


UNKNOWN: Final = RevocationAnswer(RevocationStatus.UNKNOWN)


def fetch_bytes(source: str, timeout: float, body: bytes | None = None) -> bytes:
    """Read a file path, or GET/POST an ``http(s)://`` URL.

    Raises:
        OSError: unreadable, unreachable, too large or an unsupported scheme.
    """
    if "://" not in source:
        data = Path(source).read_bytes()
    else:
        if not source.startswith(("http://", "https://")):
            raise OSError(f"unsupported revocation URL scheme: {source}")
        headers = {"Content-Type": "application/ocsp-request"} if body is not None else {}
        request = urllib.request.Request(source, data=body, headers=headers)  # noqa: S310
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            data = response.read(_MAX_DOWNLOAD + 1)
    if len(data) > _MAX_DOWNLOAD:
        raise OSError(f"{source}: larger than {_MAX_DOWNLOAD} bytes")
    return bytes(data)


def _signed_by(crl: x509.CertificateRevocationList, root: x509.Certificate) -> bool:
    key = root.public_key()
    return (
        crl.issuer == root.subject
        and isinstance(key, rsa.RSAPublicKey)
        and crl.is_signature_valid(key)
    )


class CrlStore:
    """The newest good CRL of each kind, refreshed from its sources."""

    def __init__(
        self,
        trust: TrustStore,
        sources: Mapping[str, tuple[str, ...]],
        *,
        refresh_seconds: float,
        timeout: float = 5.0,
        fetch: Callable[[str, float], bytes] = fetch_bytes,
    ) -> None:
        self._trust = trust
        self._sources = {kind: tuple(sources.get(kind, ())) for kind in KINDS}
        self._refresh = dt.timedelta(seconds=refresh_seconds)
        self._timeout = timeout
        self._fetch = fetch
        self._crls: dict[str, list[x509.CertificateRevocationList]] = {k: [] for k in KINDS}
        self._loaded_at: dict[str, dt.datetime] = {}
        # Per kind: until when the current CRLs answer without a refresh, and
        # the answers given so far (cleared whenever the CRLs change).
        self._valid_until: dict[str, dt.datetime] = {}
        # Per kind, by (revocation key, serial).
        self._answers: dict[str, dict[tuple[str, int], RevocationAnswer]] = {k: {} for k in KINDS}
        self._generation: dict[str, int] = dict.fromkeys(KINDS, 0)
        self._lock = threading.Lock()

    def refresh(self, kind: str, now: dt.datetime) -> None:
        """Reload every source of ``kind``; keep the old CRL where a new one fails."""
        fresh: list[x509.CertificateRevocationList] = []
        for source in self._sources[kind]:
            try:
                crl = x509.load_der_x509_crl(self._fetch(source, self._timeout))
            except (OSError, ValueError) as exc:
                _log.warning("CRL %s not loaded: %s", source, exc)
                continue
            if not any(_signed_by(crl, root) for root in self._trust.roots(kind)):
                _log.warning("CRL %s rejected: not signed by a %s root", source, kind)
                continue
            if crl.last_update_utc > now + _CLOCK_SKEW:
                _log.warning("CRL %s rejected: issued in the future", source)
                continue
            fresh.append(crl)
        with self._lock:
            previous = self._crls[kind]
            # Per issuer, keep the newer of old and new (a replayed older CRL loses).
            merged = {crl.issuer.public_bytes(): crl for crl in previous}
            for crl in fresh:
                key = crl.issuer.public_bytes()
                old = merged.get(key)
                if old is None or crl.last_update_utc >= old.last_update_utc:
                    merged[key] = crl
            self._crls[kind] = list(merged.values())
            self._loaded_at[kind] = now
            self._answers[kind] = {}
            self._generation[kind] += 1
            updates = [c.next_update_utc for c in self._crls[kind]]
            until = now + self._refresh
            if all(u is not None for u in updates) and updates:
                until = min(until, *(u for u in updates if u is not None))
            else:
                until = now  # something is stale or missing: nothing may be remembered
            self._valid_until[kind] = until

    def _current(self, kind: str, now: dt.datetime) -> bool:
        # Under the lock: the CRLs answer at ``now`` without a refresh.
        until = self._valid_until.get(kind)
        loaded = self._loaded_at.get(kind)
        return until is not None and loaded is not None and loaded <= now < until

    def _issuers(self, key: str) -> tuple[str, frozenset[bytes]]:
        """The certificate kind of revocation ``key`` and its CAs' DNs (DER)."""
        kind, credential = parse_revocation_key(key)
        roots = self._trust.roots_of(kind, credential)
        return kind, frozenset(root.subject.public_bytes() for root in roots)

    def peek(self, key: str, serial: int, now: dt.datetime) -> RevocationAnswer | None:
        """The answer ``lookup`` gave for ``serial`` from the current CRLs, if still current.

        No I/O and no scan of the CRL (which may be large): fit for the event
        loop. None when nothing is remembered or a refresh is due.
        """
        kind, _ = parse_revocation_key(key)
        with self._lock:
            if not self._current(kind, now):
                return None
            return self._answers[kind].get((key, serial))

    def lookup(self, key: str, serial: int, now: dt.datetime) -> RevocationAnswer:
        """Status of ``serial`` from the current CRLs of revocation ``key``'s CAs.

        UNKNOWN if none of those CAs has a fresh CRL. Why by issuer: card and
        phone CAs number their own certificates, so a serial on the card CRL
        says nothing about a phone certificate.
        """
        known = self.peek(key, serial, now)
        if known is not None:
            return known
        kind, names = self._issuers(key)
        with self._lock:
            loaded = self._loaded_at.get(kind)
            crls, generation = list(self._crls[kind]), self._generation[kind]
        due = loaded is None or now - loaded >= self._refresh
        if due or any(crl.next_update_utc is None or crl.next_update_utc < now for crl in crls):
            self.refresh(kind, now)
            with self._lock:
                crls, generation = list(self._crls[kind]), self._generation[kind]
        mine = [crl for crl in crls if crl.issuer.public_bytes() in names]
        answer = _crl_answer(mine, serial, now)
        with self._lock:
            # Remember it only for the CRLs it was computed from, while they are current.
            if self._generation[kind] == generation and self._current(kind, now):
                answers = self._answers[kind]
                if len(answers) >= _MAX_REMEMBERED:
                    answers.clear()
                answers[(key, serial)] = answer
        return answer


def _crl_answer(
    crls: list[x509.CertificateRevocationList], serial: int, now: dt.datetime
) -> RevocationAnswer:
    fresh = [c for c in crls if c.next_update_utc is not None and c.next_update_utc >= now]
    if not fresh:
        return UNKNOWN
    for crl in fresh:
        entry = crl.get_revoked_certificate_by_serial_number(serial)
        if entry is not None:
            return RevocationAnswer(
                RevocationStatus.REVOKED,
                RevocationSource.CRL,
                entry.revocation_date_utc,
                crl.last_update_utc,
            )
    return RevocationAnswer(
        RevocationStatus.GOOD, RevocationSource.CRL, None, max(c.last_update_utc for c in fresh)
    )


class OcspClient:
    """Verified, cached OCSP lookups against the configured responders.

    ``urls`` is keyed by ``verifier.pki.revocation_key``: ``auth``/``sign`` for
    the card CAs, ``mobile-auth``... for the phones' (their own responders).
    """

    def __init__(
        self,
        trust: TrustStore,
        urls: Mapping[str, str],
        *,
        timeout: float,
        post: Callable[[str, float, bytes], bytes] = fetch_bytes,
    ) -> None:
        self._trust = trust
        self._urls = dict(urls)
        self._timeout = timeout
        self._post = post
        self._cache: dict[tuple[str, int], tuple[dt.datetime, RevocationAnswer]] = {}  # by key
        self._lock = threading.Lock()

    def configured(self, key: str) -> bool:
        """Whether revocation ``key`` (``auth``, ``mobile-sign``...) has a responder."""
        return key in self._urls

    def cached(self, key: str, serial: int, now: dt.datetime) -> RevocationAnswer | None:
        """The answer cached for ``serial`` if still before its nextUpdate (no I/O)."""
        with self._lock:
            cached = self._cache.get((key, serial))
        if cached is not None and cached[0] >= now:
            return cached[1]
        return None

    def lookup(self, key: str, serial: int, now: dt.datetime) -> RevocationAnswer:
        """Status of ``serial``; UNKNOWN when the responder fails or cannot be trusted.

        Only ``key``'s CAs are asked about, at ``key``'s responder: a card
        responder never vouches for a phone certificate.
        """
        cached = self.cached(key, serial, now)
        if cached is not None:
            return cached
        url = self._urls.get(key)
        if url is None:
            return UNKNOWN
        kind, credential = parse_revocation_key(key)
        for root in self._trust.roots_of(kind, credential):
            answer, until = self._ask(url, root, serial, now)
            if answer.status is not RevocationStatus.UNKNOWN:
                if until is not None:
                    with self._lock:
                        self._cache[(key, serial)] = (until, answer)
                return answer
        return UNKNOWN

    def _ask(
        self, url: str, root: x509.Certificate, serial: int, now: dt.datetime
    ) -> tuple[RevocationAnswer, dt.datetime | None]:
        name_hash = _sha1(root.subject.public_bytes())
        key_hash = _sha1(_key_bits(root))
        request = (
            ocsp.OCSPRequestBuilder()
            .add_certificate_by_hash(name_hash, key_hash, serial, hashes.SHA1())  # noqa: S303
            .build()
        )
        try:
            raw = self._post(url, self._timeout, request.public_bytes(serialization.Encoding.DER))
            response = ocsp.load_der_ocsp_response(raw)
        except (OSError, ValueError) as exc:
            _log.warning("OCSP %s failed: %s", url, exc)
            return UNKNOWN, None
        if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            return UNKNOWN, None
        if not _trusted_response(response, root, now):
            _log.warning("OCSP response from %s rejected: bad signature or responder", url)
            return UNKNOWN, None
        for single in response.responses:
            if (
                single.serial_number != serial
                or single.issuer_name_hash != name_hash
                or single.issuer_key_hash != key_hash
            ):
                continue
            if single.this_update_utc > now + _CLOCK_SKEW:
                return UNKNOWN, None
            until = single.next_update_utc
            if until is not None and until < now:
                return UNKNOWN, None
            if single.certificate_status is ocsp.OCSPCertStatus.GOOD:
                return RevocationAnswer(
                    RevocationStatus.GOOD, RevocationSource.OCSP, None, single.this_update_utc
                ), until
            if single.certificate_status is ocsp.OCSPCertStatus.REVOKED:
                when = single.revocation_time_utc
                return RevocationAnswer(
                    RevocationStatus.REVOKED, RevocationSource.OCSP, when, single.this_update_utc
                ), until
        return UNKNOWN, None


def _sha1(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SHA1())  # noqa: S303 - OCSP CertID uses SHA-1 (RFC 6960)
    digest.update(data)
    return digest.finalize()


def _key_bits(certificate: x509.Certificate) -> bytes:
    # CertID's issuerKeyHash covers the subjectPublicKey BIT STRING value only,
    # which for RSA is the PKCS#1 RSAPublicKey encoding.
    return certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )


def _verify(certificate: x509.Certificate, signature: bytes, data: bytes) -> bool:
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def _trusted_response(
    response: ocsp.OCSPResponse, root: x509.Certificate, now: dt.datetime
) -> bool:
    if response.signature_hash_algorithm is None or not isinstance(
        response.signature_hash_algorithm, hashes.SHA256
    ):
        return False
    signer = root
    if response.certificates:
        # A delegated responder: issued by the root, OCSP-signing EKU, valid now.
        delegate = response.certificates[0]
        try:
            delegate.verify_directly_issued_by(root)
            eku = delegate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (InvalidSignature, ValueError, TypeError, x509.ExtensionNotFound):
            return False
        if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            return False
        if not delegate.not_valid_before_utc <= now <= delegate.not_valid_after_utc:
            return False
        signer = delegate
    return _verify(signer, response.signature, response.tbs_response_bytes)


class RevocationChecker:
    """OCSP first where configured, then the CRL; records which source answered."""

    def __init__(self, crls: CrlStore, ocsp_client: OcspClient) -> None:
        self.crls = crls
        self.ocsp = ocsp_client

    def peek(self, kind: str, serial: int, now: dt.datetime) -> RevocationAnswer | None:
        """What ``status`` would answer now when that needs no I/O, else None.

        ``kind`` is a revocation key (``verifier.pki.revocation_key``).
        """
        if self.ocsp.configured(kind):
            # Only a cached OCSP answer is known without asking; a responder
            # that does not answer means a round trip and then the CRL.
            return self.ocsp.cached(kind, serial, now)
        return self.crls.peek(kind, serial, now)

    def status(self, kind: str, serial: int, now: dt.datetime) -> RevocationAnswer:
        """The revocation status of ``serial`` under the CAs of revocation key ``kind``.

        ``auth``/``sign``: the card CAs; ``mobile-auth``...: a phone family's.
        """
        if self.ocsp.configured(kind):
            answer = self.ocsp.lookup(kind, serial, now)
            if answer.status is not RevocationStatus.UNKNOWN:
                return answer
            _log.info("OCSP gave no answer for a %s certificate; falling back to the CRL", kind)
        return self.crls.lookup(kind, serial, now)
