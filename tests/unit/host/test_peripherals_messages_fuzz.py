# SPDX-License-Identifier: Apache-2.0
"""Property tests for board and printer bytes: only the documented typed errors.

Why: the controller and the printer sit on a serial line anyone with a screw
driver can reach. Whatever bytes arrive, the parsers raise their documented
``ValueError`` and the drivers turn that into a ``PeripheralError`` subclass
(or drop the frame); an ``IndexError`` or ``struct.error`` must never leak.
The ports here are in-memory fakes: this file tests the decoders, the real
pty round trips are in tests/integration.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.errors import PeripheralError, PrinterError
from host.peripherals import Controller
from host.peripherals.escpos import PrinterStatus, parse_status
from host.peripherals.link import FIRST_DATA_TYPE, Frame, FrameDecoder, decode_body, encode_frame
from host.peripherals.messages import (
    BoardInfo,
    EntryKey,
    Heartbeat,
    KeyPressed,
    MessageType,
    Tamper,
    parse_event,
    parse_info,
)
from host.peripherals.printer import ReceiptPrinter
from hw_sim.devices.memory_port import MemoryPort

_SETTINGS = settings(max_examples=100, deadline=None)
_BYTE = st.integers(0, 255)


def _controller(incoming: bytes) -> Controller:
    controller = Controller("loop://", timeout=0.3)
    controller._port = MemoryPort(incoming)  # type: ignore[assignment]
    return controller


@_SETTINGS
@given(st.binary(max_size=64))
def test_parse_info_raises_only_value_error(payload: bytes) -> None:
    try:
        nonce, info = parse_info(payload)
    except ValueError:
        return
    assert len(nonce) == 4
    assert isinstance(info, BoardInfo)


@_SETTINGS
@given(_BYTE, st.binary(max_size=12))
def test_parse_event_raises_only_value_error(mtype: int, payload: bytes) -> None:
    try:
        event = parse_event(mtype, payload)
    except ValueError:
        return
    assert isinstance(event, KeyPressed | EntryKey | Tamper | Heartbeat)


@_SETTINGS
@given(st.binary(max_size=300))
def test_frame_decoding_raises_only_value_error(wire: bytes) -> None:
    try:
        frame = decode_body(wire)
    except ValueError:
        pass
    else:
        assert isinstance(frame, Frame)
    decoder = FrameDecoder()
    frames = decoder.feed(wire + b"\x00")
    assert all(f is None or isinstance(f, Frame) for f in frames)
    assert decoder.bad == frames.count(None)


@_SETTINGS
@given(_BYTE, _BYTE)
def test_parse_status_raises_only_value_error(offline: int, paper: int) -> None:
    try:
        status = parse_status(offline, paper)
    except ValueError:
        assert (offline & 0x93, paper & 0x93) != (0x12, 0x12)
    else:
        assert isinstance(status, PrinterStatus)


@_SETTINGS
@given(st.binary(max_size=3))
def test_printer_status_bytes_give_only_printer_errors(answer: bytes) -> None:
    printer = ReceiptPrinter("loop://", timeout=0.01)
    replies = (answer[:1], answer[1:2])
    printer._port = MemoryPort(b"stale", replies)  # type: ignore[assignment]
    try:
        status = printer.status()
    except PeripheralError:
        return
    assert len(answer) >= 2
    assert status == parse_status(answer[0], answer[1])


@_SETTINGS
@given(st.binary(max_size=200))
def test_random_wire_bytes_are_dropped_or_typed(wire: bytes) -> None:
    controller = _controller(wire)
    try:
        controller.pump(0)
    except PeripheralError:
        return
    assert all(
        isinstance(e, KeyPressed | EntryKey | Tamper | Heartbeat) for e in controller._events
    )


@_SETTINGS
@given(st.lists(st.tuples(st.integers(FIRST_DATA_TYPE, 255), st.binary(max_size=20)), max_size=5))
def test_random_messages_give_only_typed_events(messages: list[tuple[int, bytes]]) -> None:
    wire = b"".join(encode_frame(t, seq, p) for seq, (t, p) in enumerate(messages))
    controller = _controller(wire)
    controller.pump(0)
    events: list[Any] = list(controller._events)
    assert all(isinstance(e, KeyPressed | EntryKey | Tamper | Heartbeat) for e in events)


def _answer_status(data: bytes, status: int = 0) -> Controller:
    controller = _controller(b"")
    controller._next_id = 41  # the STATUS request will carry id 42
    result = struct.pack(">IB", 42, status) + data
    controller._port.incoming += encode_frame(MessageType.RESULT, 0, result)  # type: ignore[union-attr]
    return controller


@_SETTINGS
@given(st.binary(max_size=12), st.integers(0, 9))
def test_status_result_gives_board_status_or_peripheral_error(data: bytes, status: int) -> None:
    controller = _answer_status(data, status)
    try:
        board = controller.status()
    except PeripheralError:
        return
    assert status == 0
    assert len(data) >= 8
    assert board.kcv == data[1:4]


@pytest.mark.parametrize("data", [b"", b"\x01", b"\x01abc\x00\x00\x00"])
def test_a_short_status_result_is_a_peripheral_error(data: bytes) -> None:
    with pytest.raises(PeripheralError, match="STATUS"):
        _answer_status(data).status()


def test_a_printer_answering_garbage_is_a_printer_error() -> None:
    printer = ReceiptPrinter("loop://", timeout=0.01)
    printer._port = MemoryPort(b"", (b"\xff", b"\xff"))  # type: ignore[assignment]
    with pytest.raises(PrinterError, match="status byte"):
        printer.status()
