# SPDX-License-Identifier: Apache-2.0
"""Start-up reconciliation of PIN resets whose outcome the journal does not know.

A crash can land between RESET RETRY COUNTER and its journaled outcome (the
card's answer is lost), or between that outcome and ConfirmReset. The card
is gone by the time the agent restarts, so the kiosk cannot ask it; the
verifier's audit trail still needs an answer. Recovery sends ConfirmReset
with the journaled key: the recorded outcome when there is one, otherwise
``succeeded=False`` (the conservative answer: the user is told to check
the card or book again) and the operator's journal marks it ``unknown``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from host.flows.reset import FLOW as _FLOW
from host.journal import Effect, ElectronicJournal, Journal, Phase
from host.journal.records import JsonValue

__all__ = ["ResetConfirmer", "ResetReconciliation", "recover_resets"]

_log = logging.getLogger(__name__)


class ResetConfirmer(Protocol):
    """The one verifier call reconciliation needs (``VerifierClient`` has it)."""

    async def confirm_reset(
        self,
        reservation_id: str,
        succeeded: bool,
        idempotency_key: str,
        *,
        timeout: float | None = None,
    ) -> bool: ...


@dataclass(frozen=True)
class ResetReconciliation:
    """What reconciliation reported for one reset."""

    op_id: str
    reservation_id: str
    card_outcome: bool | None
    recorded: bool


async def recover_resets(
    journal: Journal, client: ResetConfirmer, *, ejournal: ElectronicJournal | None = None
) -> list[ResetReconciliation]:
    """Confirm every journaled reset whose confirmation is missing.

    Raises:
        ServiceError: the verifier is unreachable; the rest stays journaled.
    """
    results = []
    for plan in journal.unknown_resets():
        succeeded = bool(plan.card_outcome)
        op_id, key = plan.op_id, plan.confirm_key
        if plan.card_outcome is None:
            unknown: dict[str, JsonValue] = {
                "reservation_id": plan.reservation_id,
                "succeeded": False,
                "unknown": True,
            }
            journal.record(op_id, _FLOW, Effect.RESET_CARD, Phase.OUTCOME, data=unknown)
        journal.record(op_id, _FLOW, Effect.RESET_CONFIRM, Phase.INTENT, idempotency_key=key)
        recorded = await client.confirm_reset(plan.reservation_id, succeeded, key)
        outcome: dict[str, JsonValue] = {
            "recorded": recorded,
            "succeeded": succeeded,
            "recovered": True,
        }
        journal.record(
            op_id, _FLOW, Effect.RESET_CONFIRM, Phase.OUTCOME, idempotency_key=key, data=outcome
        )
        if ejournal is not None:
            card = "unknown" if plan.card_outcome is None else str(plan.card_outcome)
            ejournal.append(op_id, "RESET-RECONCILED", reservation=plan.reservation_id, card=card)
        _log.info("reset %s reconciled (card outcome %s)", plan.op_id, plan.card_outcome)
        results.append(
            ResetReconciliation(
                op_id=op_id,
                reservation_id=plan.reservation_id,
                card_outcome=plan.card_outcome,
                recorded=recorded,
            )
        )
    return results
