# SPDX-License-Identifier: Apache-2.0
"""The host's side of the controller link, sans-I/O (CPython twin of the firmware's).

Bytes in, bytes and messages out; the driver (``controller.py``) does the
serial I/O and the clock. The frame format is ``firmware/PROTOCOL.md`` §2:
COBS-encoded ``TYPE SEQ LEN PAYLOAD CRC16`` ended by one 0x00, CRC-16/CCITT
(poly 0x1021, init 0xFFFF) big-endian over TYPE..PAYLOAD. Data frames
(TYPE >= 0x10) are stop-and-wait: each waits for its ACK, is retransmitted
after ``retransmit_timeout`` and on NAK, and the receiver drops a repeated
sequence number after acknowledging it again, so messages arrive exactly
once and in order. Both this module and ``firmware/myna_fw/link.py`` are
checked against ``tests/vectors/controller_frames.txt``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = [
    "ACK",
    "FIRST_DATA_TYPE",
    "HELLO",
    "INFO",
    "MAX_PAYLOAD",
    "NAK",
    "Frame",
    "FrameDecoder",
    "FrameError",
    "Link",
    "cobs_decode",
    "cobs_encode",
    "crc16",
    "decode_body",
    "encode_frame",
]

ACK = 0x01
NAK = 0x02
HELLO = 0x03
INFO = 0x04
FIRST_DATA_TYPE = 0x10
MAX_PAYLOAD = 240
_HEADER = 3


class FrameError(ValueError):
    """A frame that does not check (COBS, length or CRC); it is dropped."""


@dataclass(frozen=True)
class Frame:
    """One decoded frame."""

    type: int
    seq: int
    payload: bytes


def crc16(data: bytes | bytearray, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no xorout."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        crc &= 0xFFFF
    return crc


def cobs_encode(data: bytes | bytearray) -> bytes:
    """Consistent Overhead Byte Stuffing: the result contains no 0x00."""
    out = bytearray(b"\x00")
    code_at, code = 0, 1
    for byte in data:
        if byte:
            out.append(byte)
            code += 1
        if not byte or code == 0xFF:
            out[code_at] = code
            code_at = len(out)
            out.append(0)
            code = 1
    out[code_at] = code
    return bytes(out)


def cobs_decode(data: bytes | bytearray) -> bytes:
    """Undo :func:`cobs_encode`.

    Raises:
        FrameError: a code byte is zero or points past the end.
    """
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        end = i + code
        if code == 0 or end > n:
            raise FrameError("bad COBS block")
        out += data[i + 1 : end]
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


def encode_frame(ftype: int, seq: int, payload: bytes = b"") -> bytes:
    """One complete frame as sent on the wire, delimiter included.

    Raises:
        ValueError: the payload is longer than ``MAX_PAYLOAD``.
    """
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    body = bytearray((ftype & 0xFF, seq & 0xFF, len(payload)))
    body += payload
    body += crc16(body).to_bytes(2, "big")
    return cobs_encode(body) + b"\x00"


def decode_body(body: bytes | bytearray) -> Frame:
    """Decode one frame without its delimiter.

    Raises:
        FrameError: COBS, length or CRC does not check.
    """
    raw = cobs_decode(body)
    if len(raw) < _HEADER + 2:
        raise FrameError("frame too short")
    if raw[2] != len(raw) - _HEADER - 2:
        raise FrameError("length field does not match")
    if crc16(raw[:-2]) != int.from_bytes(raw[-2:], "big"):
        raise FrameError("CRC mismatch")
    return Frame(raw[0], raw[1], bytes(raw[_HEADER:-2]))


class FrameDecoder:
    """Split a byte stream at 0x00 delimiters; ``None`` stands for a bad frame."""

    def __init__(self, max_frame: int = 2 * MAX_PAYLOAD) -> None:
        self._buf = bytearray()
        self._max = max_frame
        self.bad = 0

    def feed(self, data: bytes) -> list[Frame | None]:
        """Return the frames completed by ``data``."""
        frames: list[Frame | None] = []
        for byte in data:
            if byte:
                if len(self._buf) < self._max:
                    self._buf.append(byte)
                continue
            if not self._buf:
                continue
            try:
                frames.append(decode_body(self._buf))
            except FrameError:
                self.bad += 1
                frames.append(None)
            self._buf = bytearray()
        return frames


class Link:
    """One end of the reliable link; the clock is passed in (seconds, monotonic).

    Args:
        retransmit_timeout: seconds to wait for an ACK before sending again.
        max_retries: retransmissions before ``failed`` turns true.
    """

    def __init__(self, retransmit_timeout: float = 0.2, max_retries: int = 8) -> None:
        self.retransmit_timeout = retransmit_timeout
        self.max_retries = max_retries
        self._decoder = FrameDecoder()
        self._out = bytearray()
        self.retransmits = 0
        self.duplicates = 0
        self.reset()

    def reset(self) -> None:
        """Forget sequence numbers and queued messages (a new session)."""
        self._queue: deque[tuple[int, bytes]] = deque()
        self._tx_seq = 0
        self._rx_expected = 0
        self._inflight: tuple[int, bytes] | None = None
        self._sent_at = 0.0
        self._tries = 0
        self.failed = False

    @property
    def idle(self) -> bool:
        """Nothing is queued or waiting for an ACK."""
        return self._inflight is None and not self._queue

    @property
    def bad_frames(self) -> int:
        """Frames received that did not check."""
        return self._decoder.bad

    def send(self, mtype: int, payload: bytes, now: float) -> None:
        """Queue a data message.

        Raises:
            ValueError: ``mtype`` is a control type or the payload is too long.
        """
        if mtype < FIRST_DATA_TYPE:
            raise ValueError(f"0x{mtype:02X} is not a data message type")
        if len(payload) > MAX_PAYLOAD:
            raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
        self._queue.append((mtype, bytes(payload)))
        self._pump(now)

    def send_control(self, ftype: int, payload: bytes = b"") -> None:
        """Send an unsequenced control frame (HELLO) at once."""
        self._out += encode_frame(ftype, 0, payload)

    def take_output(self) -> bytes:
        """The bytes to write now."""
        out, self._out = bytes(self._out), bytearray()
        return out

    def receive(self, data: bytes, now: float) -> list[tuple[int, bytes]]:
        """Feed wire bytes; return delivered ``(type, payload)`` in order."""
        delivered: list[tuple[int, bytes]] = []
        for frame in self._decoder.feed(data):
            if frame is None:
                self._out += encode_frame(NAK, self._rx_expected)
            elif frame.type == ACK:
                if self._inflight is not None and frame.seq == self._inflight[0]:
                    self._inflight = None
                    self._pump(now)
            elif frame.type == NAK:
                if self._inflight is not None:
                    self._transmit(now)
            elif frame.type < FIRST_DATA_TYPE:
                delivered.append((frame.type, frame.payload))
            else:
                self._out += encode_frame(ACK, frame.seq)
                if frame.seq == self._rx_expected:
                    self._rx_expected = (frame.seq + 1) & 0xFF
                    delivered.append((frame.type, frame.payload))
                else:
                    self.duplicates += 1
        return delivered

    def poll(self, now: float) -> None:
        """Retransmit a frame whose ACK is late; set ``failed`` past the limit."""
        if self._inflight is None or now - self._sent_at < self.retransmit_timeout:
            return
        if self._tries > self.max_retries:
            self.failed = True
            return
        self._transmit(now)

    def _pump(self, now: float) -> None:
        if self._inflight is None and self._queue:
            mtype, payload = self._queue.popleft()
            seq = self._tx_seq
            self._tx_seq = (seq + 1) & 0xFF
            self._inflight = (seq, encode_frame(mtype, seq, payload))
            self._tries = 0
            self._transmit(now)

    def _transmit(self, now: float) -> None:
        assert self._inflight is not None
        if self._tries:
            self.retransmits += 1
        self._tries += 1
        self._sent_at = now
        self._out += self._inflight[1]
