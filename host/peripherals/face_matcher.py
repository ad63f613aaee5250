# SPDX-License-Identifier: Apache-2.0
"""The face-matching reader: a camera that compares the holder with the chip photo.

Why a device of its own: clinics and some counters have readers that take
the holder's picture and compare it with the photo read from the chip; the
matching is the device's, the host only sends the photo and reads the
verdict. The protocol is ``host/peripherals/FACE_MATCHER.md``: request and
answer frames ``SOF TYPE SEQ LEN(2) PAYLOAD CRC16``, one answer per request.

Three layers, as for the controller: ``FrameParser`` and the ``encode_*``
functions are sans-I/O (bytes in, frames out; fuzzed as
``host_face_matcher_frames``); ``FaceMatcher`` does the serial I/O over a
pyserial URL; ``ThreadedFaceMatcher`` is the counter flow's
``FaceMatcherPort``, which turns every outcome the device cannot decide
(no face, busy, error, the device gone) into "staff compare" (None).
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

import serial

from host.errors import (
    BoardAbsentError,
    BoardSilentError,
    FaceMatcherError,
    FaceMatcherFrameError,
    IncompatibleBoardError,
    PeripheralError,
)
from host.peripherals.link import crc16
from host.peripherals.serial_port import SerialPeripheralABC

__all__ = [
    "MAX_PHOTO",
    "PROTOCOL_VERSION",
    "FaceMatcher",
    "FmFrame",
    "FrameParser",
    "MatchOutcome",
    "MatchResult",
    "MatcherIdentity",
    "MatcherState",
    "MsgType",
    "PhotoFormat",
    "RejectCode",
    "ThreadedFaceMatcher",
    "encode_frame",
    "encode_match",
    "parse_identity",
    "parse_result",
    "photo_format",
]

_log = logging.getLogger(__name__)

PROTOCOL_VERSION: Final = 1
SOF: Final = 0xA5
#: The largest photo a MATCH carries (a card's JPEG 2000 photo is a few KiB).
MAX_PHOTO: Final = 16 * 1024
#: The largest payload: a MATCH request (format, timeout, photo).
MAX_PAYLOAD: Final = 3 + MAX_PHOTO
_HEAD = struct.Struct(">BBBH")  # SOF TYPE SEQ LEN
#: The match timeout a request may ask for, in milliseconds.
MIN_TIMEOUT_MS: Final = 100
MAX_TIMEOUT_MS: Final = 30_000


class MsgType(IntEnum):
    """Frame types (§3); an answer's type is its request's with bit 7 set."""

    IDENTIFY = 0x01
    STATUS = 0x02
    MATCH = 0x03
    IDENTITY = 0x81
    STATE = 0x82
    RESULT = 0x83
    REJECT = 0xFF


class PhotoFormat(IntEnum):
    """How the MATCH photo is encoded."""

    JPEG2000 = 1
    PNG = 2


class MatchOutcome(IntEnum):
    """The RESULT's outcome byte (§4)."""

    MATCH = 0
    NO_MATCH = 1
    NO_FACE = 2
    BUSY = 3
    ERROR = 4


class MatcherState(IntEnum):
    """The STATE answer's byte."""

    READY = 0
    BUSY = 1
    FAULT = 2


class RejectCode(IntEnum):
    """Why the device refused a request (REJECT payload)."""

    BAD_FRAME = 1
    UNKNOWN_COMMAND = 2
    BAD_REQUEST = 3


@dataclass(frozen=True)
class FmFrame:
    """One frame that checked."""

    type: int
    seq: int
    payload: bytes


@dataclass(frozen=True)
class MatcherIdentity:
    """What IDENTIFY answers."""

    version: int
    model: str
    serial: str
    firmware: str


@dataclass(frozen=True)
class MatchResult:
    """The device's verdict; ``score`` is its similarity, 0-100 (0 when none)."""

    outcome: MatchOutcome
    score: int


def encode_frame(ftype: int, seq: int, payload: bytes = b"") -> bytes:
    """One frame as sent on the wire.

    Raises:
        ValueError: the payload is longer than ``MAX_PAYLOAD``.
    """
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    body = bytes((ftype & 0xFF, seq & 0xFF)) + len(payload).to_bytes(2, "big") + payload
    return bytes((SOF,)) + body + crc16(body).to_bytes(2, "big")


_JP2_BOX: Final = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_J2K_CODESTREAM: Final = b"\xff\x4f\xff\x51"
_PNG: Final = b"\x89PNG\r\n\x1a\n"


