# SPDX-License-Identifier: Apache-2.0
"""What every domain module shares: the clock, the trust store, card proofs, the audit log.

Why separate from the gRPC glue: the checks here are plain functions of
(certificate, signature, digest, time), so ``sessions``, ``readings``,
``resets``, ``transfers`` and the unit tests use them without a server.
Reasons are ``verifier.codes.Reason`` members; nothing here sees a proto.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from verifier.codes import AuditAction, Reason, RevocationSource, RevocationStatus
from verifier.config import VerifierConfig
from verifier.credentials import CredentialKind, Operation
from verifier.pki import TrustStore, revocation_key, verify_signature
from verifier.revocation import RevocationAnswer, RevocationChecker
from verifier.storage import AuditEntry, Storage, Transaction

__all__ = [
    "Core",
    "ProofResult",
    "fingerprint",
    "from_us",
    "new_id",
    "to_us",
]

_log = logging.getLogger(__name__)


def to_us(moment: dt.datetime) -> int:
    """Microseconds since the epoch (how storage keeps time)."""
    return int(moment.timestamp() * 1_000_000)


def from_us(value: int) -> dt.datetime:
    """The inverse of ``to_us``, UTC."""
    return dt.datetime.fromtimestamp(value / 1_000_000, dt.UTC)


def new_id(prefix: str) -> str:
    """A fresh unguessable id such as ``aut_3q...``: 128 bits, URL-safe."""
    return f"{prefix}_{secrets.token_urlsafe(16)}"


@dataclass(frozen=True)
class ProofResult:
    """A checked card proof: ``reason`` OK or why not, plus what was learned.

    ``credential``: what carries it, from the issuing CA (None: no root signed it).
    """

    reason: Reason
    serial_hex: str = ""
    source: RevocationSource = RevocationSource.NONE
    certificate: x509.Certificate | None = None
    credential: CredentialKind | None = None

    @property
    def accepted(self) -> bool:
        """Whether the proof passed every check."""
        return self.reason is Reason.OK


@dataclass
class Core:
    """The service's shared dependencies and checks."""

    config: VerifierConfig
    trust: TrustStore
    revocation: RevocationChecker
    storage: Storage
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    issuer_master_key: bytes | None = None
    face_provider_key: rsa.RSAPublicKey | None = None

    def now(self) -> dt.datetime:
        """The current time (injectable for tests)."""
        return self.clock()

    def check_proof(
        self, kind: str, certificate_der: bytes, signature: bytes, digest: bytes, now: dt.datetime
    ) -> ProofResult:
        """Chain, validity, revocation, then the signature over ``digest``."""
        return self.finish_proof(
            self.check_certificate(kind, certificate_der, now), digest, signature
        )

    def check_certificate(self, kind: str, certificate_der: bytes, now: dt.datetime) -> ProofResult:
        """Chain, validity and revocation (may go to the network for revocation)."""
        result = self._check_certificate(kind, certificate_der, now, allow_io=True)
        assert result is not None  # with I/O allowed there is always an answer
        return result

    def check_certificate_cached(
        self, kind: str, certificate_der: bytes, now: dt.datetime
    ) -> ProofResult | None:
        """``check_certificate`` if it needs no I/O (cheap: fit for the event loop), else None."""
        return self._check_certificate(kind, certificate_der, now, allow_io=False)

    def _check_certificate(
        self, kind: str, certificate_der: bytes, now: dt.datetime, *, allow_io: bool
    ) -> ProofResult | None:
        check = self.trust.check(kind, certificate_der, now)
        if check.reason is not Reason.OK or check.certificate is None:
            return ProofResult(
                check.reason,
                check.serial_hex,
                certificate=check.certificate,
                credential=check.credential,
            )
        serial = check.certificate.serial_number
        # The issuing CA's own CRLs and responder (a phone's are not the card's).
        key = revocation_key(kind, check.credential or CredentialKind.CARD)
        answer = self.revocation.peek(key, serial, now)
        if answer is None:
            if not allow_io:
                return None
            answer = self.revocation.status(key, serial, now)
        result = self._with_revocation(check.serial_hex, check.certificate, answer)
        return dataclasses.replace(result, credential=check.credential)

    @staticmethod
    def _with_revocation(
        serial_hex: str, certificate: x509.Certificate, answer: RevocationAnswer
    ) -> ProofResult:
        source = answer.source
        if answer.status is RevocationStatus.REVOKED:
            return ProofResult(Reason.CERTIFICATE_REVOKED, serial_hex, source, certificate)
        if answer.status is not RevocationStatus.GOOD:
            return ProofResult(Reason.REVOCATION_UNKNOWN, serial_hex, source, certificate)
        # Not yet proven: the signature is still to be checked (finish_proof).
        return ProofResult(Reason.OK, serial_hex, source, certificate)

    def screen(self, operation: Operation, checked: ProofResult) -> ProofResult:
        """``checked`` refused with CREDENTIAL_NOT_ALLOWED when ``operation`` does not take it.

        Applies once the certificate chained to a root (its kind is known),
        whatever its validity or revocation: the policy is the clearer answer
        ("not with a phone") and stays true tomorrow. A certificate that did
        not chain is left as it is (``verifier.credentials``, issue 15).
        """
        kind = checked.credential
        if kind is None or self.config.credentials.allows(operation, kind):
            return checked
        return dataclasses.replace(checked, reason=Reason.CREDENTIAL_NOT_ALLOWED)

    @staticmethod
    def finish_proof(checked: ProofResult, digest: bytes, signature: bytes) -> ProofResult:
        """A checked certificate plus its signature over ``digest``: the proof's verdict."""
        if not checked.accepted or checked.certificate is None:
            return checked
        if not verify_signature(checked.certificate, digest, signature):
            return dataclasses.replace(checked, reason=Reason.SIGNATURE_INVALID)
        return checked

    def audit(
        self,
        tx: Transaction,
        action: AuditAction,
        reason: Reason,
        *,
        terminal_id: str,
        serial: str = "",
        subject_id: str = "",
        card_id: str = "",
        credential: CredentialKind | None = None,
        claimed: CredentialKind | None = None,
    ) -> None:
        """Append a decision to the audit log (never secrets, never personal data).

        ``card_id``: hex of the issuer card id a reset authorisation is for.
        ``credential``: what carries the certificate, from its CA; ``claimed``:
        what the terminal said it detected (kept apart, never trusted).
        """
        verdict = reason.verdict
        entry = AuditEntry(
            at_us=to_us(self.now()),
            terminal_id=terminal_id,
            action=action.value,
            verdict=verdict.value,
            reason=reason.value,
            certificate_serial=serial,
            subject_id=subject_id,
            card_id=card_id,
            credential_kind=credential.value if credential is not None else "",
            credential_claim=claimed.value if claimed is not None else "",
        )
        tx.append_audit(entry)
        suffix = f" card {card_id}" if card_id else ""
        _log.info("%s %s by %s: %s %s%s", action, verdict, terminal_id, reason, serial, suffix)


def fingerprint(certificate_der: bytes) -> bytes:
    """SHA-256 of a DER certificate: how a reservation names its card."""
    return hashlib.sha256(certificate_der).digest()
