# SPDX-License-Identifier: Apache-2.0
"""Stopping the agent's background tasks: a cancellation that is swallowed once still ends them."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from host.agent.runner import _cancel


async def _swallows_the_first_cancel(ended: list[bool]) -> None:
    # What Python 3.11's wait_for can do when its inner future completes:
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(60)
    try:
        await asyncio.sleep(60)
    finally:
        ended.append(True)


def test_a_task_that_swallows_one_cancel_is_cancelled_again() -> None:
    async def scenario() -> list[bool]:
        ended: list[bool] = []
        task = asyncio.ensure_future(_swallows_the_first_cancel(ended))
        await asyncio.sleep(0)
        await asyncio.wait_for(_cancel(task), timeout=10)
        assert task.cancelled()
        return ended

    assert asyncio.run(scenario()) == [True]


def test_a_task_that_failed_on_its_own_still_raises() -> None:
    async def fails() -> None:
        raise RuntimeError("background failure")

    async def scenario() -> None:
        task = asyncio.ensure_future(fails())
        await asyncio.sleep(0)
        await _cancel(task)

    with pytest.raises(RuntimeError, match="background failure"):
        asyncio.run(scenario())
