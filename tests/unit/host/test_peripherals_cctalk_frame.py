# SPDX-License-Identifier: Apache-2.0
"""The ccTalk frame codec and reply parsers (sans-I/O), with golden bytes and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.errors import PaymentDeviceError
from host.peripherals.cctalk.errors import CcTalkError, CcTalkFrameError
from host.peripherals.cctalk.frame import Frame, FrameParser, checksum, decode_frame
from host.peripherals.cctalk.fuzzing import SEEDS, build_harness, check_frames
from host.peripherals.cctalk.messages import (
    EventBuffer,
    EventTracker,
    parse_bill_id,
    parse_coin_id,
    parse_event_buffer,
    parse_hopper_status,
    parse_scaling,
)

#: Golden frames, spaced at field boundaries: dest len src header data checksum.
SIMPLE_POLL = bytes.fromhex("02 00 01 fe ff")  # the Generic Specification's own example
ACK_FROM_COIN = bytes.fromhex("01 00 02 00 fd")
CATEGORY_REPLY = bytes.fromhex("01 0d 02 00 436f696e204163636570746f72 16")

frames = st.builds(
    Frame,
    dest=st.integers(0, 255),
    src=st.integers(0, 255),
    header=st.integers(0, 255),
    data=st.binary(max_size=255),
)


def test_golden_frames() -> None:
    assert Frame(2, 1, 254).encode() == SIMPLE_POLL
    assert Frame(1, 2, 0).encode() == ACK_FROM_COIN
    assert decode_frame(CATEGORY_REPLY) == Frame(1, 2, 0, b"Coin Acceptor")
    assert sum(CATEGORY_REPLY) % 256 == 0


@given(frames)
def test_every_frame_round_trips_and_sums_to_zero(frame: Frame) -> None:
    raw = frame.encode()
    assert sum(raw) & 0xFF == 0
    assert decode_frame(raw) == frame
    assert FrameParser().feed(raw) == [frame]


@given(frames, st.integers(0, 1000), st.integers(1, 255))
def test_a_flipped_byte_never_decodes(frame: Frame, where: int, flip: int) -> None:
    raw = bytearray(frame.encode())
    raw[where % len(raw)] ^= flip
    with pytest.raises(CcTalkFrameError):
        decode_frame(bytes(raw))


@given(st.lists(frames, max_size=4), st.integers(1, 40))
def test_frames_split_anywhere_arrive_whole(items: list[Frame], cut: int) -> None:
    raw = b"".join(f.encode() for f in items)
    parser = FrameParser()
    got = []
    for start in range(0, len(raw), cut):
        got += parser.feed(raw[start : start + cut])
    assert got == items
    assert parser.pending == 0


def test_reset_drops_a_partial_frame_and_bad_frames_are_counted() -> None:
    parser = FrameParser()
    assert parser.feed(SIMPLE_POLL[:3]) == []
    parser.reset()
    assert parser.feed(SIMPLE_POLL) == [Frame(2, 1, 254)]
    (bad, *rest) = parser.feed(b"\x02\x00\x01\xfe\x00")
    assert isinstance(bad, CcTalkFrameError)
    assert isinstance(bad, PaymentDeviceError)  # the flow sees a device error
    assert parser.bad >= 1
    assert rest == [] or all(isinstance(r, CcTalkFrameError) for r in rest)


@pytest.mark.parametrize(
    "raw", [b"", b"\x01\x00\x02", b"\x01\x05\x02\x00\xf9", b"\x01\x00\x02\x00\x00"]
)
def test_decode_refusals_are_typed(raw: bytes) -> None:
    with pytest.raises(CcTalkFrameError):
        decode_frame(raw)


def test_frame_refuses_out_of_range_fields() -> None:
    with pytest.raises(ValueError, match="bytes"):
        Frame(256, 1, 0)
    with pytest.raises(ValueError, match="exceed"):
        Frame(2, 1, 0, bytes(256))
    assert checksum(b"\x02\x00\x01\xfe") == 0xFF


def _buffer(counter: int, *events: tuple[int, int]) -> EventBuffer:
    pairs = list(events) + [(0, 0)] * (5 - len(events))
    return parse_event_buffer(bytes([counter, *(v for p in pairs for v in p)]))


def test_event_tracker_yields_new_events_oldest_first_and_wraps_255_to_1() -> None:
    tracker = EventTracker()
    assert tracker.advance(_buffer(254, (3, 1))) == []  # first read is the baseline
    assert tracker.advance(_buffer(254, (3, 1))) == []  # a repeated read credits nothing
    got = tracker.advance(_buffer(1, (4, 1), (1, 1), (3, 1)))  # 255 then 1
    assert got == [(1, 1), (4, 1)]


def test_event_tracker_refuses_lost_events_and_a_reset() -> None:
    tracker = EventTracker()
    tracker.sync(_buffer(10))
    with pytest.raises(CcTalkError, match="only 5"):
        tracker.advance(_buffer(16))
    tracker.sync(_buffer(10))
    with pytest.raises(CcTalkError, match="reset"):
        tracker.advance(_buffer(0))


@given(st.integers(0, 255), st.integers(0, 5))
def test_event_tracker_counts_exactly_the_new_events(start: int, new: int) -> None:
    tracker = EventTracker()
    tracker.sync(_buffer(start))
    counter = start
    for _ in range(new):
        counter = counter % 255 + 1
    events = [(i + 1, 1) for i in range(new)][::-1]
    assert len(tracker.advance(_buffer(counter, *events))) == new


def test_reply_parsers() -> None:
    assert parse_hopper_status(bytes([7, 0, 3, 0])).paid == 3
    assert parse_coin_id(b"JP100A") == 100
    assert parse_coin_id(b"......") is None
    assert parse_coin_id(b"GB100A") is None
    assert parse_bill_id(b"JP0010A") == 10
    assert parse_scaling(b"\x64\x00\x00") == (100, 0)
    for parse, raw in [
        (parse_hopper_status, b"\x00"),
        (parse_coin_id, b"JPxxxA"),
        (parse_coin_id, b"JP\xff00A"),
        (parse_bill_id, b"JP10A"),
        (parse_scaling, b"\x00\x00\x00"),
        (parse_event_buffer, b"\x01\x02"),
    ]:
        with pytest.raises(CcTalkFrameError):
            parse(raw)  # type: ignore[operator]


@given(st.binary(max_size=300))
def test_fuzz_harness_refuses_cleanly(data: bytes) -> None:
    check_frames(data)
    build_harness(None, None)(data)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", SEEDS)
def test_fuzz_seeds_parse(seed: bytes) -> None:
    assert any(isinstance(got, Frame) for got in FrameParser().feed(seed))
    build_harness(None, None)(seed)  # type: ignore[arg-type]


def test_fuzz_harness_accepts_a_real_reply() -> None:
    reply = Frame(1, 2, 0, bytes([1, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0])).encode()
    build_harness(None, None)(reply)  # type: ignore[arg-type]
    check_frames(SIMPLE_POLL + reply)
