# SPDX-License-Identifier: Apache-2.0
"""The ATM flow: authorise a transfer (the ¥100,000 rule), commit or reverse it once.

Why the rule is data: the threshold comes from ``PolicyConfig`` (inclusive:
amounts *over* it need identity verification, as the Act on Prevention of
Transfer of Criminal Proceeds says), so a regulatory change is a
configuration change, tested at the boundary.

Exactly-once: state moves only by conditional UPDATE. Committing a
committed transfer returns the first commit's result; committing a reversed
one is refused, and reversing a committed one; so a transfer is never both.

Late completion (issue 20): an authorisation unsettled at its TTL is moved
by ``expire`` to EXPIRED (the hold is released), not reversed. The
terminal that holds it may still commit it: the cash may have moved before
the terminal could say so (a dispense, an agent restart and a verifier
outage can outlast any TTL), and the agent commits only on its durable
record that it did. Refusing that fact would not bring the cash back; it
would only move the loss off the ledger. So a late commit is recorded, with
its own audit action (``LATE_COMMIT_TRANSFER``) and ``late`` in the answer
(counted by ``myna_verifier_late_commits_total``) for the operators to
reconcile. There is no late-commit window: a window would bring back a
timing assumption (the terminal returns within it) and with it the loss.
The operators' lever on a terminal that must not settle any more is to
revoke its certificate; its EXPIRED authorisations then go to manual
reconciliation (docs/internals/model-check.md).

Everything here works on ``Core`` and a storage transaction: no gRPC type.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

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
from verifier.credentials import Operation
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
    late: bool = False  # committed after the authorisation expired


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
        checked = core.screen(Operation.TRANSFER, checked)  # issue 15
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
    """The reason (and the basic four); the nonce is consumed unless a proof is missing.

    The usual case is one statement (issue 18): the session taken if it is
    usable and its nonce is the statement's (``Transaction.take_session``);
    only when it is not is it read to say why.
    """
    missing_proof = pre.needs_proof and pre.proof is None
    taken = not missing_proof and (
        tx.take_session(
            request.session_id,
            terminal_id=terminal_id,
            purpose=Purpose.TRANSFER,
            now_us=to_us(now),
            nonce=request.statement.nonce,
        )
        is not None
    )
    if taken:
        reason = Reason.OK
    else:  # not taken (or not to be): read the session to say why
        session: Session | None = tx.get_session(request.session_id)
        reason = nonce_reason(session, terminal_id, Purpose.TRANSFER, now)
        if reason is Reason.OK and session is not None and session.nonce != request.statement.nonce:
            reason = Reason.NONCE_UNKNOWN
        if reason is Reason.OK and missing_proof:
            # Not consumed: the ATM asks the card to sign and retries with this nonce.
            return Reason.IDENTITY_PROOF_REQUIRED, None
        if reason is Reason.OK:  # usable yet not taken: another call took it first
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
    credential = proof.credential if proof is not None else None
    claimed = request.proof.presented if request.proof is not None else None
    action = AuditAction.AUTHORIZE_TRANSFER
    if reason is Reason.IDENTITY_PROOF_REQUIRED:
        core.audit(tx, action, reason, terminal_id=terminal_id)
        return Authorization(reason)
    if reason is not Reason.OK:
        core.audit(
            tx,
            action,
            reason,
            terminal_id=terminal_id,
            serial=serial,
            credential=credential,
            claimed=claimed,
        )
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
        tx,
        action,
        Reason.OK,
        terminal_id=terminal_id,
        serial=serial,
        subject_id=authorization_id,
        credential=credential,
        claimed=claimed,
    )
    return Authorization(Reason.OK, authorization_id, expires_us, serial, source, four)


def commit(core: Core, tx: Transaction, *, terminal_id: str, authorization_id: str) -> StateChange:
    """Commit an authorisation exactly once; a repeat returns the first commit.

    An expired one (EXPIRED, or AUTHORIZED past its TTL before the sweep ran)
    is committed late: ``late`` in the answer, audited ``LATE_COMMIT_TRANSFER``.

    Raises:
        NotFoundError: no such authorisation.
        PermissionDeniedError: it belongs to another terminal.
        PreconditionError: reversed already.
    """
    return _change(core, tx, terminal_id, authorization_id, TransferState.COMMITTED)


def reverse(core: Core, tx: Transaction, *, terminal_id: str, authorization_id: str) -> StateChange:
    """Reverse an uncommitted (authorised or expired) transfer once; a repeat returns the first.

    Raises:
        NotFoundError: no such authorisation.
        PermissionDeniedError: it belongs to another terminal.
        PreconditionError: committed already (late or not).
    """
    return _change(core, tx, terminal_id, authorization_id, TransferState.REVERSED)


#: The states a commit or a reversal may leave; COMMITTED and REVERSED are final.
_OPEN: Final = (TransferState.AUTHORIZED, TransferState.EXPIRED)


def _late(transfer: Transfer) -> bool:
    """Whether a committed transfer was committed at or after its expiry (a late commit)."""
    changed = transfer.changed_us
    return transfer.state is TransferState.COMMITTED and (
        changed is not None and changed >= transfer.expires_us
    )


def _change(
    core: Core, tx: Transaction, terminal_id: str, authorization_id: str, target: TransferState
) -> StateChange:
    committing = target is TransferState.COMMITTED
    transfer = tx.get_transfer(authorization_id)
    if transfer is None:
        raise NotFoundError(ErrorReason.AUTHORIZATION_NOT_FOUND, "no such authorisation")
    if transfer.terminal_id != terminal_id:
        raise PermissionDeniedError(
            ErrorReason.TERMINAL_MISMATCH, "the authorisation is another terminal's"
        )
    now_us = to_us(core.now())
    # At most two tries: a lost race is to the sweep (AUTHORIZED -> EXPIRED,
    # once; then try again from EXPIRED) or to a final state (settled).
    for _ in range(2):
        if transfer.state not in _OPEN:
            break
        late = committing and (
            transfer.state is TransferState.EXPIRED or transfer.expires_us <= now_us
        )
        if tx.change_transfer_state(authorization_id, transfer.state, target, now_us):
            if late:
                action = AuditAction.LATE_COMMIT_TRANSFER
            elif committing:
                action = AuditAction.COMMIT_TRANSFER
            else:
                action = AuditAction.REVERSE_TRANSFER
            core.audit(
                tx,
                action,
                Reason.OK,
                terminal_id=terminal_id,
                serial=transfer.certificate_serial,
                subject_id=authorization_id,
            )
            return StateChange(target, now_us, late)
        latest = tx.get_transfer(authorization_id)  # lost a race: read what the winner did
        assert latest is not None
        transfer = latest
    if transfer.state is target:
        return StateChange(target, transfer.changed_us or now_us, _late(transfer))
    if transfer.state is TransferState.REVERSED:
        raise PreconditionError(ErrorReason.TRANSFER_REVERSED, "the transfer was reversed")
    if transfer.state is TransferState.COMMITTED:
        raise PreconditionError(ErrorReason.TRANSFER_COMMITTED, "the transfer was committed")
    raise AssertionError(f"{transfer.state.name} after two tries")  # pragma: no cover


def expire(core: Core, tx: Transaction, limit: int = 100) -> int:
    """Move authorisations past their expiry to EXPIRED (hold released); returns how many.

    Never to REVERSED: the terminal may have moved the cash and still commit
    late (the module's docstring). The sweeper acts for no terminal.
    """
    now_us = to_us(core.now())
    done = 0
    for authorization_id in tx.expired_transfers(TransferState.AUTHORIZED, now_us, limit):
        if tx.change_transfer_state(
            authorization_id, TransferState.AUTHORIZED, TransferState.EXPIRED, now_us
        ):
            action = AuditAction.EXPIRE_TRANSFER
            core.audit(tx, action, Reason.OK, terminal_id="-", subject_id=authorization_id)
            done += 1
    return done
