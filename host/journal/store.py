# SPDX-License-Identifier: Apache-2.0
"""The durable write-ahead journal: SQLite in WAL mode with ``synchronous=FULL``.

Why SQLite: one file, atomic appends, and with WAL + FULL each commit is
fsynced before ``record`` returns, so an intent written before a verifier
call survives a power cut that happens during the call. Each ``record`` is
its own transaction. Rows are never updated or deleted (triggers refuse
it): recovery reads history, it does not rewrite it. Every write goes
through ``records.check_no_secrets``.

The file holds personal data (statements with names and phone numbers, the
signing certificate), so it is owner-only whatever the umask: the folder is
created 0700 and must be one no other user can write, and the database is
created 0600 without following a link before SQLite opens it; SQLite gives
its ``-wal`` and ``-shm`` files the database's mode (``host.private_files``).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from host.errors import JournalError
from host.journal.records import (
    Effect,
    JournalEntry,
    JsonValue,
    Phase,
    ReceiptRecovery,
    ResetRecovery,
    TransferRecovery,
    check_no_secrets,
    plan_receipts,
    plan_resets,
    plan_transfers,
)
from host.private_files import open_private

__all__ = ["Journal"]

_log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id TEXT NOT NULL,
    flow TEXT NOT NULL,
    effect TEXT NOT NULL,
    phase TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    data TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_op ON entries (op_id);
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
"""


class Journal:
    """An open journal file; a context manager, closing twice is harmless.

    Args:
        path: the SQLite file (created 0600 with its folder, 0700, when missing).

    Raises:
        UnsafePathError: the folder is writable by another user, or the file
            is a symbolic link or another user's.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        os.close(open_private(self.path))  # 0600, no link, safe folder, before SQLite
        for suffix in ("-wal", "-shm", "-journal"):  # left wider by an older version
            companion = self.path.with_name(self.path.name + suffix)
            if companion.exists():
                os.close(open_private(companion))
        # check_same_thread off: flows may run on the loop thread and recovery
        # elsewhere; the lock serialises every use of the connection.
        self._db: sqlite3.Connection | None = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    @staticmethod
    def new_op_id() -> str:
        """A fresh operation id (also the stem of its idempotency keys)."""
        return uuid.uuid4().hex

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise ValueError("the journal is closed")
        return self._db

    def record(
        self,
        op_id: str,
        flow: str,
        effect: Effect,
        phase: Phase,
        *,
        idempotency_key: str = "",
        data: Mapping[str, JsonValue] | None = None,
    ) -> int:
        """Append one entry durably (fsynced on return); returns its sequence number.

        Raises:
            JournalSecretError: ``data`` names or holds a secret; nothing written.
            JournalError: SQLite could not write (disk full, read-only file).
            TypeError: a value is not a JSON scalar.
            ValueError: the journal is closed.
        """
        payload = dict(data or {})
        check_no_secrets(payload)
        text = json.dumps(payload, ensure_ascii=False, sort_keys=True)
        with self._lock:
            try:
                cursor = self._conn().execute(
                    "INSERT INTO entries (op_id, flow, effect, phase, idempotency_key, data,"
                    " created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (op_id, flow, effect.value, phase.value, idempotency_key, text, time.time()),
                )
            except sqlite3.Error as exc:
                # The effect must not happen when its intent is not on disk.
                raise JournalError(f"journal write failed: {type(exc).__name__}") from exc
        seq = int(cursor.lastrowid or 0)
        _log.debug("journal %s %s %s %s", seq, op_id, effect.value, phase.value)
        return seq

    def entries(self, op_id: str | None = None) -> list[JournalEntry]:
        """Entries in write order, all or of one operation."""
        query = (
            "SELECT seq, op_id, flow, effect, phase, idempotency_key, data, created FROM entries"
        )
        args: tuple[str, ...] = ()
        if op_id is not None:
            query += " WHERE op_id = ?"
            args = (op_id,)
        with self._lock:
            rows = self._conn().execute(query + " ORDER BY seq", args).fetchall()
        return [
            JournalEntry(r[0], r[1], r[2], Effect(r[3]), Phase(r[4]), r[5], json.loads(r[6]), r[7])
            for r in rows
        ]

    def unresolved_transfers(self) -> list[TransferRecovery]:
        """Transfers authorised (or maybe) but neither committed nor reversed."""
        return plan_transfers(self.entries())

    def unprinted_receipts(self) -> list[ReceiptRecovery]:
        """Committed transfers whose receipt is missing or of unknown fate."""
        return plan_receipts(self.entries())

    def unknown_resets(self) -> list[ResetRecovery]:
        """Resets whose card outcome or confirmation is unknown."""
        return plan_resets(self.entries())

    def close(self) -> None:
        """Close the file; harmless twice."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Journal {self.path}{' closed' if self._db is None else ''}>"
