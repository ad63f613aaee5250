# SPDX-License-Identifier: Apache-2.0
"""host.peripherals.link: golden frames, COBS, CRC, ACK/NAK, retransmission, duplicates."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.peripherals import link
from tests.vectors.controller_frames import GoldenFrame, load_crc_checks, load_frames

FRAMES = load_frames()


def test_vectors_present() -> None:
    assert len(FRAMES) >= 10
    assert load_crc_checks() == [(b"123456789", 0x29B1)]


@pytest.mark.parametrize("frame", FRAMES, ids=lambda f: f.name)
def test_encode_matches_golden(frame: GoldenFrame) -> None:
    assert link.encode_frame(frame.type, frame.seq, frame.payload) == frame.wire


@pytest.mark.parametrize("frame", FRAMES, ids=lambda f: f.name)
def test_decode_matches_golden(frame: GoldenFrame) -> None:
    assert link.FrameDecoder().feed(frame.wire) == [
        link.Frame(frame.type, frame.seq, frame.payload)
    ]


def test_crc() -> None:
    for data, crc in load_crc_checks():
        assert link.crc16(data) == crc


@given(st.binary(max_size=600))
def test_cobs_round_trip(data: bytes) -> None:
    encoded = link.cobs_encode(data)
    assert 0 not in encoded
    assert link.cobs_decode(encoded) == data


@given(st.binary(max_size=link.MAX_PAYLOAD), st.integers(0, 255), st.integers(0, 255))
def test_single_byte_damage_never_passes(payload: bytes, position: int, flip: int) -> None:
    wire = bytearray(link.encode_frame(0x15, 1, payload))
    index = position % (len(wire) - 1)
    wire[index] ^= flip or 1
    decoded = link.FrameDecoder().feed(bytes(wire))
    assert all(f is None or f != link.Frame(0x15, 1, payload) for f in decoded)


def test_errors() -> None:
    with pytest.raises(link.FrameError):
        link.cobs_decode(b"\x05\x01")
    with pytest.raises(link.FrameError, match="CRC"):
        link.decode_body(link.encode_frame(0x10, 0, b"ab")[:-1][:-1] + b"\x01")
    with pytest.raises(ValueError, match="exceeds"):
        link.encode_frame(0x10, 0, bytes(241))
    with pytest.raises(ValueError, match="not a data"):
        link.Link().send(link.ACK, b"", 0.0)


def test_duplicate_acked_not_delivered() -> None:
    a, b = link.Link(), link.Link()
    a.send(0x10, b"x", 0.0)
    wire = a.take_output()
    assert b.receive(wire, 0.0) == [(0x10, b"x")]
    assert b.receive(wire, 0.0) == []
    assert b.duplicates == 1
    assert b.take_output() == link.encode_frame(link.ACK, 0) * 2


def test_nak_triggers_resend_and_retries_run_out() -> None:
    a, b = link.Link(retransmit_timeout=0.01, max_retries=1), link.Link()
    a.send(0x10, b"abc", 0.0)
    wire = bytearray(a.take_output())
    wire[3] ^= 0xFF
    assert b.receive(bytes(wire), 0.0) == []
    assert b.bad_frames == 1
    a.receive(b.take_output(), 0.001)
    assert a.retransmits == 1
    assert b.receive(a.take_output(), 0.002) == [(0x10, b"abc")]
    c = link.Link(retransmit_timeout=0.01, max_retries=1)
    c.send(0x10, b"x", 0.0)
    c.poll(0.02)
    assert not c.failed
    c.poll(0.04)
    assert c.failed


def test_stale_ack_is_ignored() -> None:
    a, b = link.Link(), link.Link()
    a.send(0x10, b"1", 0.0)
    a.send(0x10, b"2", 0.0)
    b.receive(a.take_output(), 0.0)
    ack0 = b.take_output()
    a.receive(ack0, 0.0)
    a.receive(ack0, 0.0)  # the same ACK again must not free frame 1
    assert not a.idle
    b.receive(a.take_output(), 0.0)
    a.receive(b.take_output(), 0.0)
    assert a.idle


def test_reset_forgets_queue() -> None:
    a = link.Link()
    a.send(0x10, b"1", 0.0)
    a.reset()
    assert a.idle


def test_sequence_wraps_in_order() -> None:
    rng = random.Random(3)
    a, b = link.Link(), link.Link()
    got = []
    for i in range(600):
        a.send(0x15, i.to_bytes(2, "big"), 0.0)
        for _, payload in b.receive(a.take_output(), 0.0):
            got.append(int.from_bytes(payload, "big"))
        if rng.random() < 0.5:
            b.receive(b"", 0.0)
        a.receive(b.take_output(), 0.0)
    assert got == list(range(600))
