# SPDX-License-Identifier: Apache-2.0
"""Serial peripherals: the controller board (PIN pad, display, tamper), the printer
and the face-matching reader (``face_matcher``).

Both are opened by pyserial URL (``serial.serial_for_url``), so a real port,
the simulator's pty, ``spy://`` and ``socket://`` all work::

    with Controller("/dev/ttyACM0", key=board_key) as board:
        encrypted = board.secure_entry(EntryKind.NUMERIC, min_length=4, max_length=4)
        with encrypted.decrypted() as pin:
            card.verify(PinKind.AUTH, pin)

The link protocol (``link``) and the ESC/POS encoder (``escpos``) are
sans-I/O; ``controller`` and ``printer`` do the serial I/O.
"""

from __future__ import annotations

from host.peripherals.controller import Controller
from host.peripherals.counters import CounterStore
from host.peripherals.face_matcher import FaceMatcher, MatchOutcome, MatchResult
from host.peripherals.messages import (
    BoardInfo,
    BoardStatus,
    EntryAction,
    EntryKey,
    EntryKind,
    Heartbeat,
    KeyPressed,
    Tamper,
)
from host.peripherals.pinblock import BoardKey, EncryptedPin, ReplayGuard

__all__ = [
    "BoardInfo",
    "BoardKey",
    "BoardStatus",
    "Controller",
    "CounterStore",
    "EncryptedPin",
    "EntryAction",
    "EntryKey",
    "EntryKind",
    "FaceMatcher",
    "Heartbeat",
    "KeyPressed",
    "MatchOutcome",
    "MatchResult",
    "ReplayGuard",
    "Tamper",
]
