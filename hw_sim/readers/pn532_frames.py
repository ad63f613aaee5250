# SPDX-License-Identifier: Apache-2.0
"""PN532 host-link (HSU/UART) framing, sans-I/O (pn532.md §1).

Why separate: the frame rules (preamble, normal and extended lengths, LCS
and DCS checksums, ACK/NACK) are pure byte logic that tests can drive with
golden vectors and garbage alike; the pty shell only moves bytes.

``FrameParser.feed(data)`` returns events in order: ``Command(payload)``
(the bytes after the ``D4`` TFI), ``HostAck``, ``HostNack`` and
``FrameError(reason)`` for a bad checksum or a frame not from a host.
Bytes before a start code (wake-up ``55``, ``00`` fill, junk) are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "ACK",
    "ERROR_FRAME",
    "MAX_PAYLOAD",
    "NACK",
    "Command",
    "FrameError",
    "FrameParser",
    "HostAck",
    "HostNack",
    "build_frame",
]

ACK: Final = bytes.fromhex("0000FF00FF00")
NACK: Final = bytes.fromhex("0000FFFF0000")
#: Syntax/application error frame (UM-T; libnfc turns it into NFC_EIO).
ERROR_FRAME: Final = bytes.fromhex("0000FF01FF7F8100")
#: Firmware limit for TFI + data (pn532.md §1.1).
MAX_PAYLOAD: Final = 265
_TFI_HOST: Final = 0xD4
_TFI_PN532: Final = 0xD5


@dataclass(frozen=True)
class Command:
    """A well-formed host command: ``payload`` = command code + parameters."""

    payload: bytes


@dataclass(frozen=True)
class HostAck:
    """The host's ACK: abort the running command."""


@dataclass(frozen=True)
class HostNack:
    """The host's NACK: send the last response again."""


@dataclass(frozen=True)
class FrameError:
    """A frame that failed its checks; it is dropped."""

    reason: str


Event = Command | HostAck | HostNack | FrameError


def build_frame(payload: bytes, tfi: int = _TFI_PN532) -> bytes:
    """Frame ``payload`` (command/response code + data) with TFI, LEN, LCS, DCS.

    Normal frame when TFI + payload fits 255 bytes, extended frame above.

    Raises:
        ValueError: the payload exceeds the PN532's 264-byte limit.
    """
    body = bytes([tfi]) + payload
    if len(body) > MAX_PAYLOAD:
        raise ValueError(f"PN532 frames carry at most {MAX_PAYLOAD} bytes with TFI")
    dcs = (-sum(body)) & 0xFF
    if len(body) <= 255:
        header = bytes([0x00, 0x00, 0xFF, len(body), (-len(body)) & 0xFF])
    else:
        high, low = divmod(len(body), 256)
        header = bytes([0x00, 0x00, 0xFF, 0xFF, 0xFF, high, low, (-(high + low)) & 0xFF])
    return header + body + bytes([dcs, 0x00])


class FrameParser:
    """Host→PN532 byte stream in, events out (see the module docstring)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held while a frame is incomplete."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Event]:
        """Add bytes from the host; return the events they complete."""
        self._buffer += data
        events: list[Event] = []
        while True:
            event = self._next()
            if event is None:
                return events
            events.append(event)

    def _next(self) -> Event | None:
        buf = self._buffer
        start = buf.find(b"\x00\xff")
        if start < 0:
            # Keep a trailing 00 that may begin a start code.
            del buf[: max(0, len(buf) - 1)]
            return None
        del buf[:start]
        if len(buf) < 4:
            return None
        if buf[2:4] == b"\x00\xff":
            del buf[:4]
            return HostAck()
        if buf[2:4] == b"\xff\x00":
            del buf[:4]
            return HostNack()
        if buf[2:4] == b"\xff\xff":
            if len(buf) < 7:
                return None
            length = buf[4] * 256 + buf[5]
            if (buf[4] + buf[5] + buf[6]) & 0xFF:
                del buf[:2]
                return FrameError("extended length checksum mismatch")
            head = 7
        else:
            length = buf[2]
            if (buf[2] + buf[3]) & 0xFF:
                del buf[:2]
                return FrameError("length checksum mismatch")
            head = 4
        if length == 0 or length > MAX_PAYLOAD:
            del buf[:head]
            return FrameError(f"bad frame length {length}")
        if len(buf) < head + length + 1:
            return None
        body = bytes(buf[head : head + length])
        dcs = buf[head + length]
        del buf[: head + length + 1]
        if (sum(body) + dcs) & 0xFF:
            return FrameError("data checksum mismatch")
        if body[0] != _TFI_HOST or len(body) < 2:
            return FrameError(f"not a host command (TFI {body[0]:02X})")
        return Command(body[1:])
