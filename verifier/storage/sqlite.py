# SPDX-License-Identifier: Apache-2.0
"""SQLite storage: the zero set-up default for one machine.

Durable by configuration, not by hope: WAL journal, ``synchronous=FULL``
(every commit is fsynced), ``BEGIN IMMEDIATE`` so a write transaction takes
the lock up front (no upgrade deadlocks), and a busy timeout for a second
process on the same file. One connection serves the process, guarded by a
lock, because SQLite serialises writers anyway.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from verifier.errors import MigrationError, StorageError
from verifier.storage.base import Storage, _Cursor, _Executor
from verifier.storage.migrations import MIGRATIONS, SCHEMA_VERSION

__all__ = ["SqliteStorage"]

_log = logging.getLogger(__name__)


class SqliteStorage(Storage):
    """Storage in one SQLite file (``sqlite:///PATH``).

    Raises:
        StorageError: the file cannot be opened.
    """

    dialect = "sqlite"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db: sqlite3.Connection | None = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"cannot open SQLite database {self.path}: {exc}") from exc

    def __repr__(self) -> str:
        return f"SqliteStorage(path={str(self.path)!r})"

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise StorageError("the storage is closed")
        return self._db

    @contextmanager
    def _begin(self) -> Iterator[_Executor]:
        with self._lock:
            db = self._connection()

            def execute(sql: str, params: Sequence[Any] = ()) -> _Cursor:
                return db.execute(sql, tuple(params))

            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageError(f"SQLite: {exc}") from exc
            try:
                yield execute
            except sqlite3.Error as exc:
                db.execute("ROLLBACK")
                raise StorageError(f"SQLite: {exc}") from exc
            except BaseException:
                db.execute("ROLLBACK")
                raise
            try:
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StorageError(f"SQLite commit failed: {exc}") from exc

    def migrate(self) -> int:
        """Apply pending migrations in one transaction each."""
        with self._begin() as execute:
            execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = int(row[0] or 0)
        if current > SCHEMA_VERSION:
            raise MigrationError(f"database schema {current} is newer than {SCHEMA_VERSION}")
        for version in range(current + 1, SCHEMA_VERSION + 1):
            with self._begin() as execute:
                for statement in MIGRATIONS[version]["sqlite"]:
                    execute(statement)
                execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            _log.info("SQLite schema migrated to version %d", version)
        return SCHEMA_VERSION

    def close(self) -> None:
        """Close the connection; harmless twice."""
        with self._lock:
            db, self._db = self._db, None
        if db is not None:
            db.close()
