# SPDX-License-Identifier: Apache-2.0
"""ccTalk frames, sans-I/O: ``dest len src header data… checksum`` in, ``Frame`` out.

Why sans-I/O: the host driver, the emulator (``hw_sim/devices/cctalk.py``)
and the fuzz target share one parser, and none of them needs a port to test
it. The "simple checksum" makes the sum of every byte of the frame 0 mod 256
(Generic Specification part 1, "message structure"); CRC-16 and encrypted
variants are not implemented (``hw_sim/devices/CCTALK.md``).

ccTalk has no start-of-frame byte: a receiver resynchronises on silence
(a gap over 50 ms resets it), which the I/O shell tells ``FrameParser`` with
``reset()``. Within a burst, a checksum failure drops one byte and tries
again, so line noise before a frame costs that frame at worst.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from host.peripherals.cctalk.errors import CcTalkFrameError

__all__ = [
    "MAX_DATA",
    "MIN_FRAME",
    "Frame",
    "FrameParser",
    "checksum",
    "decode_frame",
]

#: Data bytes one frame can carry (the length field is one byte).
MAX_DATA: Final = 255
#: dest, length, source, header, checksum.
MIN_FRAME: Final = 5


def checksum(body: bytes) -> int:
    """The byte that makes the sum of ``body`` plus itself 0 mod 256."""
    return -sum(body) & 0xFF


@dataclass(frozen=True, slots=True)
class Frame:
    """One ccTalk message: addresses, header and data (the checksum is implicit).

    Raises:
        ValueError: an address or header outside 0-255, or data over 255 bytes.
    """

    dest: int
    src: int
    header: int
    data: bytes = b""

    def __post_init__(self) -> None:
        if not all(0 <= v <= 0xFF for v in (self.dest, self.src, self.header)):
            raise ValueError("ccTalk addresses and headers are bytes")
        if len(self.data) > MAX_DATA:
            raise ValueError(f"{len(self.data)} data bytes exceed {MAX_DATA}")

    def encode(self) -> bytes:
        """The frame as sent on the wire."""
        body = bytes((self.dest, len(self.data), self.src, self.header)) + self.data
        return body + bytes((checksum(body),))

    def __repr__(self) -> str:  # a wire trace reads better than the dataclass default
        return f"Frame({self.src}->{self.dest} h{self.header} {self.data.hex(' ') or '-'})"


def decode_frame(raw: bytes) -> Frame:
    """Exactly one frame from ``raw``.

    Raises:
        CcTalkFrameError: shorter than 5 bytes, a length field that does not
            match, or a checksum that does not make the sum zero.
    """
    if len(raw) < MIN_FRAME:
        raise CcTalkFrameError(f"a ccTalk frame is at least {MIN_FRAME} bytes, not {len(raw)}")
    if raw[1] + MIN_FRAME != len(raw):
        raise CcTalkFrameError(f"length field {raw[1]} does not match {len(raw)} bytes")
    if sum(raw) & 0xFF:
        raise CcTalkFrameError("checksum mismatch")
    return Frame(raw[0], raw[2], raw[3], bytes(raw[4:-1]))


class FrameParser:
    """Bytes in, frames (or ``CcTalkFrameError``s) out; ``reset()`` on line silence.

    Errors are returned in the list, never raised, so one bad frame does not
    lose the good ones behind it. ``bad`` counts them.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.bad = 0

    @property
    def pending(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget a partial frame (the line went quiet: the sender gave up on it)."""
        self._buf.clear()

    def feed(self, data: bytes) -> list[Frame | CcTalkFrameError]:
        """Return the frames (or errors) that ``data`` completes."""
        self._buf += data
        out: list[Frame | CcTalkFrameError] = []
        while len(self._buf) >= 2:
            end = self._buf[1] + MIN_FRAME
            if len(self._buf) < end:
                break
            raw = bytes(self._buf[:end])
            try:
                frame = decode_frame(raw)
            except CcTalkFrameError as exc:
                del self._buf[:1]  # slide one byte: the next may start a frame
                self.bad += 1
                out.append(exc)
                continue
            del self._buf[:end]
            out.append(frame)
        return out
