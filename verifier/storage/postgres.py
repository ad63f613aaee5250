# SPDX-License-Identifier: Apache-2.0
"""PostgreSQL storage: for several stateless verifier replicas behind a load balancer.

Why it needs nothing special for exactly-once: the shared SQL in
``verifier.storage.base`` relies only on row locks taken by INSERT ... ON
CONFLICT and conditional UPDATE, which READ COMMITTED already serialises
across replicas. Migrations take a transaction-scoped advisory lock so two
replicas starting together do not race. A small pool keeps connections open
(a new PostgreSQL connection costs milliseconds).

Why it survives a database restart: a pooled connection the server has
closed (a restart's fast shutdown says goodbye on every idle session) has
bytes waiting while it should be silent, so it is dropped when taken from
the pool instead of failing a call (a health check without a round trip).
A connection lost during a transaction, or a refused reconnect while the
server is down, is a ``StorageUnavailableError``: the service answers
UNAVAILABLE and the client's gRPC retries the same request, same key.
"""

from __future__ import annotations

import logging
import queue
import select
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

import psycopg

from verifier.errors import MigrationError, StorageError, StorageUnavailableError
from verifier.storage.base import Storage, _Cursor, _Executor
from verifier.storage.migrations import MIGRATIONS, SCHEMA_VERSION

__all__ = ["PostgresStorage"]

_log = logging.getLogger(__name__)
#: Advisory lock id for migrations ("myna" in ASCII).
_MIGRATION_LOCK: Final = 0x6D796E61


def _stale(conn: psycopg.Connection[Any]) -> bool:
    """Whether an idle connection was closed by the server (it has unread bytes, or EOF)."""
    if conn.closed or conn.broken:
        return True
    try:
        poller = select.poll()  # not select(): a busy server's descriptors pass 1024
        poller.register(conn.fileno(), select.POLLIN)
        return bool(poller.poll(0))  # readable, hung up or in error
    except (OSError, ValueError, psycopg.Error):
        return True


class PostgresStorage(Storage):
    """Storage in a PostgreSQL database (``postgresql://...``).

    Raises:
        StorageError: the first connection fails.
    """

    dialect = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self._url = url
        self._pool: queue.LifoQueue[psycopg.Connection[Any]] = queue.LifoQueue()
        self._slots = threading.Semaphore(pool_size)
        self._all: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()
        self._closed = False
        with self._connection():
            pass

    def __repr__(self) -> str:
        # The URL may hold a password: show only the database name.
        return f"PostgresStorage(database={self._url.rsplit('/', 1)[-1].split('?')[0]!r})"

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        if self._closed:
            raise StorageError("the storage is closed")
        self._slots.acquire()
        try:
            conn = self._pooled()
            if conn is None:
                try:
                    conn = psycopg.connect(self._url, autocommit=True)
                except psycopg.OperationalError as exc:
                    raise StorageUnavailableError(f"cannot connect to PostgreSQL: {exc}") from exc
                except psycopg.Error as exc:
                    raise StorageError(f"cannot connect to PostgreSQL: {exc}") from exc
                with self._lock:
                    self._all.append(conn)
            try:
                yield conn
            finally:
                if conn.closed or conn.broken:
                    with self._lock:
                        self._all.remove(conn)
                else:
                    self._pool.put(conn)
        finally:
            self._slots.release()

    def _pooled(self) -> psycopg.Connection[Any] | None:
        """An idle pooled connection that is still alive, or None (closing the dead ones)."""
        while True:  # bounded by the pool's size
            try:
                conn = self._pool.get_nowait()
            except queue.Empty:
                return None
            if not _stale(conn):
                return conn
            _log.info("dropping a PostgreSQL connection the server closed")
            with self._lock:
                self._all.remove(conn)
            conn.close()

    @contextmanager
    def _begin(self) -> Iterator[_Executor]:
        with self._connection() as conn:
            try:
                with conn.transaction():

                    def execute(sql: str, params: Sequence[Any] = ()) -> _Cursor:
                        query: Any = sql.replace("?", "%s")
                        return conn.execute(query, tuple(params))

                    yield execute
            except psycopg.OperationalError as exc:  # connection lost, shutdown, deadlock
                raise StorageUnavailableError(f"PostgreSQL: {exc}") from exc
            except psycopg.Error as exc:
                raise StorageError(f"PostgreSQL: {exc}") from exc

    def migrate(self) -> int:
        """Apply pending migrations under an advisory lock."""
        with self._begin() as execute:
            execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = int(row[0] or 0)
            if current > SCHEMA_VERSION:
                raise MigrationError(f"database schema {current} is newer than {SCHEMA_VERSION}")
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version]["postgresql"]:
                    execute(statement)
                execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
                _log.info("PostgreSQL schema migrated to version %d", version)
        return SCHEMA_VERSION

    def close(self) -> None:
        """Close every pooled connection; harmless twice."""
        self._stop_executor()
        self._closed = True
        with self._lock:
            connections, self._all = self._all, []
        for conn in connections:
            conn.close()
