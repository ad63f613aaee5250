# SPDX-License-Identifier: Apache-2.0
"""The ccTalk fuzz target: hostile bytes at the frame parser and at the bus driver.

Why here and not in the campaign's table module: the table only names
targets; this one owns its invariants. Build it with ``build_harness`` (the
campaign's ``Target.build`` signature). A clean refusal returns; a broken
invariant raises ``AssertionError``; any other exception is a finding.

Invariants: every frame the parser yields re-encodes to bytes found in the
input; every error is a ``CcTalkFrameError``; the bus driver, given the
input as a device's answer, returns data or raises a ``CcTalkError``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack, suppress
from pathlib import Path

from host.peripherals.cctalk.bus import CcTalkBus
from host.peripherals.cctalk.codes import ADDR_COIN_ACCEPTOR, ADDR_HOST, Header
from host.peripherals.cctalk.errors import CcTalkError, CcTalkFrameError
from host.peripherals.cctalk.frame import Frame, FrameParser
from host.peripherals.cctalk.messages import (
    EventTracker,
    parse_bill_id,
    parse_coin_id,
    parse_event_buffer,
    parse_hopper_status,
    parse_scaling,
)

__all__ = ["SEEDS", "build_harness", "check_frames"]


#: Seed inputs: an ACK, a credit buffer, a hopper status, a coin id, and noise before an ACK.
SEEDS: list[bytes] = [
    Frame(ADDR_HOST, ADDR_COIN_ACCEPTOR, 0).encode(),
    Frame(ADDR_HOST, ADDR_COIN_ACCEPTOR, 0, bytes([3, 3, 1, 4, 1, 0, 2, 0, 0, 0, 0])).encode(),
    Frame(ADDR_HOST, 3, 0, bytes([1, 0, 2, 1])).encode(),
    Frame(ADDR_HOST, ADDR_COIN_ACCEPTOR, 0, b"JP100A").encode(),
    b"\xff\x00" + Frame(ADDR_HOST, ADDR_COIN_ACCEPTOR, 0).encode(),
]


class _AnswerPort:
    """Just enough of a serial port: each write is echoed, then ``answer`` follows."""

    def __init__(self, answer: bytes) -> None:
        self._answer = answer
        self._incoming = bytearray()
        self.timeout: float | None = 0

    def write(self, data: bytes) -> int:
        self._incoming += data + self._answer
        return len(data)

    def read(self, n: int = 1) -> bytes:
        out = bytes(self._incoming[:n])
        del self._incoming[:n]
        return out

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def check_frames(data: bytes) -> None:
    """Feed ``data`` to the parser and the payload parsers; check the invariants.

    Raises:
        AssertionError: an invariant broke.
    """
    parser = FrameParser()
    tracker = EventTracker()
    for got in parser.feed(data):
        if isinstance(got, CcTalkFrameError):
            continue
        if not isinstance(got, Frame) or got.encode() not in data:
            raise AssertionError("a ccTalk frame parsed into another")
        for parse in (parse_hopper_status, parse_coin_id, parse_bill_id, parse_scaling):
            with suppress(CcTalkFrameError):
                parse(got.data)
        with suppress(CcTalkError):
            tracker.advance(parse_event_buffer(got.data))


def build_harness(stack: ExitStack, workdir: Path) -> Callable[[bytes], None]:
    """The harness: ``data`` through ``check_frames``, then as a reply to a 229 poll."""

    def harness(data: bytes) -> None:
        check_frames(data)
        bus = CcTalkBus("loop://", timeout=0.0, retries=0)
        bus._port = _AnswerPort(data)  # type: ignore[assignment]
        try:
            bus.request(ADDR_COIN_ACCEPTOR, Header.READ_BUFFERED_CREDIT)
        except CcTalkError:
            return

    return harness
