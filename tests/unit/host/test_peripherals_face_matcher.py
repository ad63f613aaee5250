# SPDX-License-Identifier: Apache-2.0
"""The face-matcher frame codec and driver, over the in-memory port (no pty)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.errors import (
    BoardSilentError,
    FaceMatcherError,
    FaceMatcherFrameError,
    IncompatibleBoardError,
)
from host.peripherals import face_matcher as fm
from host.peripherals.face_matcher import (
    MAX_PHOTO,
    FaceMatcher,
    FmFrame,
    FrameParser,
    MatcherState,
    MatchOutcome,
    MsgType,
    PhotoFormat,
    RejectCode,
    ThreadedFaceMatcher,
    encode_frame,
    encode_match,
)
from hw_sim.devices.memory_port import MemoryPort

PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)
JP2 = b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(32)
IDENTITY = b"\x01MYNA-SIM-FM1\x00SIM-FM-0001\x00sim-1.0"


def driver(*replies: bytes, incoming: bytes = b"") -> tuple[FaceMatcher, MemoryPort]:
    device = FaceMatcher("loop://", timeout=0.0)
    port = MemoryPort(incoming, replies)
    device._port = port  # type: ignore[assignment]
    return device, port


def test_frame_layout_and_golden_bytes() -> None:
    frame = encode_frame(MsgType.STATUS, 7)
    # SOF, STATUS, SEQ 7, LEN 0, CRC-16/CCITT-FALSE of 02 07 00 00
    assert frame.hex() == "a502070000ec38"
    (got,) = FrameParser().feed(frame)
    assert got == FmFrame(MsgType.STATUS, 7, b"")


@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=300), st.binary(max_size=8))
def test_frames_round_trip_after_noise(ftype: int, seq: int, payload: bytes, noise: bytes) -> None:
    parser = FrameParser()
    out = parser.feed(noise.replace(b"\xa5", b"") + encode_frame(ftype, seq, payload))
    assert out == [FmFrame(ftype, seq, payload)]


@given(st.binary(max_size=400))
def test_parser_returns_errors_never_raises(data: bytes) -> None:
    parser = FrameParser()
    for got in parser.feed(data):
        assert isinstance(got, FmFrame | FaceMatcherFrameError)


def test_bad_crc_and_oversize_length_are_typed_and_resync() -> None:
    good = encode_frame(MsgType.STATE, 1, b"\x00")
    corrupt = good[:-1] + bytes((good[-1] ^ 1,))
    oversize = b"\xa5\x82\x01\xff\xff"
    parser = FrameParser()
    out = parser.feed(corrupt + oversize + good)
    assert [type(x) for x in out] == [FaceMatcherFrameError, FaceMatcherFrameError, FmFrame]
    assert "CRC" in str(out[0])
    assert "length" in str(out[1])
    assert parser.bad == 2


def test_partial_frames_wait_for_the_rest() -> None:
    frame = encode_frame(MsgType.RESULT, 3, b"\x00\x50")
    parser = FrameParser()
    assert parser.feed(frame[:4]) == []
    assert parser.feed(frame[4:]) == [FmFrame(MsgType.RESULT, 3, b"\x00\x50")]


def test_match_request_bounds() -> None:
    frame = encode_match(2, JP2, timeout_ms=1500)
    (got,) = FrameParser().feed(frame)
    assert isinstance(got, FmFrame)
    assert got.payload[:3] == bytes((PhotoFormat.JPEG2000,)) + (1500).to_bytes(2, "big")
    assert got.payload[3:] == JP2
    with pytest.raises(ValueError, match="bytes"):
        encode_match(1, b"\x89PNG\r\n\x1a\n" + bytes(MAX_PHOTO), timeout_ms=1000)
    with pytest.raises(ValueError, match="timeout"):
        encode_match(1, PNG, timeout_ms=50)
    with pytest.raises(ValueError, match="neither"):
        encode_match(1, b"GIF89a", timeout_ms=1000)


def test_open_identifies_and_checks_the_version() -> None:
    device, _ = driver(encode_frame(MsgType.IDENTITY, 1, IDENTITY))
    identity = device.identify()
    assert (identity.version, identity.model, identity.serial) == (1, "MYNA-SIM-FM1", "SIM-FM-0001")
    old = FaceMatcher("loop://")
    old._port = MemoryPort(b"", (encode_frame(MsgType.IDENTITY, 1, b"\x02a\x00b\x00c"),))  # type: ignore[assignment]
    old._open_port = lambda device, timeout: old._port  # type: ignore[assignment,method-assign,return-value]
    with pytest.raises(IncompatibleBoardError):
        old.open()
    assert old.identity is None


@pytest.mark.parametrize("outcome", list(MatchOutcome))
def test_match_returns_every_outcome_with_its_score(outcome: MatchOutcome) -> None:
    device, _ = driver(encode_frame(MsgType.RESULT, 1, bytes((outcome, 42))))
    result = device.match(PNG, timeout=0.1)
    assert (result.outcome, result.score) == (outcome, 42)


def test_status_and_late_answers_are_skipped() -> None:
    late = encode_frame(MsgType.STATE, 9, b"\x01")
    device, _ = driver(late + encode_frame(MsgType.STATE, 1, b"\x00"))
    assert device.status() is MatcherState.READY


def test_bad_frame_from_the_line_is_a_typed_error_and_changes_nothing() -> None:
    good = encode_frame(MsgType.RESULT, 1, b"\x00\x50")
    device, port = driver(good[:-2] + b"\x00\x00", encode_frame(MsgType.RESULT, 2, b"\x01\x05"))
    device.identity = identity = fm.parse_identity(IDENTITY)
    with pytest.raises(FaceMatcherFrameError, match="CRC"):
        device.match(PNG, timeout=0.1)
    assert device.identity is identity
    still: object = device._port
    assert still is port  # the driver kept its port open
    assert device.match(PNG, timeout=0.1).outcome is MatchOutcome.NO_MATCH


@pytest.mark.parametrize(
    ("payload", "match"),
    [(b"\x07\x10", "unknown match outcome"), (b"\x00\xff", "malformed"), (b"\x00", "malformed")],
)
def test_malformed_results_are_typed(payload: bytes, match: str) -> None:
    device, _ = driver(encode_frame(MsgType.RESULT, 1, payload))
    with pytest.raises(FaceMatcherFrameError, match=match):
        device.match(PNG, timeout=0.1)


def test_reject_carries_its_code_and_silence_is_a_timeout() -> None:
    device, _ = driver(encode_frame(MsgType.REJECT, 1, bytes((RejectCode.BAD_REQUEST,))))
    with pytest.raises(FaceMatcherError) as refused:
        device.match(PNG, timeout=0.1)
    assert refused.value.code == RejectCode.BAD_REQUEST
    assert not isinstance(refused.value, FaceMatcherFrameError)
    with pytest.raises(FaceMatcherError, match="code 1"):
        driver(encode_frame(MsgType.REJECT, 0, b"\x01"))[0].status()
    with pytest.raises(BoardSilentError):
        driver()[0].status()


def test_an_answer_of_the_wrong_type_is_typed() -> None:
    device, _ = driver(encode_frame(MsgType.STATE, 1, b"\x00"))
    with pytest.raises(FaceMatcherFrameError, match="unexpected"):
        device.match(PNG, timeout=0.1)


def test_the_flow_port_falls_back_when_the_device_is_gone() -> None:
    port = ThreadedFaceMatcher("/nonexistent/face-matcher")
    assert asyncio.run(port.compare_face(PNG)) is None
