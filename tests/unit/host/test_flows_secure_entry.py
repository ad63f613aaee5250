# SPDX-License-Identifier: Apache-2.0
"""ControllerSecureEntry over a behavioural fake board: limits per prompt, copy, cancel."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from host.errors import EntryCancelledError
from host.flows import ControllerSecureEntry, Prompt, PromptKind
from host.peripherals import EntryKind
from host.secret import Secret


class FakeBlock:
    def __init__(self, value: bytes) -> None:
        self.inner = Secret(value)

    @contextmanager
    def decrypted(self) -> Iterator[Secret]:
        with self.inner as secret:
            yield secret


class FakeBoard:
    def __init__(self, value: bytes = b"ABCD1234", *, wait_for_cancel: bool = False) -> None:
        self.value, self.wait_for_cancel = value, wait_for_cancel
        self.calls: list[tuple[EntryKind, int, int]] = []
        self.blocks: list[FakeBlock] = []

    def secure_entry(
        self,
        kind: EntryKind,
        *,
        min_length: int,
        max_length: int,
        entry_timeout: float,
        on_key: object = None,
        cancel: Callable[[], bool],
    ) -> FakeBlock:
        self.calls.append((kind, min_length, max_length))
        if self.wait_for_cancel:
            deadline = time.monotonic() + 5
            while not cancel():
                if time.monotonic() > deadline:
                    raise AssertionError("never cancelled")
                time.sleep(0.005)
            raise EntryCancelledError("cancelled on the board")
        block = FakeBlock(self.value)
        self.blocks.append(block)
        return block


def test_limits_follow_the_prompt_and_the_block_copy_is_wiped() -> None:
    board = FakeBoard()

    async def scenario() -> None:
        pad = ControllerSecureEntry(board)  # type: ignore[arg-type]
        with await pad(Prompt(PromptKind.SIGNING_PASSWORD)) as secret:
            assert secret.reveal() == b"ABCD1234"
        with await pad(Prompt(PromptKind.ONE_TIME_PASSWORD)):
            pass
        await pad.aclose()

    asyncio.run(scenario())
    assert board.calls == [(EntryKind.ALNUM, 6, 16), (EntryKind.NUMERIC, 8, 8)]
    assert all(b.inner.wiped for b in board.blocks)


def test_cancelling_the_task_cancels_the_entry_on_the_board() -> None:
    board = FakeBoard(wait_for_cancel=True)

    async def scenario() -> None:
        pad = ControllerSecureEntry(board)  # type: ignore[arg-type]
        task = asyncio.ensure_future(pad(Prompt(PromptKind.AUTH_PIN)))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await pad.aclose()

    asyncio.run(scenario())
    assert board.calls == [(EntryKind.NUMERIC, 4, 4)]
