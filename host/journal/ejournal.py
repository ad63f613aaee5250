# SPDX-License-Identifier: Apache-2.0
"""The operator's electronic journal: an append-only, human-readable text file.

ATM operators settle disputes from this record (terminal-conventions §3):
one line per transaction event, in order, with time, terminal, operation
and plain ``key=value`` facts. The file is opened with ``O_APPEND`` for each
line and fsynced, so lines are never rewritten and survive a crash; the same
secret guard as the write-ahead journal refuses PIN, password and OTP fields.
The lines name people, so the file is owner-only (0600) whatever the umask,
opened without following a link, in a folder no other user can write
(``host.private_files``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from collections.abc import Callable
from pathlib import Path

from host.journal.records import JsonValue, check_no_secrets
from host.private_files import open_private, private_folder

__all__ = ["ElectronicJournal"]

_log = logging.getLogger(__name__)


def _quote(value: JsonValue) -> str:
    text = "" if value is None else str(value)
    # One event per line: newlines in values (names, payees) are escaped.
    text = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return f'"{text}"' if (" " in text or not text) else text


class ElectronicJournal:
    """Appends operator-readable lines to ``path``.

    Args:
        path: the text file (created 0600 with its folder, 0700, when missing).
        terminal_id: printed on every line.
        clock: current UTC time (tests inject one).
    """

    def __init__(
        self,
        path: Path | str,
        terminal_id: str,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.path = Path(path)
        private_folder(self.path.parent)
        self.terminal_id = terminal_id
        self._clock = clock

    def append(self, op_id: str, event: str, **facts: JsonValue) -> str:
        """Append one line ``TIME TERMINAL OP EVENT key=value...``; returns it.

        Raises:
            JournalSecretError: a fact names or holds a secret; nothing written.
            TypeError: a fact is not a JSON scalar.
            OSError: the line could not be written whole (disk full); no part
                of it stays in the file.
            UnsafePathError: the file became a link or another user's.
        """
        check_no_secrets(facts)
        stamp = self._clock().astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        parts = [stamp, self.terminal_id, op_id or "-", event]
        parts += [f"{key}={_quote(value)}" for key, value in facts.items()]
        line = " ".join(parts) + "\n"
        fd = open_private(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            start = os.fstat(fd).st_size
            data = memoryview(line.encode("utf-8"))
            try:
                while data:  # a full disk takes part of a line, then refuses the rest
                    data = data[os.write(fd, data) :]
                os.fsync(fd)
            except OSError:
                # Never leave a torn line the operator would misread.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                raise
        finally:
            os.close(fd)
        return line.rstrip("\n")

    def lines(self) -> list[str]:
        """Every line written so far."""
        if not self.path.exists():
            return []
        return self.path.read_text(encoding="utf-8").splitlines()
