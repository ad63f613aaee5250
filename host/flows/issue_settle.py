# SPDX-License-Identifier: Apache-2.0
"""Charged iff printed after a crash: the issuance's recovery from the journal.

The flow journals every side effect after the fee is in escrow before and
after (``issue_effects``: the request, the print, ConfirmPrinted or
ReportPrintFailure, keeping or giving back the escrow). ``recover_issuances``
finishes, after a crash, whatever the journal shows open, by the one rule:

* printed (the print's outcome says the job completed) → ConfirmPrinted
  with the journaled key, then keep the fee (``PaymentPort.take``);
* anything else → ReportPrintFailure (a request whose answer was lost is
  repeated with its key first, to learn its id) and give the money back
  (``PaymentPort.refund``). A print started but with no outcome counts as
  not printed (``PrintOutcome.TIMED_OUT``'s rule): the serial is voided and
  the resident is not charged.

A money step already begun is repeated, never turned round: every
``PaymentPort`` method is idempotent for one ``payment_id``. The escrow of a
collect whose answer was lost is rebuilt with ``inserted_yen=0``; the device
returns whatever it holds for that payment id. A device that cannot do it
(the ccTalk backend knows no payment from before a restart: it never pays
out blind) hands the decided step to the operator: the journal closes it
with ``to_operator`` and the operator's journal says which payment, which
fee and whether to keep or give back, so recovery does not retry for ever.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from host.client.issuance_models import (
    DocumentKind,
    DocumentOptions,
    HouseholdScope,
    IssuanceState,
    PrintFailure,
)
from host.errors import (
    IdempotencyConflictError,
    InvalidServiceRequestError,
    ServiceError,
    ServiceStateError,
)
from host.flows.issuance_ports import Escrow, PaymentPort
from host.flows.issue_effects import FLOW, confirm_printed, give_back, keep_fee, report_not_printed
from host.flows.issue_request import IssuanceCentre
from host.journal import Effect, ElectronicJournal, Journal, JournalEntry, Phase
from host.journal.records import JsonValue

__all__ = [
    "IssueReconciliation",
    "IssueRecovery",
    "plan_issuances",
    "recover_issuances",
]

_log = logging.getLogger(__name__)


@dataclass
class IssueRecovery:
    """What the journal shows open for one issuance.

    ``request_id`` is empty when nothing was issued or the answer was lost
    (then ``request_key`` and ``request`` repeat it); ``printed`` is True
    only for a print whose outcome says completed.
    """

    op_id: str
    escrow: Escrow | None
    money_done: bool
    request_key: str = ""
    request: Mapping[str, JsonValue] = field(default_factory=dict)
    request_answered: bool = False
    request_id: str = ""
    serial: str = ""
    kind: str = ""
    printed: bool = False
    sha256: str = ""
    job_id: str = ""
    failure: PrintFailure = PrintFailure.TIMEOUT
    centre_done: bool = False
    #: The money step already begun ("take" or "refund"), repeated as it is.
    money_begun: str = ""


def _last(ops: list[JournalEntry], effect: Effect, phase: Phase) -> JournalEntry | None:
    found = [e for e in ops if e.effect is effect and e.phase is phase]
    return found[-1] if found else None


def _plan_one(op_id: str, ops: list[JournalEntry]) -> IssueRecovery | None:
    collect = _last(ops, Effect.ISSUE_COLLECT, Phase.INTENT)
    if collect is None:
        return None  # never asked for money: nothing to settle
    collected = _last(ops, Effect.ISSUE_COLLECT, Phase.OUTCOME)
    escrow: Escrow | None = Escrow(
        str(collect.data.get("payment_id", "")), int(collect.data.get("fee_yen") or 0), 0
    )
    if collected is not None:
        if not collected.data.get("collected"):
            escrow = None  # not paid: the device returned what was inserted
        else:
            escrow = Escrow(
                str(collected.data.get("payment_id", "")),
                int(collected.data.get("fee_yen") or 0),
                int(collected.data.get("inserted_yen") or 0),
            )
    money_done = escrow is None or any(
        _last(ops, effect, Phase.OUTCOME) for effect in (Effect.ISSUE_TAKE, Effect.ISSUE_REFUND)
    )
    plan = IssueRecovery(op_id, escrow, money_done)
    for effect, name in ((Effect.ISSUE_TAKE, "take"), (Effect.ISSUE_REFUND, "refund")):
        if _last(ops, effect, Phase.INTENT):
            plan.money_begun = name
    request = _last(ops, Effect.ISSUE_REQUEST, Phase.INTENT)
    plan.centre_done = request is None
    if request is not None:
        plan.request_key, plan.request = request.idempotency_key, request.data
        plan.kind = str(request.data.get("kind", ""))
        answer = _last(ops, Effect.ISSUE_REQUEST, Phase.OUTCOME)
        if answer is not None:
            plan.request_answered = True
            plan.request_id = str(answer.data.get("request_id", ""))
            plan.serial = str(answer.data.get("serial", ""))
            plan.centre_done = not plan.request_id  # refused: nothing was issued
    printed = _last(ops, Effect.ISSUE_PRINT, Phase.OUTCOME)
    if printed is not None:
        plan.printed = bool(printed.data.get("printed"))
        plan.sha256 = str(printed.data.get("sha256", ""))
        plan.job_id = str(printed.data.get("print_job_id", ""))
        failure = str(printed.data.get("failure") or PrintFailure.TIMEOUT.value)
        plan.failure = PrintFailure(failure)
    elif collected is not None and not collected.data.get("collected"):
        plan.failure = PrintFailure.CANCELLED  # unpaid: voided, as the flow's own void says
    if _last(ops, Effect.ISSUE_CONFIRM, Phase.OUTCOME) or _last(
        ops, Effect.ISSUE_FAILURE, Phase.OUTCOME
    ):
        plan.centre_done = True
    if plan.money_done and plan.centre_done:
        return None
    return plan


def plan_issuances(entries: Iterable[JournalEntry]) -> list[IssueRecovery]:
    """Issuances whose money or whose centre-side settlement the journal leaves open."""
    ops: dict[str, list[JournalEntry]] = {}
    for entry in entries:
        if entry.flow == FLOW:
            ops.setdefault(entry.op_id, []).append(entry)
    plans = (_plan_one(op_id, op) for op_id, op in ops.items())
    return [plan for plan in plans if plan is not None]


@dataclass(frozen=True)
class IssueReconciliation:
    """What recovery did for one issuance: charged (printed) or refunded."""

    op_id: str
    request_id: str
    charged: bool
    money_settled: bool


def _to_operator(
    journal: Journal,
    op_id: str,
    escrow: Escrow,
    *,
    take: bool,
    ejournal: ElectronicJournal | None,
) -> None:
    effect = Effect.ISSUE_TAKE if take else Effect.ISSUE_REFUND
    data: dict[str, JsonValue] = {"payment_id": escrow.payment_id, "to_operator": True}
    journal.record(op_id, FLOW, effect, Phase.OUTCOME, idempotency_key=escrow.payment_id, data=data)
    if ejournal is not None:
        ejournal.append(
            op_id,
            "ISSUE-MONEY-TO-OPERATOR",
            payment_id=escrow.payment_id,
            fee_yen=escrow.fee_yen,
            action="keep" if take else "give_back",
        )
    _log.error("issue %s: the payment device cannot settle; the operator must", op_id)


#: Centre answers a retry cannot change; the rest (unavailable, timeout) are retried.
_PERMANENT: Final = (ServiceStateError, InvalidServiceRequestError, IdempotencyConflictError)


async def _settle_centre(journal: Journal, centre: IssuanceCentre, plan: IssueRecovery) -> bool:
    """ConfirmPrinted or ReportPrintFailure as the journal says; whether it is charged."""
    if not plan.request_answered:
        await _learn_request_id(journal, centre, plan)
    if plan.request_id and plan.printed:
        settled = await confirm_printed(
            journal,
            centre,
            op_id=plan.op_id,
            request_id=plan.request_id,
            sha256=bytes.fromhex(plan.sha256),
            job_id=plan.job_id,
        )
        return settled.state is not IssuanceState.REFUNDED
    if plan.request_id:
        await report_not_printed(
            journal, centre, op_id=plan.op_id, request_id=plan.request_id, failure=plan.failure
        )
    return False


def _centre_to_operator(
    journal: Journal, plan: IssueRecovery, exc: ServiceError, *, ejournal: ElectronicJournal | None
) -> None:
    effect = Effect.ISSUE_CONFIRM if plan.printed else Effect.ISSUE_FAILURE
    data: dict[str, JsonValue] = {"request_id": plan.request_id, "to_operator": True}
    journal.record(plan.op_id, FLOW, effect, Phase.OUTCOME, data=data)
    if ejournal is not None:
        ejournal.append(
            plan.op_id,
            "ISSUE-CENTRE-TO-OPERATOR",
            serial=plan.serial or None,
            request_id=plan.request_id or None,
            printed=plan.printed,
            error=exc.code,
        )
    _log.error("issue %s: the centre refuses to settle (%s); the operator must", plan.op_id, exc)


async def _learn_request_id(journal: Journal, centre: IssuanceCentre, plan: IssueRecovery) -> None:
    # The answer was lost: the same key gets the same answer (the centre
    # issues at most once per key), which is journaled as the flow would.
    r = plan.request
    options = DocumentOptions(
        household_scope=HouseholdScope(str(r.get("household_scope", "UNSPECIFIED"))),
        show_registered_domicile=bool(r.get("show_registered_domicile")),
        show_relationship=bool(r.get("show_relationship")),
        copies=int(r.get("copies") or 1),
        fiscal_year=int(r.get("fiscal_year") or 0),
    )
    answer = await centre.request_document(
        str(r.get("session_id", "")),
        municipality_code=str(r.get("municipality_code", "")),
        kind=DocumentKind(str(r.get("kind"))),
        options=options,
        fee_yen=int(r.get("fee_yen") or 0),
        idempotency_key=plan.request_key,
    )
    outcome: dict[str, JsonValue] = {
        "issued": answer.refusal is None,
        "refusal": answer.refusal.value if answer.refusal else None,
        "request_id": answer.request_id,
        "serial": answer.serial,
        "recovered": True,
    }
    journal.record(
        plan.op_id,
        FLOW,
        Effect.ISSUE_REQUEST,
        Phase.OUTCOME,
        idempotency_key=plan.request_key,
        data=outcome,
    )
    plan.request_id, plan.serial = answer.request_id, answer.serial
    plan.request_answered = True


async def recover_issuances(
    journal: Journal,
    centre: IssuanceCentre,
    payment: PaymentPort | None,
    *,
    ejournal: ElectronicJournal | None = None,
) -> list[IssueReconciliation]:
    """Finish every issuance the journal leaves open: charged iff printed.

    ``payment`` None (no device configured) settles the centre side only;
    the money stays open in the journal for a later run.

    Raises:
        ServiceError: the centre is unreachable; the rest stays journaled.
    """
    results = []
    for plan in plan_issuances(journal.entries()):
        charged = plan.printed
        if not plan.centre_done:
            try:
                charged = await _settle_centre(journal, centre, plan)
            except _PERMANENT as exc:
                # The centre will never accept this (a digest not the issued
                # document's, a reused key): retrying would block recovery.
                _centre_to_operator(journal, plan, exc, ejournal=ejournal)
        money_settled = plan.money_done
        if not plan.money_done and plan.escrow is not None and payment is not None:
            take = plan.money_begun == "take" or (charged and plan.money_begun != "refund")
            settle = keep_fee if take else give_back
            done = await settle(journal, payment, op_id=plan.op_id, escrow=plan.escrow)
            money_settled = done is not None
            charged = take
            if done is None:
                _to_operator(journal, plan.op_id, plan.escrow, take=take, ejournal=ejournal)
        if ejournal is not None:
            ejournal.append(
                plan.op_id,
                "ISSUE-RECONCILED",
                serial=plan.serial or None,
                kind=plan.kind or None,
                fee_yen=plan.escrow.fee_yen if plan.escrow else None,
                outcome="charged" if charged else "refunded",
            )
        _log.info("issue %s reconciled (%s)", plan.op_id, "charged" if charged else "refunded")
        results.append(IssueReconciliation(plan.op_id, plan.request_id, charged, money_settled))
    return results
