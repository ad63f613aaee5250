# SPDX-License-Identifier: Apache-2.0
"""A record of every APDU a virtual card exchanged, safe to keep and print.

Benchmarks count APDUs and bytes (jpki-card.md §7), and tests assert on
exact command sequences, so each card keeps a bounded log. Commands that
carry a PIN (VERIFY, CHANGE REFERENCE DATA, ...) are stored with their
header and Lc only (``hw_sim.card.apdu.redact_command``); responses are
kept as lengths and status words, never as data, so the log holds no PIN
and no personal data.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from typing import Final

__all__ = ["DEFAULT_CAPACITY", "ApduLog", "ApduLogEntry"]

#: Entries kept before the oldest are dropped: a long soak run must not grow
#: without bound.
DEFAULT_CAPACITY: Final = 10_000


@dataclass(frozen=True, slots=True)
class ApduLogEntry:
    """One exchange.

    Attributes:
        command: the C-APDU, with any PIN body removed.
        command_length: the true length of the C-APDU in bytes.
        response_length: the length of the R-APDU in bytes, SW included.
        sw: the status word.
        started: ``time.monotonic()`` when the command arrived.
        duration_s: processing time in seconds.
    """

    command: bytes
    command_length: int
    response_length: int
    sw: int
    started: float
    duration_s: float


class ApduLog:
    """A bounded, thread-safe list of ``ApduLogEntry``."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        """Create an empty log keeping at most ``capacity`` entries."""
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self._entries: collections.deque[ApduLogEntry] = collections.deque(maxlen=capacity)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ApduLog({len(self)} entries)"

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def entries(self) -> list[ApduLogEntry]:
        """A snapshot of the entries, oldest first."""
        with self._lock:
            return list(self._entries)

    def append(self, entry: ApduLogEntry) -> None:
        """Add ``entry``, dropping the oldest one when full."""
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        """Remove every entry."""
        with self._lock:
            self._entries.clear()
