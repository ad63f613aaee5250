# SPDX-License-Identifier: Apache-2.0
"""``hw_sim.lifecycle``: ``with`` starts on entry and stops on exit, however it ends."""

from __future__ import annotations

from typing import Self

import pytest

from hw_sim.lifecycle import StartStopABC


class _Recorder(StartStopABC):
    def __init__(self) -> None:
        self.events: list[str] = []

    def start(self) -> Self:
        self.events.append("start")
        return self

    def stop(self) -> None:
        self.events.append("stop")


def test_with_starts_then_stops() -> None:
    recorder = _Recorder()
    with recorder as entered:
        assert entered is recorder
        assert recorder.events == ["start"]
    assert recorder.events == ["start", "stop"]


def test_stops_when_the_block_raises() -> None:
    recorder = _Recorder()
    with pytest.raises(RuntimeError, match="boom"), recorder:
        raise RuntimeError("boom")
    assert recorder.events == ["start", "stop"]


def test_start_and_stop_are_required() -> None:
    class Partial(StartStopABC):
        def stop(self) -> None:
            pass

    with pytest.raises(TypeError):
        Partial()  # type: ignore[abstract]
