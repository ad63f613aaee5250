# SPDX-License-Identifier: Apache-2.0
"""The centre (証明書交付センター): sessions, the card's proof, service hours, audit.

Why here and not in the servicer (STYLE §11): every rule is a function of
``Core`` (clock, trust, revocation, storage), so the unit tests call it with
no server. The rules: a session serves the terminal that opened it, and only
after the card signed its nonce with the user-authentication key (chain,
revocation and signature checked as VerifyCard does); the nonce is
single-use, a bad proof burns it; outside the service hours nothing opens.
What a proven session may then ask (one document, exactly once) is
``verifier.issuance_requests``.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.serialization import Encoding

from verifier.codes import CertKind, ErrorReason, Reason
from verifier.core import Core, ProofResult, fingerprint, new_id, to_us
from verifier.credentials import CredentialKind, Operation
from verifier.errors import (
    RequestError,
)
from verifier.issuance_codes import (
    ErrorText,
    IssuanceAction,
    IssuanceRefusal,
    IssuanceState,
    OutboxAction,
)
from verifier.issuance_config import IssuanceConfig
from verifier.issuance_port import (
    in_service_hours,
)
from verifier.storage import AuditEntry, Transaction
from verifier.storage.issuance import (
    IssuanceSession,
)

__all__ = [
    "NONCE_BYTES",
    "PROOF_KIND",
    "Opened",
    "ProveOutcome",
    "audit",
    "centre_config",
    "challenge_digest",
    "open_session",
    "prove_card",
    "proven_session",
    "refusal_error",
    "session_refusal",
]

_log = logging.getLogger(__name__)

NONCE_BYTES = 32
_ACCEPTED = frozenset({"OK", *IssuanceState, *OutboxAction})
#: The certificate the card proves with (the signing certificate is not used).
PROOF_KIND = CertKind.AUTH


def challenge_digest(nonce: bytes) -> bytes:
    """What the card signs (RSASSA-PKCS1-v1_5, SHA-256): the digest of the nonce itself.

    The issuance proto says the card signs exactly the nonce; the session
    binds it to one terminal in storage, and a VerifierService challenge
    (whose digest covers a labelled canonical encoding) can never equal it.
    """
    return hashlib.sha256(nonce).digest()


def refusal_error(cls: type[RequestError], text: ErrorText, message: str) -> RequestError:
    """A ``cls`` error whose ``ErrorInfo.reason`` is ``text`` (the issuance RPCs' own reasons)."""
    error = cls(ErrorReason.FIELD_INVALID, message)
    error.reason = text.value
    return error


def audit(
    core: Core,
    tx: Transaction,
    action: IssuanceAction,
    reason: str,
    *,
    terminal_id: str,
    serial: str = "",
    subject_id: str = "",
    credential: CredentialKind | None = None,
) -> None:
    """Append an issuance decision to the audit log (serials and ids only, never a document).

    ``credential``: what carries the proving certificate, from its CA (issue 15).
    """
    # Accepted: OK, a state reached, a duty delivered; anything else is a refusal.
    verdict = "ACCEPTED" if reason in _ACCEPTED else "REJECTED"
    tx.append_audit(
        AuditEntry(
            at_us=to_us(core.now()),
            terminal_id=terminal_id,
            action=action.value,
            verdict=verdict,
            reason=reason,
            certificate_serial=serial,
            subject_id=subject_id,
            credential_kind=credential.value if credential is not None else "",
        )
    )
    _log.info("%s %s by %s: %s %s %s", action, verdict, terminal_id, reason, serial, subject_id)


# -- sessions and the card's proof -------------------------------------------------
@dataclass(frozen=True)
class Opened:
    """OpenIssuanceSession's answer."""

    refusal: IssuanceRefusal
    session: IssuanceSession | None = None


def open_session(core: Core, tx: Transaction, terminal_id: str) -> Opened:
    """A fresh session with a single-use nonce, or OUTSIDE_SERVICE_HOURS."""
    now = core.now()
    if not _open_now(core):
        return Opened(IssuanceRefusal.OUTSIDE_SERVICE_HOURS)
    ttl_us = int(core.config.policy.nonce_ttl_seconds * 1_000_000)
    session = IssuanceSession(
        session_id=new_id("iss"),
        terminal_id=terminal_id,
        nonce=secrets.token_bytes(NONCE_BYTES),
        expires_us=to_us(now) + ttl_us,
    )
    tx.issuance.insert_session(session)
    audit(
        core,
        tx,
        IssuanceAction.OPEN_ISSUANCE_SESSION,
        "OK",
        terminal_id=terminal_id,
        subject_id=session.session_id,
    )
    return Opened(IssuanceRefusal.NONE, session)


@dataclass(frozen=True)
class ProveOutcome:
    """ProveIssuanceCard's answer: the refusal and, for a card, VerifyCard's reason."""

    refusal: IssuanceRefusal
    reason: Reason


def _nonce_reason(session: IssuanceSession | None, terminal_id: str, now_us: int) -> Reason:
    if session is None:
        return Reason.NONCE_UNKNOWN
    if session.terminal_id != terminal_id:
        return Reason.NONCE_OTHER_TERMINAL
    if session.used_us is not None:
        return Reason.NONCE_REPLAYED
    if session.expires_us <= now_us:
        return Reason.NONCE_EXPIRED
    return Reason.OK


def prove_card(
    core: Core,
    tx: Transaction,
    *,
    terminal_id: str,
    session_id: str,
    checked: ProofResult,
    signature: bytes,
) -> ProveOutcome:
    """Check the card's signature over the nonce; bind the card to the session, once.

    ``checked``: the authentication certificate's chain, validity and
    revocation (``Core.check_certificate``), done before the transaction.
    Another terminal's session is left untouched; a bad proof burns the nonce.
    """
    now_us = to_us(core.now())
    action = IssuanceAction.PROVE_ISSUANCE_CARD
    if not _open_now(core):
        return ProveOutcome(IssuanceRefusal.OUTSIDE_SERVICE_HOURS, Reason.OK)
    session = tx.issuance.get_session(session_id)
    reason = _nonce_reason(session, terminal_id, now_us)
    if reason is not Reason.OK or session is None:
        audit(core, tx, action, reason, terminal_id=terminal_id, subject_id=session_id)
        return ProveOutcome(IssuanceRefusal.SESSION_INVALID, reason)
    checked = core.screen(Operation.ISSUANCE, checked)  # issue 15
    proof = core.finish_proof(checked, challenge_digest(session.nonce), signature)
    if not proof.accepted or proof.certificate is None:
        tx.issuance.burn_session(session_id, now_us)
        audit(
            core,
            tx,
            action,
            proof.reason,
            terminal_id=terminal_id,
            serial=proof.serial_hex,
            subject_id=session_id,
            credential=proof.credential,
        )
        return ProveOutcome(IssuanceRefusal.CARD_REJECTED, proof.reason)
    der = proof.certificate.public_bytes(Encoding.DER)
    ttl_us = int(centre_config(core).session_ttl_seconds * 1_000_000)
    if not tx.issuance.prove_session(
        session_id,
        now_us=now_us,
        expires_us=now_us + ttl_us,
        certificate_der=der,
        fingerprint=fingerprint(der),
        serial=proof.serial_hex,
    ):
        return ProveOutcome(IssuanceRefusal.SESSION_INVALID, Reason.NONCE_REPLAYED)
    audit(
        core,
        tx,
        action,
        "OK",
        terminal_id=terminal_id,
        serial=proof.serial_hex,
        subject_id=session_id,
        credential=proof.credential,
    )
    return ProveOutcome(IssuanceRefusal.NONE, Reason.OK)


def _open_now(core: Core) -> bool:
    """Whether the centre is open now, on the hours clock (``IssuanceConfig.hours_clock``)."""
    config = core.config.issuance
    clock = config.hours_clock if config is not None and config.hours_clock else core.now
    return in_service_hours(clock(), config.service_hours if config is not None else None)


def centre_config(core: Core) -> IssuanceConfig:
    """The ``[issuance]`` section (RuntimeError when the centre role is not configured)."""
    config = core.config.issuance
    if config is None:
        raise RuntimeError("the centre role is not configured ([issuance])")
    return config


def session_refusal(
    session: IssuanceSession | None, terminal_id: str, now_us: int
) -> IssuanceRefusal:
    """Whether a proven session may serve this terminal now (NONE) or why not."""
    if (
        session is None
        or session.terminal_id != terminal_id
        or session.proven_us is None
        or session.certificate_der is None
        or session.expires_us <= now_us
    ):
        return IssuanceRefusal.SESSION_INVALID
    return IssuanceRefusal.NONE


def proven_session(
    core: Core, tx: Transaction, *, terminal_id: str, session_id: str
) -> tuple[IssuanceRefusal, IssuanceSession | None]:
    """The proven session for this terminal, or the refusal (hours first)."""
    if not _open_now(core):
        return IssuanceRefusal.OUTSIDE_SERVICE_HOURS, None
    session = tx.issuance.get_session(session_id)
    refusal = session_refusal(session, terminal_id, to_us(core.now()))
    return refusal, session if refusal is IssuanceRefusal.NONE else None
