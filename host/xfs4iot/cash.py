# SPDX-License-Identifier: Apache-2.0
"""The cash question and past outcomes on the vendor ``MynaEdge`` interface (issue 23 part 1).

Why here too: an XFS4IoT application must be able to say whether the cash
moved even when its connection dropped at ``confirmMoneyMoved`` or it
restarted; the agent then asks through its recovery desk and never decides
by itself (only ``recovery_answer_seconds`` reverses unasked). So:

* every ``MynaEdge`` client gets ``MynaEdge.CashQuestionEvent``
  (unsolicited) for each waiting question, at connection and as new ones
  arise (the agent's ``WatchRecovery``);
* ``MynaEdge.AnswerCashQuestion`` answers one (``AnswerRecovery``); the
  first answer wins;
* ``MynaEdge.GetTransferOutcome`` returns a transfer's state by its
  ``transactionId`` (``GetCommandOutcome``), also after an agent restart
  (from its journal).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from host.xfs4iot.agent import AgentLink, AgentUnavailableError
from host.xfs4iot.messages import CompletionCode
from host.xfs4iot.service import CommandContext, Outcome
from myna.edge.v1 import terminal_pb2 as tpb

if TYPE_CHECKING:
    from host.xfs4iot.session import Session

__all__ = ["answer_cash_question", "follow_cash_questions", "transfer_outcome"]

_log = logging.getLogger(__name__)

_RETRY_S: Final = (0.5, 1.0, 2.0, 5.0)
_UNAVAILABLE: Final = Outcome(CompletionCode.DEVICE_NOT_READY, {}, "the agent is unreachable")
#: GetCommandOutcome's state -> the completion's ``state``.
_STATES: Final = {
    tpb.COMMAND_STATE_UNKNOWN: "unknown",
    tpb.COMMAND_STATE_RUNNING: "running",
    tpb.COMMAND_STATE_COMPLETED: "completed",
    tpb.COMMAND_STATE_JOURNALED: "journaled",
}
_ENDED: Final = (tpb.COMMAND_STATE_COMPLETED, tpb.COMMAND_STATE_JOURNALED)


async def follow_cash_questions(agent: AgentLink, session: Session) -> None:
    """Send ``session`` every waiting cash question until it closes (runs as a task)."""
    attempt = 0
    while True:
        try:
            async for prompt in agent.watch_recovery():
                attempt = 0
                await session.send_unsolicited(
                    "MynaEdge.CashQuestionEvent",
                    {
                        "recoveryId": prompt.recovery_id[:64],
                        "transactionId": prompt.request_id[:64],
                        "authorizationId": prompt.authorization_id[:128],
                        "amountYen": prompt.amount_yen,
                        "payeeName": prompt.payee_name[:64],
                    },
                )
            return  # the agent asks no cash questions (not the ATM profile)
        except AgentUnavailableError:
            pass
        await asyncio.sleep(_RETRY_S[min(attempt, len(_RETRY_S) - 1)])
        attempt += 1


async def answer_cash_question(agent: AgentLink, context: CommandContext) -> Outcome:
    """``MynaEdge.AnswerCashQuestion``: ``accepted`` false when nothing waits under that id."""
    p = context.command.payload
    try:
        accepted = await agent.answer_recovery(p["recoveryId"], cash_moved=p["cashMoved"])
    except AgentUnavailableError:
        return _UNAVAILABLE
    _log.info("cash question answered (accepted=%s)", accepted)
    return Outcome(payload={"accepted": accepted})


async def transfer_outcome(
    agent: AgentLink, context: CommandContext, convert: Callable[[tpb.Completion], Outcome]
) -> Outcome:
    """``MynaEdge.GetTransferOutcome``: where a transfer is, and its completion when it has one.

    ``convert`` maps the agent's completion as the transfer command's own
    completion does, so both say the same.
    """
    transaction = context.command.payload["transactionId"]
    try:
        reply = await agent.command_outcome(transaction)
    except AgentUnavailableError:
        return _UNAVAILABLE
    payload: dict[str, Any] = {
        "transactionId": transaction,
        "state": _STATES.get(reply.state, "unknown"),
        "awaitingCashAnswer": reply.awaiting_recovery,
    }
    if reply.HasField("completion") and reply.state in _ENDED:
        done = convert(reply.completion)
        outcome: dict[str, Any] = {"completionCode": done.code.value}
        if done.description:
            outcome["errorDescription"] = done.description[:512]
        outcome["transfer"] = done.payload or {}
        payload["outcome"] = outcome
    return Outcome(payload=payload)
