# SPDX-License-Identifier: Apache-2.0
"""Sessions and their nonces: open one, check it may serve a call, use it once with a proof.

Why a module of its own: VerifyCard, ReserveReset and RedeemReset follow the
same rule (the card signs a challenge over the session's nonce, the nonce
serves one terminal and one purpose, once, before it expires), and the rule
is a function of (stored session, terminal, purpose, time) that tests call
with no server. Callers run ``use_session`` inside the transaction that
records their decision, so the nonce is consumed and the decision stored
together.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from verifier.canonical import card_challenge_digest
from verifier.codes import ErrorReason, Purpose, Reason
from verifier.core import Core, ProofResult, new_id, to_us
from verifier.credentials import CredentialKind
from verifier.errors import PermissionDeniedError
from verifier.storage import Session, Transaction

__all__ = [
    "CHALLENGE_LABELS",
    "NONCE_BYTES",
    "CardProof",
    "SessionUse",
    "challenge_digest",
    "check_terminal",
    "nonce_reason",
    "open_session",
    "use_session",
]

NONCE_BYTES: Final = 32
#: Field 1 of the card challenge (verifier/README.md, "Card challenge"): these
#: texts are what the card signs, fixed by the canonical encoding v1.
CHALLENGE_LABELS: Final = {
    Purpose.CARD_VERIFICATION: "SESSION_PURPOSE_CARD_VERIFICATION",
    Purpose.PIN_RESET: "SESSION_PURPOSE_PIN_RESET",
    Purpose.TRANSFER: "SESSION_PURPOSE_TRANSFER",
}


@dataclass(frozen=True)
class CardProof:
    """A card's certificate and its signature (neither is a secret).

    ``presented``: what the terminal says carried it (card or a phone); audited
    beside the kind the certificate's CA tells, never trusted (issue 15).
    """

    certificate_der: bytes
    signature: bytes
    presented: CredentialKind | None = None


@dataclass(frozen=True)
class SessionUse:
    """What ``use_session`` found: the session, the reason, and the checked proof if any."""

    session: Session | None
    reason: Reason
    proof: ProofResult | None

    @property
    def serial(self) -> str:
        """The proving certificate's serial, or "" when no proof was checked."""
        return self.proof.serial_hex if self.proof is not None else ""


def check_terminal(terminal_id: str, claimed: str) -> None:
    """Refuse a request whose ``terminal_id`` field is not the calling terminal.

    Raises:
        PermissionDeniedError: it is not (TERMINAL_MISMATCH).
    """
    if claimed != terminal_id:
        raise PermissionDeniedError(
            ErrorReason.TERMINAL_MISMATCH, "terminal_id does not match the client certificate"
        )


def open_session(core: Core, tx: Transaction, terminal_id: str, purpose: Purpose) -> Session:
    """Create a session with a fresh 32-byte nonce."""
    now_us = to_us(core.now())
    ttl_us = int(core.config.policy.nonce_ttl_seconds * 1_000_000)
    session = Session(
        session_id=new_id("ses"),
        terminal_id=terminal_id,
        purpose=purpose,
        nonce=secrets.token_bytes(NONCE_BYTES),
        expires_us=now_us + ttl_us,
    )
    tx.insert_session(session)
    return session


def nonce_reason(
    session: Session | None, terminal_id: str, purpose: Purpose, now: dt.datetime
) -> Reason:
    """Whether ``session`` may serve this terminal and purpose now (OK or why not)."""
    if session is None:
        return Reason.NONCE_UNKNOWN
    if session.terminal_id != terminal_id:
        return Reason.NONCE_OTHER_TERMINAL
    if session.purpose != purpose:
        return Reason.NONCE_WRONG_PURPOSE
    if session.used_us is not None:
        return Reason.NONCE_REPLAYED
    if session.expires_us <= to_us(now):
        return Reason.NONCE_EXPIRED
    return Reason.OK


def challenge_digest(
    purpose: Purpose, terminal_id: str, nonce: bytes, bound: Sequence[bytes] = ()
) -> bytes:
    """What the card signs for a session of ``purpose`` (``bound``: fields 4 on)."""
    return card_challenge_digest(CHALLENGE_LABELS[purpose], terminal_id, nonce, bound)


def use_session(
    core: Core,
    tx: Transaction,
    *,
    session_id: str,
    terminal_id: str,
    purpose: Purpose,
    checked: ProofResult,
    signature: bytes,
    bound: Sequence[bytes] = (),
) -> SessionUse:
    """Check the session and the card's signature over its challenge; consume the nonce if usable.

    ``checked`` is the proving certificate's check (``Core.check_certificate``),
    done before the transaction because it may download a CRL. The proof is
    finished only for a session of this terminal (a stranger's session tells
    nothing about the card); the nonce is consumed whenever it was usable,
    so a bad signature burns it too.
    """
    now = core.now()
    # The usual case in one statement: the usable session, consumed (issue 18).
    session = tx.take_session(
        session_id, terminal_id=terminal_id, purpose=purpose, now_us=to_us(now)
    )
    if session is not None:
        reason = Reason.OK
    else:  # not consumed: read it to say why
        session = tx.get_session(session_id)
        reason = nonce_reason(session, terminal_id, purpose, now)
        if reason is Reason.OK:  # usable yet not consumable: another call took it first
            reason = Reason.NONCE_REPLAYED
    proof = None
    if session is not None and session.terminal_id == terminal_id:
        digest = challenge_digest(purpose, terminal_id, session.nonce, bound)
        proof = core.finish_proof(checked, digest, signature)
    if reason is Reason.OK:
        reason = proof.reason if proof is not None else Reason.NONCE_UNKNOWN
    return SessionUse(session, reason, proof)
