# SPDX-License-Identifier: Apache-2.0
"""hw_sim.readers.pn532_frames against the wire trace of pn532.md §6.

Golden frames are spaced at field boundaries: preamble+start, LEN LCS,
TFI+payload, DCS postamble.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hw_sim.readers.pn532_frames import (
    ACK,
    Command,
    FrameError,
    FrameParser,
    HostAck,
    HostNack,
    build_frame,
)


def hx(text: str) -> bytes:
    return bytes.fromhex(text)


WAKE_UP = hx("55 55" + " 00" * 14)
# (host frame, command payload, response payload, response frame) — §6 rows 1-4, 13, 14
GOLDEN = [
    ("0000FF 03FD D41401 17 00", "14 01", "15", "0000FF 02FE D515 16 00"),
    (
        "0000FF 09F7 D400006C69626E6663 BE 00",
        "00 00 6C 69 62 6E 66 63",
        "01 00 6C 69 62 6E 66 63",
        "0000FF 09F7 D50100 6C69626E6663 BC 00",
    ),
    ("0000FF 02FE D402 2A 00", "02", "03 32 01 06 07", "0000FF 06FA D50332010607 E8 00"),
    ("0000FF 03FD D41214 06 00", "12 14", "13", "0000FF 02FE D513 18 00"),
    (
        "0000FF 12EE D44001 00A4040C0AD392F000260100000001 B0 00",
        "40 01 00A4040C0AD392F000260100000001",
        "41 00 90 00",
        "0000FF 05FB D541009000 5A 00",
    ),
    ("0000FF 03FD D44400 E8 00", "44 00", "45 00", "0000FF 03FD D54500 E6 00"),
]


@pytest.mark.parametrize(("host", "command", "response", "frame"), GOLDEN)
def test_golden_frames(host: str, command: str, response: str, frame: str) -> None:
    assert FrameParser().feed(hx(host)) == [Command(hx(command))]
    assert build_frame(hx(response)) == hx(frame)


def test_wake_up_then_sam_configuration_byte_by_byte() -> None:
    parser = FrameParser()
    wire = WAKE_UP + hx(GOLDEN[0][0])
    events = [e for byte in wire for e in parser.feed(bytes([byte]))]
    assert events == [Command(hx("14 01"))]
    assert parser.pending <= 1


def test_extended_response_frame_for_a_256_byte_read() -> None:
    payload = b"\x41\x00" + bytes(256) + b"\x90\x00"
    frame = build_frame(payload)
    assert frame[:8] == hx("0000FF FFFF 0105 FA")
    assert frame[8] == 0xD5
    assert len(frame) == 8 + 0x105 + 2
    assert frame[-1] == 0


def test_extended_host_frame_is_parsed() -> None:
    payload = hx("40 01") + bytes(260)
    frame = build_frame(payload, tfi=0xD4)
    assert frame[3:5] == b"\xff\xff"
    assert FrameParser().feed(frame) == [Command(payload)]


def test_ack_nack_and_errors() -> None:
    parser = FrameParser()
    assert parser.feed(ACK) == [HostAck()]
    assert parser.feed(hx("0000FFFF0000")) == [HostNack()]
    bad_lcs = parser.feed(hx("0000FF 03FC D41401 17 00"))
    assert bad_lcs == [FrameError("length checksum mismatch")]
    bad_dcs = FrameParser().feed(hx("0000FF 03FD D41401 18 00"))
    assert bad_dcs == [FrameError("data checksum mismatch")]
    not_host = FrameParser().feed(build_frame(hx("15")))
    assert isinstance(not_host[0], FrameError)
    assert "TFI D5" in not_host[0].reason
    bad_ext = FrameParser().feed(hx("0000FF FFFF 0105 00"))
    assert bad_ext == [FrameError("extended length checksum mismatch")]


def test_a_good_frame_after_garbage_is_still_understood() -> None:
    events = FrameParser().feed(hx("13 37 00 FF 05 00") + hx(GOLDEN[2][0]))
    assert events[-1] == Command(hx("02"))


def test_build_frame_refuses_oversize() -> None:
    with pytest.raises(ValueError, match="at most"):
        build_frame(bytes(265))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_garbage_never_raises(data: bytes) -> None:
    parser = FrameParser()
    for event in parser.feed(data):
        assert isinstance(event, Command | HostAck | HostNack | FrameError)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=264), st.integers(min_value=1, max_value=64))
def test_round_trip_in_any_chunking(payload: bytes, chunk: int) -> None:
    wire = build_frame(payload, tfi=0xD4)
    parser = FrameParser()
    events = [e for i in range(0, len(wire), chunk) for e in parser.feed(wire[i : i + chunk])]
    assert events == [Command(payload)]
