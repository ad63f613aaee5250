# SPDX-License-Identifier: Apache-2.0
"""The cash question of an authorised transfer: asked, never decided by the agent (issue 23.1).

Why its own module: this is where money is at risk. After the
authorisation only the ATM application knows whether its dispenser moved
the cash. The CONFIRM_MONEY_MOVED prompt asks it on the command's stream;
when no answer comes there (the prompt's time budget ran out, the command
was cancelled, the application's stream was lost, the user port broke) the
question goes to ``CashQuestion`` — the API's recovery desk, which sends the
same ``RecoveryPrompt`` a restarted agent sends — while the prompt stays
answerable (an application that re-attached may still answer it). The first
answer, to either, decides. Only the desk's own ``recovery_answer_seconds``
ends the question unanswered (None: the caller reverses). Without a desk
the question is left to the agent's start-up/idle recovery.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from enum import StrEnum

from host.errors import FlowCancelledError, MynaEdgeError, StepTimeoutError
from host.flows.context import FlowContext, error_code
from host.flows.events import Prompt, PromptKind
from host.flows.ports import UserPort
from host.journal import TransferRecovery
from host.prompt_texts import PromptKey, prompt_text

__all__ = ["CashAnswer", "CashQuestion", "ask_cash_moved"]

#: Asks the ATM application outside the command's stream whether the cash of
#: an authorised transfer moved (the API's ``RecoveryDesk.ask``); None when
#: nobody answered within the desk's ``recovery_answer_seconds``.
CashQuestion = Callable[[TransferRecovery], Awaitable[bool | None]]


class CashAnswer(StrEnum):
    """How the cash question was answered."""

    ANSWERED = "answered"  # on the command's prompt
    RECOVERED = "recovered"  # through AnswerRecovery
    UNANSWERED = "unanswered"  # recovery_answer_seconds ran out
    LEFT_TO_RECOVERY = "left_to_recovery"  # no desk: the agent's recovery asks later


async def ask_cash_moved(
    ctx: FlowContext,
    user: UserPort,
    *,
    question: CashQuestion | None,
    plan: Callable[[], TransferRecovery],
    on_unanswered: Callable[[str], None],
) -> tuple[bool | None, CashAnswer]:
    """Ask whether the cash moved; (moved, how). ``moved`` is None unless answered.

    ``on_unanswered(why)`` is told when the prompt got no answer (timeout,
    cancelled, or the user port's error code) before the desk is asked.
    """
    text = prompt_text(PromptKey.CONFIRM_MONEY_MOVED)
    prompt = Prompt(PromptKind.CONFIRM_MONEY_MOVED, text.en, message=text)
    ctx.emit(prompt)
    ask = asyncio.ensure_future(user.confirm(prompt))
    try:
        try:
            # shield: a timeout or a cancel ends this wait, not the prompt
            moved = await ctx.step(prompt.kind.value, asyncio.shield(ask), ctx.timeouts.prompt)
            return moved, CashAnswer.ANSWERED
        except (FlowCancelledError, StepTimeoutError) as exc:
            why = "timeout" if isinstance(exc, StepTimeoutError) else "cancelled"
        except MynaEdgeError as exc:  # the user port broke (a device, a stream)
            why = error_code(exc)
        on_unanswered(why)
        if question is None:
            return None, CashAnswer.LEFT_TO_RECOVERY
        return await _first_answer(ask, question(plan()))
    finally:
        if not ask.done():
            ask.cancel()
        await asyncio.gather(ask, return_exceptions=True)


async def _first_answer(
    ask: asyncio.Future[bool], question: Awaitable[bool | None]
) -> tuple[bool | None, CashAnswer]:
    # The prompt (a re-attached application) and the desk's question race;
    # the loser is withdrawn (the desk forgets a question it no longer needs).
    desk = asyncio.ensure_future(question)
    # Two answer types, one wait: Future is invariant, so the set holds either.
    pending: set[asyncio.Future[bool] | asyncio.Future[bool | None]] = {desk}
    if not ask.done():
        pending.add(ask)
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if ask in done and not ask.cancelled() and ask.exception() is None:
                return ask.result(), CashAnswer.ANSWERED
            if desk in done:
                moved = desk.result()
                how = CashAnswer.RECOVERED if moved is not None else CashAnswer.UNANSWERED
                return moved, how
        raise AssertionError("unreachable: the desk always ends")  # pragma: no cover
    finally:
        desk.cancel()
        await asyncio.gather(desk, return_exceptions=True)
