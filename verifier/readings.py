# SPDX-License-Identifier: Apache-2.0
"""Reading a card: is it genuine and not revoked (VerifyCard), and a serial's revocation status.

Why apart from the servicer: the decision is the session rule plus the card
proof, recorded in the audit log in the caller's transaction; no gRPC type
is needed to make it, so the tests make it with a ``Core`` and storage.
A smartphone's certificate is read like a card's where the ``reading``
policy takes it (``verifier.credentials``); the audit entry names what
carried it, from its CA, beside what the terminal claimed.
"""

from __future__ import annotations

from dataclasses import dataclass

from verifier.codes import AuditAction, CertKind, Purpose, Reason, RevocationSource
from verifier.core import Core, ProofResult
from verifier.credentials import CredentialKind, Operation
from verifier.revocation import RevocationAnswer
from verifier.sessions import use_session
from verifier.storage import Transaction

__all__ = ["Reading", "revocation_status", "verify_card"]


@dataclass(frozen=True)
class Reading:
    """The verdict on one card: the reason, the certificate serial and who said it is live.

    ``credential``: what carries the certificate, from its CA (None: unknown).
    """

    reason: Reason
    serial: str = ""
    source: RevocationSource = RevocationSource.NONE
    credential: CredentialKind | None = None


def verify_card(
    core: Core,
    tx: Transaction,
    *,
    terminal_id: str,
    session_id: str,
    checked: ProofResult,
    signature: bytes,
    presented: CredentialKind | None = None,
) -> Reading:
    """Decide and audit a card verification (the nonce is consumed when it was usable).

    ``checked``: the authentication certificate's check, made before the
    transaction (``Core.check_certificate``). ``presented``: what the
    terminal says it read (audited, never decides).
    """
    checked = core.screen(Operation.READING, checked)
    used = use_session(
        core,
        tx,
        session_id=session_id,
        terminal_id=terminal_id,
        purpose=Purpose.CARD_VERIFICATION,
        checked=checked,
        signature=signature,
    )
    core.audit(
        tx,
        AuditAction.VERIFY_CARD,
        used.reason,
        terminal_id=terminal_id,
        serial=used.serial,
        credential=checked.credential,
        claimed=presented,
    )
    source = used.proof.source if used.proof is not None else RevocationSource.NONE
    return Reading(used.reason, used.serial, source, checked.credential)


def revocation_status(core: Core, kind: CertKind, serial_hex: str) -> RevocationAnswer:
    """The revocation status of a serial (may download: call from a worker thread)."""
    return core.revocation.status(kind, int(serial_hex, 16), core.now())
