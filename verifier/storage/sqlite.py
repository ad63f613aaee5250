# SPDX-License-Identifier: Apache-2.0
"""SQLite storage: the zero set-up default for one machine.

Durable by configuration, not by hope: WAL journal, ``synchronous=FULL``
(every commit is fsynced), ``BEGIN IMMEDIATE`` so a write transaction takes
the lock up front (no upgrade deadlocks), and a busy timeout for a second
process on the same file. One connection serves the process, guarded by a
lock, because SQLite serialises writers anyway.

Group commit: the fsync is most of a small write transaction's cost, and
writers queue for the one lock anyway, so ``submit`` hands units of work to
one writer thread that runs everything queued so far in ONE transaction,
each unit inside its own SAVEPOINT (a unit that raises is rolled back alone),
and commits once. Every unit's future is settled
only after that COMMIT has returned, so nothing is answered before it is
on disk: durability is that of one transaction per call, the fsync is
shared. If the batch as a whole fails, every unit in it fails and nothing of
it was committed. ``run`` (what the service awaits) is the same group
commit with the units run on the caller's event loop (``loop_lane``). Reads
for pre-checks use a second connection (WAL readers never wait for the
writer).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import queue
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, TypeVar

from verifier.errors import MigrationError, StorageError
from verifier.storage.base import Storage, Transaction, _Cursor, _Executor
from verifier.storage.loop_lane import LaneOutcome, LoopLane
from verifier.storage.migrations import MIGRATIONS, SCHEMA_VERSION

__all__ = ["MAX_BATCH", "SqliteStorage"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")
#: Most units in one group commit (bounds one transaction's size and latency).
MAX_BATCH: Final = 256
_Unit = tuple[Future[Any], Callable[[Transaction], Any]]


def _create_owner_only(path: Path) -> None:
    """Create the database file 0600 whatever the umask (it holds personal data).

    SQLite gives its -wal and -shm files the database file's mode, so they
    are owner-only too. An existing file is left as it is.
    """
    if str(path) == ":memory:":
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return
    os.fchmod(fd, 0o600)
    os.close(fd)


def _open_lock_file(path: Path) -> int | None:
    """The writers' lock file beside the database (``PATH-writer.lock``, 0600)."""
    if str(path) == ":memory:":
        return None
    try:
        return os.open(
            f"{path}-writer.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
    except OSError as exc:
        raise StorageError(f"cannot open the SQLite writer lock for {path}: {exc}") from exc


def _executor(db: sqlite3.Connection) -> _Executor:
    def execute(sql: str, params: Sequence[Any] = ()) -> _Cursor:
        return db.execute(sql, tuple(params))

    return execute


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
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _create_owner_only(self.path)
            self._db: sqlite3.Connection | None = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"cannot open SQLite database {self.path}: {exc}") from exc
        self._writer_file = _open_lock_file(self.path)
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Unit | LoopLane | None] = queue.SimpleQueue()
        self._lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopLane] = (
            weakref.WeakKeyDictionary()
        )
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        self._closed = False
        #: Group commits done and units committed by them (figures for benchmarks).
        self.group_commits = 0
        self.group_units = 0

    def __repr__(self) -> str:
        return f"SqliteStorage(path={str(self.path)!r})"

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the file lock every process's writer takes before BEGIN IMMEDIATE.

        Why (issue 18, ``--workers``): SQLite's own lock wait is a sleep loop
        (1, 2, 5, 10 ms ...), far longer than a group commit; a process
        waiting on ``flock`` wakes the moment the other one commits.
        """
        if self._writer_file is None:
            yield
            return
        fcntl.flock(self._writer_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._writer_file, fcntl.LOCK_UN)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise StorageError("the storage is closed")
        return self._db

    @contextmanager
    def _begin(self) -> Iterator[_Executor]:
        with self._lock, self._writing():
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

    # -- reads without the write lock ------------------------------------------
    @contextmanager
    def reading(self) -> Iterator[Transaction]:
        """A read-only view on a second connection (WAL: never waits for the writer)."""
        with self._reader_lock:
            if self._closed:
                raise StorageError("the storage is closed")
            if self._reader is None:
                try:
                    self._reader = sqlite3.connect(
                        self.path.resolve().as_uri() + "?mode=ro",
                        uri=True,
                        isolation_level=None,
                        check_same_thread=False,
                        timeout=10.0,
                    )
                except sqlite3.Error as exc:
                    raise StorageError(f"cannot open SQLite database {self.path}: {exc}") from exc
            db = self._reader

            def execute(sql: str, params: Sequence[Any] = ()) -> _Cursor:
                return db.execute(sql, tuple(params))

            try:
                db.execute("BEGIN")
                try:
                    yield Transaction(execute)
                finally:
                    db.execute("ROLLBACK")
            except sqlite3.Error as exc:
                raise StorageError(f"SQLite: {exc}") from exc

    # -- group commit ------------------------------------------------------------
    def submit(self, work: Callable[[Transaction], _T]) -> Future[_T]:
        """Queue ``work`` for the next group commit (see the module doc)."""
        future: Future[_T] = Future()
        with self._writer_lock:
            if self._closed:
                raise StorageError("the storage is closed")
            self._start_writer()
            self._queue.put((future, work))
        return future

    async def run(self, work: Callable[[Transaction], _T]) -> _T:
        """``submit`` for a coroutine: ``work`` runs on this loop, in the next group commit.

        See ``verifier.storage.loop_lane`` for why, and for what is unchanged.
        """
        loop = asyncio.get_running_loop()
        with self._writer_lock:
            if self._closed:
                raise StorageError("the storage is closed")
            self._start_writer()
            lane = self._lanes.get(loop)
            if lane is None:
                lane = self._lanes[loop] = LoopLane(loop)
            waiter, ask = lane.add(work)
            if ask:
                self._queue.put(lane)
        result: _T = await waiter
        return result

    def _start_writer(self) -> None:
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._write_loop, name="sqlite-group-commit", daemon=True
            )
            self._writer.start()

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch: list[_Unit | LoopLane] = [first]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    unit = self._queue.get_nowait()
                except queue.Empty:
                    break
                if unit is None:
                    stop = True
                    break
                batch.append(unit)
            self._commit_batch(batch)
            if stop:
                return

    def _commit_batch(self, batch: list[_Unit | LoopLane]) -> None:
        """Run ``batch`` in one transaction; settle every future after the COMMIT."""
        settled: list[tuple[Future[Any], bool, Any]] = []
        lanes: list[tuple[LoopLane, LaneOutcome]] = []
        with self._lock, self._writing():
            try:
                db = self._connection()
                db.execute("BEGIN IMMEDIATE")
                for item in batch:
                    if isinstance(item, LoopLane):
                        outcome = item.run_in(db, self._run_unit_in)
                        lanes.append((item, outcome))
                        if outcome.error is not None:
                            raise outcome.error
                    elif item[0].set_running_or_notify_cancel():
                        settled.append((item[0], *self._run_unit_in(db, item[1])))
                db.execute("COMMIT")
                self.group_commits += 1
                self.group_units += len(settled) + sum(len(o.settled) for _, o in lanes)
            except BaseException as exc:  # noqa: BLE001 - every unit fails, the writer lives on
                failure = exc if isinstance(exc, StorageError) else StorageError(f"SQLite: {exc}")
                try:
                    if self._db is not None and self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                except sqlite3.Error as rollback:
                    _log.error("rollback after a failed group commit failed: %s", rollback)
                _log.error("group commit of %d units failed: %s", len(batch), failure)
                ran = {id(lane): done for lane, done in lanes}
                for item in batch:
                    if isinstance(item, LoopLane):
                        if id(item) in ran:
                            item.fail(ran[id(item)], failure)
                        else:
                            item.abandon(failure)
                    elif not item[0].done():
                        if not item[0].running():
                            item[0].set_running_or_notify_cancel()
                        item[0].set_exception(failure)
                return
        for lane, outcome in lanes:
            lane.settle(outcome.settled)
        for future, ok, value in settled:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    @staticmethod
    def _run_unit_in(
        db: sqlite3.Connection, work: Callable[[Transaction], Any]
    ) -> tuple[bool, Any]:
        """One unit inside its SAVEPOINT; a failing unit is rolled back alone.

        Raises:
            sqlite3.Error: the savepoint itself failed, or SQLite abandoned the
                whole transaction (then the batch fails as a whole).
        """

        execute = _executor(db)
        db.execute("SAVEPOINT unit")
        try:
            value = work(Transaction(execute))
        except Exception as exc:  # handed to this unit's caller, whatever it is
            if not db.in_transaction:
                raise sqlite3.OperationalError(f"transaction abandoned: {exc}") from exc
            db.execute("ROLLBACK TO unit")
            db.execute("RELEASE unit")
            if isinstance(exc, sqlite3.Error):
                return False, StorageError(f"SQLite: {exc}")
            return False, exc
        db.execute("RELEASE unit")
        return True, value

    def close(self) -> None:
        """Finish queued work, stop the writer, close the connections; harmless twice."""
        with self._writer_lock:
            self._closed = True
            writer, self._writer = self._writer, None
        if writer is not None:
            self._queue.put(None)
            writer.join()
        with self._reader_lock:
            reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()
        with self._lock:
            db, self._db = self._db, None
            lock_file, self._writer_file = self._writer_file, None
        if db is not None:
            db.close()
        if lock_file is not None:
            os.close(lock_file)
