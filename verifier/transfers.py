# SPDX-License-Identifier: Apache-2.0
"""The ATM flow: authorise a transfer (the ¥100,000 rule), commit or reverse it once.

Why the rule is data: the threshold comes from ``PolicyConfig`` (inclusive:
amounts *over* it need identity verification, as the Act on Prevention of
Transfer of Criminal Proceeds says), so a regulatory change is a
configuration change, tested at the boundary.

Exactly-once: state moves only by conditional UPDATE (``AUTHORIZED`` ->
``COMMITTED`` or ``REVERSED``). Committing a committed transfer returns the
first commit's result; committing a reversed one is refused; an
authorisation never committed expires and is reversed by ``expire``.

Everything here works on ``Core`` and a storage transaction: no gRPC type.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from verifier.canonical import TransferFields, statement_digest
from verifier.codes import (
    AuditAction,
    ErrorReason,
    Purpose,
    Reason,
    RevocationSource,
    TransferState,
)
from verifier.core import Core, ProofResult, new_id, to_us
from verifier.errors import NotFoundError, PermissionDeniedError, PreconditionError
from verifier.pki import BasicFour, basic_four
from verifier.sessions import CardProof, nonce_reason
from verifier.storage import Session, Transaction, Transfer

__all__ = [
    "Authorization",
    "AuthorizePrecheck",
    "StateChange",
    "TransferRequest",
    "authorize",
    "check_terminal",
    "commit",
    "expire",
    "needs_proof",
    "precheck",
    "reverse",
]


@dataclass(frozen=True)
class TransferRequest:
    """What a terminal asks to authorise: the session, the statement, maybe a proof."""

    session_id: str
    statement: TransferFields
    proof: CardProof | None = None


@dataclass(frozen=True)
class AuthorizePrecheck:
    """What can be decided before the transaction: the proof and the digest."""

    digest: bytes
    needs_proof: bool
    proof: ProofResult | None


@dataclass(frozen=True)
class Authorization:
    """An authorisation decision; ``identity`` only when the basic four were verified."""

    reason: Reason
    authorization_id: str = ""
    expires_us: int = 0
    serial: str = ""
    source: RevocationSource = RevocationSource.NONE
    identity: BasicFour | None = None


@dataclass(frozen=True)
class StateChange:
    """Where a commit or reversal left the transfer, and when it got there."""

    state: TransferState
    at_us: int


def check_terminal(terminal_id: str, request: TransferRequest) -> None:
    """Refuse a statement that names another terminal than the caller.

    Raises:
        PermissionDeniedError: it does (TERMINAL_MISMATCH).
    """
    if request.statement.terminal_id != terminal_id:
        raise PermissionDeniedError(
            ErrorReason.TERMINAL_MISMATCH, "the statement names another terminal than the caller"
        )


def needs_proof(core: Core, request: TransferRequest) -> bool:
    """Whether this amount needs identity verification and a proof came (check its cert)."""
    over = request.statement.amount_yen > core.config.policy.transfer_threshold_yen
    return over and request.proof is not None


def precheck(
    core: Core, terminal_id: str, request: TransferRequest, checked: ProofResult | None
) -> AuthorizePrecheck:
    """Check the terminal binding and, over the threshold, the identity proof.

    ``checked``: the signing certificate's check (``Core.check_certificate``)
    when ``needs_proof`` said so, else None. Needs no I/O.

    Raises:
        PermissionDeniedError: the statement names another terminal.
    """
    check_terminal(terminal_id, request)
    statement = request.statement
    digest = statement_digest(statement)
    over = statement.amount_yen > core.config.policy.transfer_threshold_yen
    proof = None
    if over and request.proof is not None and checked is not None:
        proof = core.finish_proof(checked, digest, request.proof.signature)
    return AuthorizePrecheck(digest, over, proof)


def _decide(
    core: Core,
    tx: Transaction,
    terminal_id: str,
    request: TransferRequest,
    pre: AuthorizePrecheck,
    now: dt.datetime,
) -> tuple[Reason, BasicFour | None]:
    """The reason (and the basic four); the nonce is consumed unless a proof is missing."""
    session: Session | None = tx.get_session(request.session_id)
    reason = nonce_reason(session, terminal_id, Purpose.TRANSFER, now)
    if reason is Reason.OK and session is not None and session.nonce != request.statement.nonce:
        reason = Reason.NONCE_UNKNOWN
    if reason is Reason.OK and pre.needs_proof and pre.proof is None:
        # Not consumed: the ATM asks the card to sign and retries with this nonce.
        return Reason.IDENTITY_PROOF_REQUIRED, None
    if reason is Reason.OK and not tx.consume_session(request.session_id, to_us(now)):
        reason = Reason.NONCE_REPLAYED
    proof = pre.proof
    if reason is Reason.OK and proof is not None:
        reason = proof.reason
    four = None
    if reason is Reason.OK and proof is not None and proof.certificate is not None:
        four = basic_four(proof.certificate)
        if four is None:
            reason = Reason.CERTIFICATE_MALFORMED
    return reason, four


def authorize(
    core: Core,
    tx: Transaction,
    terminal_id: str,
    request: TransferRequest,
    pre: AuthorizePrecheck,
) -> Authorization:
    """Decide, record and audit an authorisation."""
    now = core.now()
    reason, four = _decide(core, tx, terminal_id, request, pre, now)
    proof = pre.proof
    serial = proof.serial_hex if proof is not None else ""
    action = AuditAction.AUTHORIZE_TRANSFER
    if reason is Reason.IDENTITY_PROOF_REQUIRED:
        core.audit(tx, action, reason, terminal_id=terminal_id)
        return Authorization(reason)
    if reason is not Reason.OK:
        core.audit(tx, action, reason, terminal_id=terminal_id, serial=serial)
        return Authorization(reason)
    now_us = to_us(now)
    expires_us = now_us + int(core.config.policy.authorization_ttl_seconds * 1_000_000)
    authorization_id = new_id("aut")
    source = proof.source if proof is not None else RevocationSource.NONE
    tx.insert_transfer(
        Transfer(
            authorization_id=authorization_id,
            terminal_id=terminal_id,
            amount_yen=request.statement.amount_yen,
            statement_digest=pre.digest,
            state=TransferState.AUTHORIZED,
            identity_verified=four is not None,
            certificate_serial=serial,
            revocation_source=source,
            created_us=now_us,
            expires_us=expires_us,
        )
    )
    if four is not None:
        identity = (four.name, four.address, four.birth_date, four.gender)
        tx.insert_identity(authorization_id, serial, identity, source, now_us)
    core.audit(
        tx, action, Reason.OK, terminal_id=terminal_id, serial=serial, subject_id=authorization_id
    )
    return Authorization(Reason.OK, authorization_id, expires_us, serial, source, four)


def commit(core: Core, tx: Transaction, *, terminal_id: str, authorization_id: str) -> StateChange:
    """Commit an authorisation exactly once; a repeat returns the first commit.

    Raises:
        NotFoundError: no such authorisation.
        PermissionDeniedError: it belongs to another terminal.
        PreconditionError: reversed already, or expired (and now reversed).
    """
    return _change(core, tx, terminal_id, authorization_id, TransferState.COMMITTED)


def reverse(core: Core, tx: Transaction, *, terminal_id: str, authorization_id: str) -> StateChange:
    """Reverse an uncommitted authorisation exactly once; a repeat returns the first.

    Raises:
        NotFoundError: no such authorisation.
        PermissionDeniedError: it belongs to another terminal.
        PreconditionError: committed already.
    """
    return _change(core, tx, terminal_id, authorization_id, TransferState.REVERSED)


def _change(
    core: Core, tx: Transaction, terminal_id: str, authorization_id: str, target: TransferState
) -> StateChange:
    committing = target is TransferState.COMMITTED
    action = AuditAction.COMMIT_TRANSFER if committing else AuditAction.REVERSE_TRANSFER
    transfer = tx.get_transfer(authorization_id)
    if transfer is None:
        raise NotFoundError(ErrorReason.AUTHORIZATION_NOT_FOUND, "no such authorisation")
    if transfer.terminal_id != terminal_id:
        raise PermissionDeniedError(
            ErrorReason.TERMINAL_MISMATCH, "the authorisation is another terminal's"
        )
    now_us = to_us(core.now())
    if transfer.state is TransferState.AUTHORIZED:
        if committing and transfer.expires_us <= now_us:
            if tx.change_transfer_state(
                authorization_id, TransferState.AUTHORIZED, TransferState.REVERSED, now_us
            ):
                _audit_expiry(core, tx, terminal_id, authorization_id)
            raise PreconditionError(ErrorReason.AUTHORIZATION_EXPIRED, "the authorisation expired")
        if tx.change_transfer_state(authorization_id, TransferState.AUTHORIZED, target, now_us):
            core.audit(
                tx,
                action,
                Reason.OK,
                terminal_id=terminal_id,
                serial=transfer.certificate_serial,
                subject_id=authorization_id,
            )
            return StateChange(target, now_us)
        # Lost a race: read what the winner did.
        latest = tx.get_transfer(authorization_id)
        assert latest is not None
        transfer = latest
    if transfer.state is target:
        return StateChange(target, transfer.changed_us or now_us)
    if transfer.state is TransferState.REVERSED:
        raise PreconditionError(ErrorReason.TRANSFER_REVERSED, "the transfer was reversed")
    raise PreconditionError(ErrorReason.TRANSFER_COMMITTED, "the transfer was committed")


def _audit_expiry(core: Core, tx: Transaction, terminal_id: str, authorization_id: str) -> None:
    action = AuditAction.EXPIRE_TRANSFER
    core.audit(tx, action, Reason.OK, terminal_id=terminal_id, subject_id=authorization_id)


def expire(core: Core, tx: Transaction, limit: int = 100) -> int:
    """Reverse authorisations past their expiry; returns how many."""
    now_us = to_us(core.now())
    done = 0
    for authorization_id in tx.expired_transfers(TransferState.AUTHORIZED, now_us, limit):
        if tx.change_transfer_state(
            authorization_id, TransferState.AUTHORIZED, TransferState.REVERSED, now_us
        ):
            _audit_expiry(core, tx, "-", authorization_id)  # the sweeper: no terminal
            done += 1
    return done
