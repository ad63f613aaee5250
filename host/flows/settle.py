# SPDX-License-Identifier: Apache-2.0
"""Commit or reverse an authorised transfer exactly once, journaled; and start-up recovery.

Exactly once comes from three rules (docs/terminal-api.md §3): the decision
(commit or reverse) is journaled before it is acted on, so a restart never
changes its mind; the commit/reverse call's idempotency key is derived from
the operation id (``<op>.commit`` / ``<op>.reverse``) and journaled as the
intent, so a repeat is answered once by the verifier; and an
authorisation whose outcome is unknown is learnt by repeating the very same
AuthorizeTransfer (same key, same request) before it is reversed — the ATM
was never asked to move money for it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from host.client import Authorization, TransferState
from host.errors import IdempotencyConflictError, ServiceError, ServiceStateError
from host.flows.authorize_record import authorize_request_from_data
from host.flows.ports import PrinterPort, TransferVerifier
from host.flows.receipt import print_receipt, receipt_lines
from host.journal import Effect, ElectronicJournal, Journal, Phase, TransferRecovery
from host.journal.records import JsonValue

__all__ = [
    "Decision",
    "JournaledTransfer",
    "RecoveryResult",
    "journaled_transfer",
    "recover_receipts",
    "recover_transfers",
    "resolve_lost_authorization",
    "reverse_unsettled",
    "settle_transfer",
]

_log = logging.getLogger(__name__)

FLOW = "transfer"


class Decision(StrEnum):
    """What was done with an authorised transfer (journaled as the decision's ``action``)."""

    COMMIT = "commit"
    REVERSE = "reverse"
    NONE = "none"  # recovery only: nothing was authorised


async def settle_transfer(
    journal: Journal,
    client: TransferVerifier,
    *,
    op_id: str,
    authorization_id: str,
    commit: bool,
    ejournal: ElectronicJournal | None = None,
    decided: bool = False,
) -> TransferState:
    """Journal the decision (unless ``decided``), then commit or reverse, journaled.

    A ``ServiceStateError`` (already settled the other way) is journaled as
    the outcome too: the transfer is then resolved, and it was never settled
    twice. An expired authorisation is not one: the verifier's expiry sweep
    only releases the hold (EXPIRED), and a commit after it is answered
    COMMITTED (late, issue 20), so cash that moved is never left reversed.

    Raises:
        ServiceError: the verifier could not be reached; the journal keeps
            the intent and recovery repeats it with the same key.
    """
    action = Decision.COMMIT if commit else Decision.REVERSE
    key = f"{op_id}.{action.value}"
    effect = Effect.TRANSFER_COMMIT if commit else Effect.TRANSFER_REVERSE
    if not decided:
        decision: dict[str, JsonValue] = {"action": action.value}
        journal.record(
            op_id,
            FLOW,
            Effect.TRANSFER_DECISION,
            Phase.DECISION,
            idempotency_key=key,
            data=decision,
        )
    intent: dict[str, JsonValue] = {"authorization_id": authorization_id}
    journal.record(op_id, FLOW, effect, Phase.INTENT, idempotency_key=key, data=intent)
    call = client.commit_transfer if commit else client.reverse_transfer
    try:
        status = await call(authorization_id, key)
        state, error, late = status.state, "", status.late
    except ServiceStateError as exc:
        state, error, late = TransferState.UNSPECIFIED, exc.reason or exc.code, False
    outcome: dict[str, JsonValue] = {
        "authorization_id": authorization_id,
        "state": state.value,
        "error": error,
        "late": late,
    }
    journal.record(op_id, FLOW, effect, Phase.OUTCOME, idempotency_key=key, data=outcome)
    if ejournal is not None:
        ejournal.append(
            op_id,
            f"TRANSFER-{action.value.upper()}",
            authorization=authorization_id,
            state=state.value,
            error=error or None,
            **({"late": True} if late else {}),  # a late completion the bank reconciles
        )
    _log.info("transfer %s %s: %s %s", op_id, action.value, state.value, error)
    return state


@dataclass(frozen=True)
class RecoveryResult:
    """What recovery did for one journaled transfer."""

    op_id: str
    authorization_id: str
    action: Decision
    state: TransferState


async def recover_transfers(
    journal: Journal,
    client: TransferVerifier,
    money_moved: Callable[[TransferRecovery], Awaitable[bool]],
    *,
    ejournal: ElectronicJournal | None = None,
    only: str | None = None,
) -> list[RecoveryResult]:
    """Resolve every unresolved transfer in ``journal`` (run at agent start-up).

    ``money_moved`` asks the ATM application whether the cash movement of an
    authorised, undecided transfer happened (commit) or not (reverse).
    ``only`` limits recovery to one operation id (a flow cleaning up after
    itself). Never run it on an operation a flow is still running.

    Raises:
        ServiceError: the verifier is unreachable; the rest stays journaled.
    """
    results = []
    for plan in journal.unresolved_transfers():
        if only is not None and plan.op_id != only:
            continue
        auth_id = plan.authorization_id
        if not auth_id:
            auth_id = await _learn_authorization(journal, client, plan, ejournal)
            if not auth_id:  # refused, or not to be learnt: nothing to settle
                results.append(
                    RecoveryResult(
                        op_id=plan.op_id,
                        authorization_id="",
                        action=Decision.NONE,
                        state=TransferState.UNSPECIFIED,
                    )
                )
                continue
            commit = False  # the ATM was never asked to move money for it
        elif plan.decision is not None:
            commit = Decision(plan.decision) is Decision.COMMIT
        else:
            commit = await money_moved(plan)
        state = await settle_transfer(
            journal,
            client,
            op_id=plan.op_id,
            authorization_id=auth_id,
            commit=commit,
            ejournal=ejournal,
            decided=plan.decision is not None,
        )
        action = Decision.COMMIT if commit else Decision.REVERSE
        results.append(
            RecoveryResult(op_id=plan.op_id, authorization_id=auth_id, action=action, state=state)
        )
    return results


async def _learn_authorization(
    journal: Journal,
    client: TransferVerifier,
    plan: TransferRecovery,
    ejournal: ElectronicJournal | None,
) -> str:
    """Repeat the journaled AuthorizeTransfer; its authorisation id, "" when none (journaled).

    A repeat the verifier refuses as another request under the key
    (``IDEMPOTENCY_KEY_REUSED``) means the journal kept less than was sent
    (a bug; the proof's ``presented`` claim was once rebuilt as unknown). No
    repeat will ever be answered, and retrying would hold the terminal in
    recovery for good, so it is given up: journaled as refused, logged as an
    error and written to the electronic journal for the operator and the
    bank's reconciliation. That is safe because the ATM application is
    asked to move cash only after the answer is journaled, and this one
    never was: whatever the verifier authorised was never paid out, and its
    expiry sweep releases the hold (EXPIRED).

    Raises:
        ServiceError: the verifier is unreachable; the plan stays unresolved.
    """
    session_id, statement, proof = authorize_request_from_data(dict(plan.authorize_request))
    try:
        answer = await client.authorize_transfer(session_id, statement, proof, plan.authorize_key)
    except IdempotencyConflictError as exc:
        answer, unrepeatable = Authorization(False, exc.reason, "", None, False, None), True
    else:
        unrepeatable = False
    learnt: dict[str, JsonValue] = {
        "accepted": answer.accepted,
        "reason": answer.reason,
        "authorization_id": answer.authorization_id,
        "recovered": True,
    }
    if unrepeatable:
        learnt["unrepeatable"] = True
    journal.record(
        plan.op_id,
        FLOW,
        Effect.TRANSFER_AUTHORIZE,
        Phase.OUTCOME,
        idempotency_key=plan.authorize_key,
        data=learnt,
    )
    if unrepeatable:
        if ejournal is not None:
            ejournal.append(plan.op_id, "TRANSFER-UNREPEATABLE", reason=answer.reason)
        _log.error(
            "transfer %s: its AuthorizeTransfer cannot be repeated (%s); no cash moved for it,"
            " and the verifier lets any authorisation it made expire",
            plan.op_id,
            answer.reason,
        )
    return answer.authorization_id if answer.accepted else ""


async def _no_cash_moved(plan: TransferRecovery) -> bool:
    return False  # never asked: an unknown authorisation is reversed, not committed


async def resolve_lost_authorization(
    journal: Journal, client: TransferVerifier, *, op_id: str, ejournal: ElectronicJournal | None
) -> None:
    """Learn a lost AuthorizeTransfer answer (same key) and reverse what it authorised.

    For a flow whose AuthorizeTransfer answer was lost (deadline, connection)
    and which never asked the ATM to move cash. An unreachable verifier
    leaves it to start-up recovery (logged, not raised).
    """
    try:
        await recover_transfers(journal, client, _no_cash_moved, ejournal=ejournal, only=op_id)
    except ServiceError:
        _log.warning("authorisation of %s still unknown; left to recovery", op_id)


async def reverse_unsettled(
    journal: Journal,
    client: TransferVerifier,
    *,
    op_id: str,
    authorization_id: str,
    ejournal: ElectronicJournal | None,
) -> TransferState | None:
    """Reverse an authorised transfer no cash moved for; its state, None if left to recovery.

    For a flow that failed (cancel or timeout at the confirmation, a crash of
    the ATM application...) before the ATM was asked to move cash.
    """
    try:
        return await settle_transfer(
            journal,
            client,
            op_id=op_id,
            authorization_id=authorization_id,
            commit=False,
            ejournal=ejournal,
        )
    except ServiceError:
        _log.warning("reversal of %s left to recovery", op_id)
        return None


async def recover_receipts(
    journal: Journal,
    printer: PrinterPort | None,
    *,
    ejournal: ElectronicJournal | None = None,
) -> int:
    """Print the receipt of every committed transfer that has none for certain; how many.

    A receipt whose print was started before (the agent died while
    printing) is marked as a reprint (再発行): exactly one original, never
    two. Without a printer nothing is printed: the ATM application gets the
    receipt's lines from GetCommandOutcome and prints them itself.

    Raises:
        JournalError: the journal cannot be written.
    """
    if printer is None:
        return 0
    printed = 0
    for plan in journal.unprinted_receipts():
        lines = receipt_lines(
            plan.statement, plan.authorization_id, TransferState.COMMITTED, reprint=plan.reprint
        )
        printed += await print_receipt(
            printer,
            journal,
            op_id=plan.op_id,
            lines=lines,
            authorization_id=plan.authorization_id,
            ejournal=ejournal,
        )
    return printed


@dataclass(frozen=True)
class JournaledTransfer:
    """What the journal knows of the transfer an ATM request ran (after a restart)."""

    op_id: str
    authorization_id: str
    state: TransferState  # COMMITTED, REVERSED, AUTHORIZED (undecided) or UNSPECIFIED
    receipt_lines: tuple[str, ...] = ()
    receipt_printed: bool = False
    identity_verified: bool = False


def journaled_transfer(journal: Journal, request_id: str) -> JournaledTransfer | None:
    """The journaled transfer of ATM request ``request_id``; None if it never reached the verifier.

    The latest operation wins when a request id was reused after an earlier
    command ended.
    """
    found: list[str] = []
    entries = journal.entries()
    for entry in entries:
        asked = entry.effect is Effect.TRANSFER_AUTHORIZE and entry.phase is Phase.INTENT
        if entry.flow == FLOW and asked and entry.data.get("request_id") == request_id:
            found.append(entry.op_id)
    if not found:
        return None
    op_id = found[-1]
    ops = [e for e in entries if e.op_id == op_id]
    intent = next(e for e in ops if e.effect is Effect.TRANSFER_AUTHORIZE)
    auth_id, state, identified = "", TransferState.UNSPECIFIED, False
    for e in ops:
        if e.effect is Effect.TRANSFER_AUTHORIZE and e.phase is Phase.OUTCOME:
            identified = identified or bool(e.data.get("identity_verified"))
            if e.data.get("accepted"):
                auth_id, state = str(e.data.get("authorization_id", "")), TransferState.AUTHORIZED
        elif e.effect in (Effect.TRANSFER_COMMIT, Effect.TRANSFER_REVERSE) and (
            e.phase is Phase.OUTCOME and e.data.get("state")
        ):
            state = TransferState(str(e.data["state"]))
    printed = any(
        e.effect is Effect.RECEIPT_PRINT and e.phase is Phase.OUTCOME and e.data.get("printed")
        for e in ops
    )
    lines: tuple[str, ...] = ()
    if state is TransferState.COMMITTED:
        lines = tuple(receipt_lines(intent.data, auth_id, state, reprint=printed))
    return JournaledTransfer(
        op_id=op_id,
        authorization_id=auth_id,
        state=state,
        receipt_lines=lines,
        receipt_printed=printed,
        identity_verified=identified,
    )
