# SPDX-License-Identifier: Apache-2.0
"""Behavioural fakes of the layer below the host modules under test.

``FakeTransport`` is a ``CardTransport`` whose card is any function from
command bytes to response bytes. ``MiniCard`` is such a function: a tiny
ISO 7816-4 card with applications, transparent files and PIN objects, enough
to exercise the driver's edge cases (short files, odd counters, garbage)
that the real virtual card never produces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from host.transport.base import CardTransport, TransportCapabilities

__all__ = ["Card", "FakeTransport", "MiniCard", "MiniPin", "parse_command"]

Card = Callable[[bytes], bytes]

OK = b"\x90\x00"


class FakeTransport(CardTransport):
    """A transport whose card is a function from command bytes to response bytes."""

    scheme = "fake"

    def __init__(self, card: Card, *, extended: bool = True, max_response: int = 65538) -> None:
        super().__init__("fake://")
        self.card = card
        self.sent: list[bytes] = []
        self._caps = TransportCapabilities(extended, max_response)

    @property
    def atr(self) -> bytes:
        return bytes.fromhex("3B8080010101")

    @property
    def capabilities(self) -> TransportCapabilities:
        return self._caps

    def _open(self) -> None:
        pass

    def _transmit(self, command: bytes) -> bytes:
        self.sent.append(command)
        return self.card(command)

    def _close(self) -> None:
        pass


def parse_command(command: bytes) -> tuple[bytes, bytes, int | None]:
    """Split a command into header, data and Le (short or extended)."""
    header, body = command[:4], command[4:]
    if not body:
        return header, b"", None
    if len(body) == 1:
        return header, b"", body[0] or 256
    if body[0] == 0 and len(body) == 3:
        return header, b"", int.from_bytes(body[1:], "big") or 65536
    if body[0] == 0 and len(body) > 3:
        lc = int.from_bytes(body[1:3], "big")
        data, rest = body[3 : 3 + lc], body[3 + lc :]
        return header, data, (int.from_bytes(rest, "big") or 65536) if rest else None
    lc = body[0]
    data, rest = body[1 : 1 + lc], body[1 + lc :]
    return header, data, (rest[0] or 256) if rest else None


@dataclass
class MiniPin:
    """A PIN object with a counter."""

    value: bytes
    tries: int
    max_tries: int = 3
    empty_answer: bytes | None = None  # override the empty VERIFY's answer


@dataclass
class MiniCard:
    """A tiny card: ``apps[aid][fid]`` is file bytes or a ``MiniPin``."""

    apps: dict[bytes, dict[int, bytes | MiniPin]]
    app: bytes | None = None
    ef: int | None = None
    verified: set[int] = field(default_factory=set)

    def __call__(self, command: bytes) -> bytes:
        header, data, le = parse_command(command)
        ins = header[1]
        if ins == 0xA4 and header[2] == 0x04:
            if data not in self.apps:
                return b"\x6a\x82"
            self.app, self.ef, self.verified = data, None, set()
            return OK
        if self.app is None:
            return b"\x69\x85"
        files = self.apps[self.app]
        if ins == 0xA4:
            fid = int.from_bytes(data, "big")
            if fid not in files:
                return b"\x6a\x82"
            self.ef = fid
            return OK
        current = files.get(self.ef) if self.ef is not None else None
        if ins == 0xB0 and isinstance(current, bytes):
            offset = (header[2] << 8) | header[3]
            if offset >= len(current):
                return b"\x6b\x00"
            return current[offset : offset + (le or 256)] + OK
        if ins in (0x20, 0x24) and isinstance(current, MiniPin):
            return self._pin(current, ins, data)
        return b"\x6d\x00"

    def _pin(self, pin: MiniPin, ins: int, data: bytes) -> bytes:
        assert self.ef is not None
        if ins == 0x24:
            if self.ef not in self.verified:
                return b"\x69\x82"
            pin.value = data
            return OK
        if not data:
            if pin.empty_answer is not None:
                return pin.empty_answer
            return b"\x69\x84" if pin.tries == 0 else bytes([0x63, 0xC0 | pin.tries])
        if pin.tries == 0:
            return b"\x69\x84"
        if data == pin.value:
            pin.tries = pin.max_tries
            self.verified.add(self.ef)
            return OK
        pin.tries -= 1
        return bytes([0x63, 0xC0 | pin.tries])
