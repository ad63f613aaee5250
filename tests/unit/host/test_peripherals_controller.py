# SPDX-License-Identifier: Apache-2.0
"""host.peripherals.controller against a scripted board on a pty (the layer below).

The real firmware is exercised in tests/integration; here a small scripted
board built on the host's own link checks the driver's error mapping:
absent, silent, incompatible, refusals, malformed events.
"""

from __future__ import annotations

import os
import select
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from host.errors import (
    BoardAbsentError,
    BoardNotCommissionedError,
    BoardRefusedError,
    BoardSilentError,
    BoardTamperedError,
    IncompatibleBoardError,
)
from host.peripherals import Controller
from host.peripherals.link import HELLO, INFO, Link
from hw_sim.pty import open_pty

Handler = Callable[[int, bytes], tuple[int, bytes] | None]


class ScriptedBoard:
    """Answers HELLO with INFO(protocol) and each command with ``handler``."""

    def __init__(
        self, protocol: int = 1, handler: Handler | None = None, *, silent: bool = False
    ) -> None:
        self.master, self.slave, self.path = open_pty()
        self.protocol = protocol
        self.handler = handler
        self.silent = silent
        self.link = Link()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.02)
            if not ready or self.silent:
                if ready:
                    os.read(self.master, 4096)
                continue
            now = time.monotonic()
            for mtype, payload in self.link.receive(os.read(self.master, 4096), now):
                if mtype == HELLO:
                    info = (
                        payload[:4]
                        + struct.pack(">BBBBHBB", self.protocol, 1, 0, 0, 0x1FF, 0, 2)
                        + b"SB"
                    )
                    self.link.send_control(INFO, info)
                elif self.handler is not None:
                    answer = self.handler(mtype, payload)
                    if answer is not None:
                        self.link.send(answer[0], answer[1], now)
            os.write(self.master, self.link.take_output())

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def board_factory() -> Iterator[Callable[..., ScriptedBoard]]:
    boards: list[ScriptedBoard] = []

    def make(*args: object, **kwargs: object) -> ScriptedBoard:
        board = ScriptedBoard(*args, **kwargs)  # type: ignore[arg-type]
        boards.append(board)
        return board

    yield make
    for board in boards:
        board.close()


def test_absent_board() -> None:
    with pytest.raises(BoardAbsentError, match="cannot open"):
        Controller("/dev/nonexistent-myna-board").open()


def test_silent_board(board_factory: Callable[..., ScriptedBoard]) -> None:
    board = board_factory(silent=True)
    started = time.monotonic()
    with pytest.raises(BoardSilentError, match="no handshake"):
        Controller(board.path, timeout=0.3).open()
    assert time.monotonic() - started < 2


def test_incompatible_board(board_factory: Callable[..., ScriptedBoard]) -> None:
    board = board_factory(protocol=9)
    with pytest.raises(IncompatibleBoardError, match="protocol 9"):
        Controller(board.path).open()


def test_refusals_map_to_types(board_factory: Callable[..., ScriptedBoard]) -> None:
    statuses = iter([4, 3, 5])

    def refuse(mtype: int, payload: bytes) -> tuple[int, bytes]:
        return 0x80, payload[:4] + bytes((next(statuses),))

    board = board_factory(handler=refuse)
    with Controller(board.path) as controller:
        assert controller.info is not None
        assert controller.info.serial == "SB"
        with pytest.raises(BoardTamperedError):
            controller.leds(1)
        with pytest.raises(BoardNotCommissionedError):
            controller.leds(1)
        with pytest.raises(BoardRefusedError) as refused:
            controller.leds(1)
        assert refused.value.status == 5


def test_no_result_is_silent(board_factory: Callable[..., ScriptedBoard]) -> None:
    board = board_factory(handler=lambda mtype, payload: None)
    with Controller(board.path, timeout=0.3) as controller, pytest.raises(BoardSilentError):
        controller.leds(1)


def test_malformed_event_dropped(board_factory: Callable[..., ScriptedBoard]) -> None:
    def odd(mtype: int, payload: bytes) -> tuple[int, bytes]:
        return 0x90, b"too long for a key"

    board = board_factory(handler=odd)
    with Controller(board.path, timeout=0.3) as controller:
        controller.submit(0x12, 1, b"\x01")  # type: ignore[arg-type]
        assert controller.next_event(0.3) is None


def test_close_twice_is_harmless(board_factory: Callable[..., ScriptedBoard]) -> None:
    board = board_factory()
    controller = Controller(board.path)
    controller.open()
    controller.close()
    controller.close()
