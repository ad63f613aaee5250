# SPDX-License-Identifier: Apache-2.0
"""The shared loop thread: runs coroutines to a bounded result, and stops for good."""

from __future__ import annotations

import asyncio

import pytest

from myna_edge.loop_thread import LoopThread


async def _double(value: int) -> int:
    await asyncio.sleep(0)
    return value * 2


async def _hang() -> None:
    await asyncio.sleep(60)


def test_runs_coroutines_on_its_own_thread_and_closes() -> None:
    thread = LoopThread()
    try:
        assert thread.running
        assert thread.run(_double(21)) == 42
    finally:
        thread.close()
    assert not thread.running


def test_a_run_is_bounded_by_its_timeout() -> None:
    thread = LoopThread()
    try:
        with pytest.raises(TimeoutError):
            thread.run(_hang(), timeout=0.05)
    finally:
        for task in asyncio.all_tasks(thread.loop):
            thread.loop.call_soon_threadsafe(task.cancel)
        thread.close()
