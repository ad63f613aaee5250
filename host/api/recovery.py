# SPDX-License-Identifier: Apache-2.0
"""``RecoveryDesk``: recovery asks the ATM application "did the cash move?" through the API.

Why: after the authorisation only the ATM application knows whether it
dispensed; reversing blindly would take back money the customer holds. So
a transfer whose cash question went unanswered — after an agent crash, or
while the agent runs when the application's stream was lost, its command
was cancelled or timed out at the CONFIRM_MONEY_MOVED prompt — becomes an
unsolicited ``RecoveryPrompt`` on every ``WatchRecovery`` stream, and the
first ``AnswerRecovery`` decides. ``answer_seconds`` (terminal.toml
``recovery_answer_seconds``) is the one thing that reverses unasked: when
nobody answers within it, the transfer is reversed (0 = reverse at once,
without asking: only for terminals whose application never dispenses
before the agent commits).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from host.journal import TransferRecovery
from myna.edge.v1 import terminal_pb2 as tpb

__all__ = ["RecoveryDesk"]

_log = logging.getLogger(__name__)


class RecoveryDesk:
    """Pending recovery questions and their watchers.

    Args:
        answer_seconds: how long a question waits for an answer (0 = never ask).
    """

    def __init__(self, answer_seconds: float = 0.0) -> None:
        if answer_seconds < 0:
            raise ValueError("answer_seconds must not be negative")
        self.answer_seconds = answer_seconds
        self._pending: dict[str, tuple[tpb.RecoveryPrompt, asyncio.Future[bool]]] = {}
        self._watchers: set[asyncio.Queue[tpb.RecoveryPrompt]] = set()

    @property
    def waiting(self) -> bool:
        """Whether a question waits for its answer (new commands are refused meanwhile)."""
        return bool(self._pending)

    async def money_moved(self, plan: TransferRecovery) -> bool:
        """Ask the watchers about ``plan``; False (reverse) when nobody answers in time."""
        moved = await self.ask(plan)
        return bool(moved)

    async def ask(self, plan: TransferRecovery) -> bool | None:
        """Ask the watchers about ``plan``; None when nobody answered in time (reverse).

        A question cancelled by its caller (the prompt was answered on the
        command's stream first) is withdrawn.
        """
        if self.answer_seconds <= 0:
            _log.warning("transfer %s: no cash confirmation on record; reversing", plan.op_id)
            return None
        data = plan.authorize_request
        amount = data.get("st_amount_yen")
        prompt = tpb.RecoveryPrompt(
            recovery_id=plan.op_id,
            request_id=str(data.get("request_id") or ""),
            authorization_id=plan.authorization_id,
            amount_yen=amount if isinstance(amount, int) else 0,
            payee_name=str(data.get("st_payee_name") or ""),
        )
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending[plan.op_id] = (prompt, future)
        for queue in self._watchers:
            queue.put_nowait(prompt)
        try:
            moved = await asyncio.wait_for(asyncio.shield(future), self.answer_seconds)
        except TimeoutError:
            _log.warning("transfer %s: no answer to the recovery question; reversing", plan.op_id)
            return None
        finally:
            del self._pending[plan.op_id]
        _log.info(
            "transfer %s (request %s): the ATM application says cash moved=%s",
            plan.op_id,
            prompt.request_id,
            moved,
        )
        return moved

    def waiting_for(self, request_id: str) -> bool:
        """Whether a question about the transfer of ATM request ``request_id`` waits."""
        return any(
            prompt.request_id == request_id and not future.done()
            for prompt, future in self._pending.values()
        )

    def answer(self, recovery_id: str, cash_moved: bool) -> bool:
        """Deliver an answer; False when no such question waits."""
        entry = self._pending.get(recovery_id)
        if entry is None or entry[1].done():
            return False
        entry[1].set_result(cash_moved)
        return True

    async def watch(self) -> AsyncIterator[tpb.RecoveryPrompt]:
        """Every waiting question, then each new one, until the caller stops."""
        queue: asyncio.Queue[tpb.RecoveryPrompt] = asyncio.Queue()
        for prompt, future in self._pending.values():
            if not future.done():
                queue.put_nowait(prompt)
        self._watchers.add(queue)
        try:
            while True:
                prompt = await queue.get()
                if prompt.recovery_id in self._pending:  # still unanswered
                    yield prompt
        finally:
            self._watchers.discard(queue)
