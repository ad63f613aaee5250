# SPDX-License-Identifier: Apache-2.0
"""The issuance's journaled settlement steps, shared by the flow and by recovery.

Each side effect after the fee is in escrow is journaled before (intent,
with its key) and after (outcome), like a transfer's (``settle``): the
centre's ConfirmPrinted or ReportPrintFailure, and keeping or giving back
the escrow. Apart from the flow (``issue``) and the recovery
(``issue_settle``) because both run exactly these steps with exactly these
keys: a recovery after a crash repeats what the flow began, never
something similar.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from host.client.issuance_models import PrintFailure, PrintSettlement
from host.errors import PaymentError
from host.flows.issuance_ports import Escrow, PaymentPort
from host.flows.issue_request import IssuanceCentre
from host.journal import Effect, Journal, Phase
from host.journal.records import JsonValue

__all__ = ["FLOW", "confirm_printed", "give_back", "keep_fee", "report_not_printed"]

_log = logging.getLogger(__name__)

#: The journal's flow name for every issuance entry.
FLOW = "issue"


def _escrow_data(escrow: Escrow) -> dict[str, JsonValue]:
    return {
        "payment_id": escrow.payment_id,
        "fee_yen": escrow.fee_yen,
        "inserted_yen": escrow.inserted_yen,
    }


async def keep_fee(
    journal: Journal, payment: PaymentPort, *, op_id: str, escrow: Escrow
) -> int | None:
    """Keep the fee and pay the change; the change in yen, None when left to recovery."""
    return await _money_effect(
        journal, op_id, escrow, Effect.ISSUE_TAKE, payment.take, "change_yen",
        "keeping the fee left to recovery",
    )  # fmt: skip


async def give_back(
    journal: Journal, payment: PaymentPort, *, op_id: str, escrow: Escrow
) -> int | None:
    """Give back everything inserted; the yen returned, None when left to recovery."""
    return await _money_effect(
        journal, op_id, escrow, Effect.ISSUE_REFUND, payment.refund, "returned_yen",
        "the refund is left to recovery",
    )  # fmt: skip


async def _money_effect(
    journal: Journal,
    op_id: str,
    escrow: Escrow,
    effect: Effect,
    call: Callable[[Escrow], Awaitable[int]],
    outcome_key: str,
    left_to_recovery: str,
) -> int | None:
    """One device effect on the escrow, journaled before and after (keyed by the payment)."""
    key = escrow.payment_id
    intent = _escrow_data(escrow)
    journal.record(op_id, FLOW, effect, Phase.INTENT, idempotency_key=key, data=intent)
    try:
        yen = await call(escrow)
    except PaymentError as exc:
        _log.warning("issue %s: %s: %s", op_id, left_to_recovery, type(exc).__name__)
        return None
    outcome: dict[str, JsonValue] = {"payment_id": key, outcome_key: yen}
    journal.record(op_id, FLOW, effect, Phase.OUTCOME, idempotency_key=key, data=outcome)
    return yen


async def confirm_printed(
    journal: Journal,
    centre: IssuanceCentre,
    *,
    op_id: str,
    request_id: str,
    sha256: bytes,
    job_id: str,
) -> PrintSettlement:
    """ConfirmPrinted with the operation's key, journaled before and after.

    Raises:
        ServiceError: the centre did not answer; the intent stays for recovery.
    """
    key = f"{op_id}.confirm"
    intent: dict[str, JsonValue] = {
        "request_id": request_id,
        "sha256": sha256.hex(),
        "print_job_id": job_id,
    }
    journal.record(
        op_id, FLOW, Effect.ISSUE_CONFIRM, Phase.INTENT, idempotency_key=key, data=intent
    )
    settlement = await centre.confirm_printed(
        request_id, document_sha256=sha256, print_job_id=job_id, idempotency_key=key
    )
    outcome: dict[str, JsonValue] = {"state": settlement.state.value, "yen": settlement.yen}
    journal.record(
        op_id, FLOW, Effect.ISSUE_CONFIRM, Phase.OUTCOME, idempotency_key=key, data=outcome
    )
    return settlement


async def report_not_printed(
    journal: Journal,
    centre: IssuanceCentre,
    *,
    op_id: str,
    request_id: str,
    failure: PrintFailure,
) -> PrintSettlement:
    """ReportPrintFailure with the operation's key, journaled before and after.

    Raises:
        ServiceError: the centre did not answer; the intent stays for recovery.
    """
    key = f"{op_id}.failure"
    intent: dict[str, JsonValue] = {"request_id": request_id, "failure": failure.value}
    journal.record(
        op_id, FLOW, Effect.ISSUE_FAILURE, Phase.INTENT, idempotency_key=key, data=intent
    )
    settlement = await centre.report_print_failure(request_id, failure, idempotency_key=key)
    outcome: dict[str, JsonValue] = {"state": settlement.state.value, "yen": settlement.yen}
    journal.record(
        op_id, FLOW, Effect.ISSUE_FAILURE, Phase.OUTCOME, idempotency_key=key, data=outcome
    )
    return settlement