def photo_format(photo: bytes) -> PhotoFormat:
    """JPEG 2000 (JP2 box or bare codestream) or PNG, by signature.

    Raises:
        ValueError: neither.
    """
    if photo.startswith((_JP2_BOX, _J2K_CODESTREAM)):
        return PhotoFormat.JPEG2000
    if photo.startswith(_PNG):
        return PhotoFormat.PNG
    raise ValueError("the photo is neither JPEG 2000 nor PNG")


def encode_match(seq: int, photo: bytes, *, timeout_ms: int) -> bytes:
    """A MATCH request frame.

    Raises:
        ValueError: the photo is empty, too large or of another format, or
            the timeout is outside 100-30000 ms.
    """
    if not photo or len(photo) > MAX_PHOTO:
        raise ValueError(f"the photo must be 1-{MAX_PHOTO} bytes, not {len(photo)}")
    if not MIN_TIMEOUT_MS <= timeout_ms <= MAX_TIMEOUT_MS:
        raise ValueError(f"timeout of {timeout_ms} ms is outside 100-30000")
    head = bytes((photo_format(photo),)) + timeout_ms.to_bytes(2, "big")
    return encode_frame(MsgType.MATCH, seq, head + photo)


class FrameParser:
    """Sans-I/O: bytes in, complete frames out; a bad frame is an error in the list.

    Bytes before a SOF are skipped (line noise between frames). A length over
    ``MAX_PAYLOAD`` or a CRC that does not check yields ``FaceMatcherFrameError``
    and drops that frame's SOF, so the parser resynchronises on the next one.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.bad = 0

    def feed(self, data: bytes) -> list[FmFrame | FaceMatcherFrameError]:
        """Return the frames (or errors) completed by ``data``."""
        self._buf += data
        out: list[FmFrame | FaceMatcherFrameError] = []
        while True:
            start = self._buf.find(SOF)
            if start < 0:
                self._buf.clear()
                return out
            del self._buf[:start]
            if len(self._buf) < _HEAD.size:
                return out
            _, ftype, seq, length = _HEAD.unpack_from(self._buf)
            if length > MAX_PAYLOAD:
                out.append(self._bad(f"length {length} exceeds {MAX_PAYLOAD}"))
                continue
            end = _HEAD.size + length + 2
            if len(self._buf) < end:
                return out
            body = bytes(self._buf[1 : end - 2])
            if crc16(body) != int.from_bytes(self._buf[end - 2 : end], "big"):
                out.append(self._bad("CRC mismatch"))
                continue
            del self._buf[:end]
            out.append(FmFrame(ftype, seq, body[4:]))

    def _bad(self, why: str) -> FaceMatcherFrameError:
        del self._buf[:1]
        self.bad += 1
        return FaceMatcherFrameError(f"bad frame from the face matcher: {why}")


def parse_identity(payload: bytes) -> MatcherIdentity:
    """An IDENTITY payload: version, then model, serial and firmware separated by NUL.

    Raises:
        FaceMatcherFrameError: not that shape or not UTF-8.
    """
    try:
        model, serial_no, firmware = payload[1:].decode("utf-8").split("\x00")
    except (IndexError, ValueError):
        raise FaceMatcherFrameError("malformed IDENTITY answer") from None
    return MatcherIdentity(payload[0], model, serial_no, firmware)


def parse_result(payload: bytes) -> MatchResult:
    """A RESULT payload: outcome, score.

    Raises:
        FaceMatcherFrameError: wrong length, unknown outcome or a score over 100.
    """
    if len(payload) != 2 or payload[1] > 100:
        raise FaceMatcherFrameError("malformed RESULT answer")
    try:
        return MatchResult(MatchOutcome(payload[0]), payload[1])
    except ValueError:
        raise FaceMatcherFrameError(f"unknown match outcome {payload[0]}") from None


class FaceMatcher(SerialPeripheralABC):
    """The face-matching reader behind a pyserial URL; a context manager.

    Args:
        url: anything ``serial.serial_for_url`` opens.
        timeout: seconds to wait for an answer to IDENTIFY and STATUS (a
            MATCH waits its own timeout plus this).
    """

    def __init__(self, url: str, *, timeout: float = 1.0, baudrate: int = 115200) -> None:
        super().__init__(url, baudrate=baudrate)
        self.timeout = timeout
        self.identity: MatcherIdentity | None = None
        self._seq = 0

    def open(self) -> MatcherIdentity:
        """Open the port and identify the device.

        Raises:
            BoardAbsentError: the port cannot be opened.
            BoardSilentError: no answer; FaceMatcherError: a bad answer.
            IncompatibleBoardError: another protocol version.
        """
        self._open_port("face matcher", timeout=0.05)
        try:
            identity = self.identify()
        except PeripheralError:
            self.close()
            raise
        if identity.version != PROTOCOL_VERSION:
            self.close()
            raise IncompatibleBoardError(
                f"the face matcher speaks protocol {identity.version}, not {PROTOCOL_VERSION}"
            )
        self.identity = identity
        return identity

    def identify(self) -> MatcherIdentity:
        """Ask the device who it is (IDENTIFY)."""
        return parse_identity(self._exchange(MsgType.IDENTIFY, b"", MsgType.IDENTITY, self.timeout))

    def status(self) -> MatcherState:
        """Ask whether the device is ready (STATUS).

        Raises:
            FaceMatcherFrameError: an unknown state byte.
        """
        payload = self._exchange(MsgType.STATUS, b"", MsgType.STATE, self.timeout)
        try:
            return MatcherState(payload[0]) if len(payload) == 1 else MatcherState(-1)
        except ValueError:
            raise FaceMatcherFrameError("malformed STATE answer") from None

    def match(self, photo: bytes, *, timeout: float = 5.0) -> MatchResult:
        """Send the chip photo; the device compares it with the face it sees.

        Args:
            photo: JPEG 2000 or PNG, at most ``MAX_PHOTO`` bytes.
            timeout: seconds the device may look for a face (0.1-30).

        Raises:
            ValueError: the photo or timeout is out of bounds (nothing sent).
            FaceMatcherError: refused (``.code``) or a bad answer.
            BoardSilentError, BoardAbsentError: the device is gone.
        """
        seq = self._next_seq()
        frame = encode_match(seq, photo, timeout_ms=round(timeout * 1000))
        payload = self._send_and_wait(frame, seq, MsgType.RESULT, timeout + self.timeout)
        return parse_result(payload)

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def _exchange(self, request: MsgType, payload: bytes, answer: MsgType, wait: float) -> bytes:
        seq = self._next_seq()
        return self._send_and_wait(encode_frame(request, seq, payload), seq, answer, wait)

    def _io(self) -> serial.SerialBase:
        if self._port is None:
            raise FaceMatcherError("the face matcher is closed")
        return self._port

    def _send_and_wait(self, frame: bytes, seq: int, answer: MsgType, wait: float) -> bytes:
        """Write ``frame`` and return the payload of the answer with ``seq``.

        A bad frame raises ``FaceMatcherFrameError`` and leaves the driver as
        it was: the next request drains the line first.
        """
        port, parser = self._io(), FrameParser()
        try:
            port.timeout = 0
            port.read(4096)  # drop anything stale before asking
            port.timeout = 0.05
            port.write(frame)
            port.flush()
            deadline = time.monotonic() + wait
            while True:  # read at least once, even with no time to wait
                for got in parser.feed(port.read(4096)):
                    if isinstance(got, FaceMatcherFrameError):
                        raise got
                    code = got.payload[0] if len(got.payload) == 1 else 0
                    bad_frame = got.type == MsgType.REJECT and code == RejectCode.BAD_FRAME
                    if got.seq != seq and not bad_frame:
                        continue  # a late answer to an earlier request
                    if got.type == MsgType.REJECT:
                        raise FaceMatcherError(f"the face matcher refused (code {code})", code=code)
                    if got.type != answer:
                        raise FaceMatcherFrameError(f"unexpected answer type 0x{got.type:02X}")
                    return got.payload
                if time.monotonic() >= deadline:
                    break
        except (serial.SerialException, OSError) as exc:
            raise BoardAbsentError(f"the face matcher link failed: {exc}") from exc
        raise BoardSilentError("the face matcher did not answer")


class ThreadedFaceMatcher:
    """The counter flow's ``FaceMatcherPort`` over a URL; opens the device per check.

    Why per check: a camera unplugged between customers must not stop the
    desk; every outcome the device cannot decide (NO_FACE, BUSY, ERROR, a
    refused or garbled answer, the device gone) is None, so staff compare.

    Args:
        url: the device's pyserial URL (``[counter] face_matcher``).
        timeout: seconds the device may look for a face.
    """

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout

    async def compare_face(self, photo: bytes) -> bool | None:
        """True: the device matched; False: it did not; None: staff compare."""
        return await asyncio.to_thread(self._compare, photo)

    def _compare(self, photo: bytes) -> bool | None:
        try:
            with FaceMatcher(self.url) as device:
                result = device.match(photo, timeout=self.timeout)
        except (PeripheralError, ValueError) as exc:
            _log.warning("face matcher unavailable, staff compare: %s", exc)
            return None
        _log.info("face matcher: %s (score %d)", result.outcome.name, result.score)
        return _DECIDED.get(result.outcome)


_DECIDED: Final = {MatchOutcome.MATCH: True, MatchOutcome.NO_MATCH: False}
