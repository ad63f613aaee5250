# SPDX-License-Identifier: Apache-2.0
"""Controller message types, codes and typed events (firmware/PROTOCOL.md §3–4).

The numbers are the firmware's ``myna_fw/proto.py``, spelled again for
CPython; the golden frame vectors keep the two equal. Events are frozen
dataclasses; none of them carries a key value from secure entry, because
the board never sends one.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

__all__ = [
    "PROTOCOL_VERSION",
    "BoardInfo",
    "BoardStatus",
    "Command",
    "EntryAction",
    "EntryKey",
    "EntryKind",
    "EntryOutcome",
    "Event",
    "Flag",
    "Heartbeat",
    "Key",
    "KeyPressed",
    "MessageType",
    "Status",
    "Tamper",
    "parse_event",
    "parse_info",
]

#: The protocol version this driver speaks.
PROTOCOL_VERSION = 1


class Command(IntEnum):
    """Host -> board commands; each payload starts with the request id (u32)."""

    STATUS = 0x10
    DISPLAY = 0x11
    LEDS = 0x12
    BUZZ = 0x13
    HEARTBEAT = 0x14
    ECHO = 0x15
    SECURE_ENTRY = 0x20
    CANCEL_ENTRY = 0x21
    INJECT_KEY = 0x30
    ROTATE_KEY = 0x31
    FW_STATUS = 0x40  # firmware update (docs/firmware-updates.md)
    FW_BEGIN = 0x41
    FW_CHUNK = 0x42
    FW_COMMIT = 0x43
    FW_ABORT = 0x44


class MessageType(IntEnum):
    """Board -> host messages."""

    RESULT = 0x80
    KEY = 0x90
    ENTRY_KEY = 0x91
    ENTRY_DONE = 0x92
    TAMPER = 0x93
    HEARTBEAT = 0x94


class Status(IntEnum):
    """RESULT status codes."""

    OK = 0
    BAD_REQUEST = 1
    UNKNOWN_COMMAND = 2
    NOT_COMMISSIONED = 3
    TAMPERED = 4
    BUSY = 5
    ALREADY_COMMISSIONED = 6
    AUTH_FAILED = 7
    NO_ENTRY = 8
    IMAGE_INVALID = 9
    BAD_SIGNATURE = 10
    WRONG_BOARD = 11
    DOWNGRADE = 12
    BAD_OFFSET = 13
    NO_UPDATE = 14


class EntryKind(IntEnum):
    """What secure entry collects."""

    NUMERIC = 1  # a PIN of digits
    ALNUM = 2  # 6-16 of A-Z 0-9 by multi-tap (the JPKI signing password)


class EntryAction(IntEnum):
    """What a key did during secure entry (never which key)."""

    PRESSED = 1
    DELETED = 2
    REFUSED = 3


class EntryOutcome(IntEnum):
    """How a secure entry ended."""

    OK = 0
    CANCELLED = 1
    TIMEOUT = 2
    TAMPER = 3


class Flag(IntEnum):
    """State flag bits (INFO, STATUS, TAMPER, HEARTBEAT)."""

    COMMISSIONED = 0x01
    TAMPERED = 0x02
    ENTRY_ACTIVE = 0x04


class Key(IntEnum):
    """Key codes in plain mode (digits, ``*`` and ``#`` are their ASCII codes)."""

    CLEAR = 0x08
    ENTER = 0x0D
    CANCEL = 0x18
    F1 = 0x81


class _StateFlags:
    """Reads the ``Flag`` bits that INFO and STATUS both carry."""

    flags: int

    @property
    def commissioned(self) -> bool:
        """A key is injected."""
        return bool(self.flags & Flag.COMMISSIONED)

    @property
    def tampered(self) -> bool:
        """The tamper switch has opened (erasing the keys) since the last commissioning."""
        return bool(self.flags & Flag.TAMPERED)


@dataclass(frozen=True)
class BoardInfo(_StateFlags):
    """The board's answer to the handshake."""

    protocol_version: int
    firmware_version: tuple[int, int, int]
    capabilities: int
    flags: int
    serial: str


@dataclass(frozen=True)
class BoardStatus(_StateFlags):
    """STATUS result: state flags, key check value and PIN-block counter."""

    flags: int
    kcv: bytes
    counter: int


@dataclass(frozen=True)
class KeyPressed:
    """A key pressed in plain mode (function keys, menu navigation)."""

    code: int


@dataclass(frozen=True)
class EntryKey:
    """A key pressed during secure entry: what it did, never which key."""

    request_id: int
    action: EntryAction
    length: int


@dataclass(frozen=True)
class Tamper:
    """The tamper switch opened; the board erased its keys."""

    flags: int


@dataclass(frozen=True)
class Heartbeat:
    """The board is alive."""

    uptime_ms: int
    flags: int


Event = KeyPressed | EntryKey | Tamper | Heartbeat


def parse_info(payload: bytes) -> tuple[bytes, BoardInfo]:
    """Parse an INFO payload into ``(nonce, BoardInfo)``.

    Raises:
        ValueError: the payload is malformed.
    """
    if len(payload) < 12:
        raise ValueError("INFO payload too short")
    nonce = payload[:4]
    proto, major, minor, patch, caps, flags, n = struct.unpack(">BBBBHBB", payload[4:12])
    serial = payload[12 : 12 + n]
    if len(serial) != n:
        raise ValueError("INFO serial truncated")
    return nonce, BoardInfo(proto, (major, minor, patch), caps, flags, serial.decode("ascii"))


def parse_event(mtype: int, payload: bytes) -> Event:
    """Parse an unsolicited event (not RESULT, not ENTRY_DONE).

    Raises:
        ValueError: unknown type or malformed payload.
    """
    if mtype == MessageType.KEY and len(payload) == 1:
        return KeyPressed(payload[0])
    if mtype == MessageType.ENTRY_KEY and len(payload) == 6:
        request_id, action, length = struct.unpack(">IBB", payload)
        return EntryKey(request_id, EntryAction(action), length)
    if mtype == MessageType.TAMPER and len(payload) == 1:
        return Tamper(payload[0])
    if mtype == MessageType.HEARTBEAT and len(payload) == 5:
        uptime, flags = struct.unpack(">IB", payload)
        return Heartbeat(uptime, flags)
    raise ValueError(f"unexpected message 0x{mtype:02X} of {len(payload)} bytes")
