# SPDX-License-Identifier: Apache-2.0
"""RecoveryDesk: the ATM application is asked once per question; silence means reverse."""

from __future__ import annotations

import asyncio

import pytest

from host.api.recovery import RecoveryDesk
from host.journal import TransferRecovery
from myna.edge.v1 import terminal_pb2 as tpb


def plan(op_id: str = "op-1") -> TransferRecovery:
    return TransferRecovery(
        op_id=op_id,
        authorize_key=f"{op_id}.authorize",
        authorize_request={"request_id": "atm-9", "st_amount_yen": 12_000, "st_payee_name": "X"},
        authorization_id="auth-1",
    )


def test_zero_seconds_never_asks() -> None:
    desk = RecoveryDesk(0)
    assert asyncio.run(desk.money_moved(plan())) is False
    assert not desk.waiting
    with pytest.raises(ValueError, match="negative"):
        RecoveryDesk(-1)


def test_watchers_see_the_question_and_the_first_answer_decides() -> None:
    async def scenario() -> tuple[bool, list[tpb.RecoveryPrompt], bool]:
        desk = RecoveryDesk(5)
        seen: list[tpb.RecoveryPrompt] = []

        async def watch() -> None:
            async for prompt in desk.watch():
                seen.append(prompt)
                assert desk.answer(prompt.recovery_id, True)
                late = desk.answer(prompt.recovery_id, False)
                assert not late
                return

        watcher = asyncio.ensure_future(watch())
        await asyncio.sleep(0)
        moved = await desk.money_moved(plan())
        await watcher
        return moved, seen, desk.waiting

    moved, seen, waiting = asyncio.run(scenario())
    assert moved is True
    assert [(p.recovery_id, p.request_id, p.authorization_id, p.amount_yen) for p in seen] == [
        ("op-1", "atm-9", "auth-1", 12_000)
    ]
    assert not waiting


def test_a_late_watcher_gets_the_waiting_question_and_silence_reverses() -> None:
    async def scenario() -> tuple[bool, str, bool]:
        desk = RecoveryDesk(0.2)
        asking = asyncio.ensure_future(desk.money_moved(plan("op-2")))
        await asyncio.sleep(0)
        assert desk.waiting
        stream = desk.watch()
        first = await anext(stream)
        await stream.aclose()
        moved = await asking  # nobody answered
        return moved, first.recovery_id, desk.answer("op-2", True)

    moved, recovery_id, late = asyncio.run(scenario())
    assert moved is False
    assert recovery_id == "op-2"
    assert late is False  # the question is gone
