# SPDX-License-Identifier: Apache-2.0
"""The last accepted PIN-block counter of each board, kept across agent restarts.

Why (issue 22): a replay guard in memory only forgets at every restart, and a
PIN block recorded off the serial line before the restart then opens again.
So the agent keeps, per board serial number, the highest counter it
accepted, in one small owner-only JSON file in its state folder
(``{"boards": {"SERIAL": counter}}``). The counter is written *before* the
block is opened (write-ahead): a block whose counter could not be stored is
refused. On opening the board, the guard starts from the larger of the
stored counter and the board's own (STATUS, firmware/PROTOCOL.md §4), so a
lost state file does not reopen old blocks either.

A file that does not parse is not reset to zero (that would reopen every
recorded block): it is a ``PeripheralError`` naming the file, for the
operator to look at.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Final

from host.errors import PeripheralError, UnsafePathError
from host.peripherals.pinblock import ReplayGuard
from host.private_files import write_private

__all__ = ["CounterStore"]

_MAX_COUNTER: Final = 0xFFFFFFFF


class CounterStore:
    """The counters file; thread-safe within one process (one agent per file).

    Args:
        path: the JSON file (created 0600 at the first accepted block; its
            folder must be one no other user can write).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, int]:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            if self.path.is_symlink():
                raise UnsafePathError(f"{self.path} is a symbolic link") from exc
            raise PeripheralError(f"cannot read the PIN-block counters {self.path}") from exc
        try:
            with os.fdopen(fd, "rb") as handle:
                text = handle.read(65536).decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PeripheralError(f"cannot read the PIN-block counters {self.path}") from exc
        try:
            boards = json.loads(text)["boards"]
            if not isinstance(boards, dict) or not all(
                isinstance(k, str) and type(v) is int and 0 <= v <= _MAX_COUNTER
                for k, v in boards.items()
            ):
                raise ValueError("not a map of board serial to counter")
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise PeripheralError(f"the PIN-block counters {self.path} are damaged") from exc
        return dict(boards)

    def last(self, board: str) -> int:
        """The highest counter accepted from ``board`` (0 when never seen).

        Raises:
            PeripheralError: the file is unreadable or damaged.
        """
        with self._lock:
            return self._read().get(board, 0)

    def save(self, board: str, counter: int) -> None:
        """Store ``counter`` as ``board``'s last accepted one (durably, atomically).

        Raises:
            PeripheralError: the file is damaged or cannot be written.
            UnsafePathError: its folder is writable by another user.
        """
        with self._lock:
            boards = self._read()
            boards[board] = max(counter, boards.get(board, 0))
            data = json.dumps({"boards": boards}, sort_keys=True).encode("utf-8")
            try:
                write_private(self.path, data, parents=True)
            except UnsafePathError:
                raise
            except OSError as exc:
                raise PeripheralError(f"cannot store the PIN-block counter: {exc}") from exc

    def guard(self, board: str, *, seed: int = 0) -> ReplayGuard:
        """A replay guard for ``board`` starting above ``max(stored, seed)``, saving here.

        Raises:
            PeripheralError: the file is unreadable or damaged.
        """
        start = max(self.last(board), seed)
        return ReplayGuard(start, persist=lambda counter: self.save(board, counter))

    def __repr__(self) -> str:
        return f"CounterStore({str(self.path)!r})"
