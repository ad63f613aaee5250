# SPDX-License-Identifier: Apache-2.0
"""FlowContext: steps time out, cancel reaches a waiting step, service steps ignore cancel."""

from __future__ import annotations

import asyncio

import pytest

from host.errors import FlowCancelledError, StepTimeoutError
from host.flows import Event, FlowContext, StepTimeouts, Working


def test_step_returns_its_value() -> None:
    async def scenario() -> int:
        ctx = FlowContext(lambda e: None, StepTimeouts())
        return await ctx.step("x", asyncio.sleep(0, result=7), 1.0)

    assert asyncio.run(scenario()) == 7


def test_step_times_out_and_the_work_is_cancelled() -> None:
    cancelled = []

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def scenario() -> None:
        ctx = FlowContext(lambda e: None, StepTimeouts())
        with pytest.raises(StepTimeoutError, match="slow step"):
            await ctx.step("slow step", slow(), 0.02)

    asyncio.run(scenario())
    assert cancelled == [True]


def test_cancel_reaches_a_waiting_step_but_not_a_service_step() -> None:
    async def scenario() -> None:
        ctx = FlowContext(lambda e: None, StepTimeouts())
        asyncio.get_running_loop().call_later(0.02, ctx.cancel)
        with pytest.raises(FlowCancelledError):
            await ctx.step("prompt", asyncio.sleep(10), 5.0)
        # once cancelled, a service call still runs to its end
        assert (
            await ctx.step("svc", asyncio.sleep(0.01, result="done"), 1.0, cancellable=False)
            == "done"
        )
        with pytest.raises(FlowCancelledError, match="before"):
            await ctx.step("next prompt", asyncio.sleep(0), 1.0)

    asyncio.run(scenario())


def test_a_failing_listener_does_not_break_the_flow() -> None:
    seen: list[Event] = []

    def listener(event: Event) -> None:
        seen.append(event)
        raise RuntimeError("ui bug")

    ctx = FlowContext(listener, StepTimeouts())
    ctx.emit(Working("x"))
    assert seen == [Working("x")]
