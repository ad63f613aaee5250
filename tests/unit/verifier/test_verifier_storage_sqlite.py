# SPDX-License-Identifier: Apache-2.0
"""SQLite group commit: one transaction and one fsync for many units, each unit on its own.

What must hold for durability and exactly-once to survive batching: a
future resolves only after its batch's COMMIT; a unit that raises is rolled
back alone (its SAVEPOINT) while the others in the batch commit; if SQLite
abandons the transaction, every unit of the batch fails and none of them is
stored; units in one batch see each other's writes in order (so a duplicate
idempotency key in the same batch gets the first one's answer).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from verifier.codes import Purpose
from verifier.errors import StorageError
from verifier.storage import Session, Transaction
from verifier.storage.sqlite import SqliteStorage


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[SqliteStorage]:
    opened = SqliteStorage(tmp_path / "g.sqlite")
    opened.migrate()
    yield opened
    opened.close()


def _session(n: int) -> Session:
    sid = f"ses_{n:022d}"
    return Session(
        sid, "atm-01", Purpose.CARD_VERIFICATION, sid.encode()[:32].ljust(32, b"\0"), 10**15
    )


def _insert(n: int, *, fail: bool = False) -> Any:
    def work(tx: Transaction) -> int:
        tx.insert_session(_session(n))
        if fail:
            raise RuntimeError(f"unit {n} fails")
        return n

    return work


def _hold_writer(storage: SqliteStorage) -> tuple[threading.Event, Future[None]]:
    """Block the writer inside a batch so the next submissions queue up as one batch."""
    entered, release = threading.Event(), threading.Event()

    def blocker(tx: Transaction) -> None:
        entered.set()
        assert release.wait(timeout=30)

    held = storage.submit(blocker)
    assert entered.wait(timeout=30)
    return release, held


def _stored(storage: SqliteStorage, n: int) -> bool:
    with storage.transaction() as tx:
        return tx.get_session(_session(n).session_id) is not None


def test_queued_units_share_one_commit(storage: SqliteStorage) -> None:
    release, held = _hold_writer(storage)
    futures = [storage.submit(_insert(n)) for n in range(10)]
    assert not any(f.done() for f in futures)  # nothing answered before its commit
    before = storage.group_commits
    release.set()
    assert [f.result(timeout=30) for f in futures] == list(range(10))
    held.result(timeout=30)
    assert storage.group_commits - before <= 2  # the blocker's batch, then all ten at once
    assert all(_stored(storage, n) for n in range(10))


def test_a_failing_unit_is_rolled_back_alone(storage: SqliteStorage) -> None:
    release, held = _hold_writer(storage)
    good_1 = storage.submit(_insert(1))
    bad = storage.submit(_insert(2, fail=True))
    good_3 = storage.submit(_insert(3))
    release.set()
    held.result(timeout=30)
    assert (good_1.result(timeout=30), good_3.result(timeout=30)) == (1, 3)
    with pytest.raises(RuntimeError, match="unit 2 fails"):
        bad.result(timeout=30)
    assert (_stored(storage, 1), _stored(storage, 2), _stored(storage, 3)) == (True, False, True)


def test_an_abandoned_transaction_fails_the_whole_batch(storage: SqliteStorage) -> None:
    def abandon(tx: Transaction) -> None:
        # What SQLite does on SQLITE_FULL or an I/O error: the transaction is gone.
        tx._x("ROLLBACK")
        raise RuntimeError("disk full")

    release, held = _hold_writer(storage)
    first = storage.submit(_insert(1))
    broken = storage.submit(abandon)
    last = storage.submit(_insert(3))
    release.set()
    held.result(timeout=30)  # its own, earlier batch
    for future in (first, broken, last):
        with pytest.raises(StorageError):
            future.result(timeout=30)
    # Nothing of the batch is stored, although the first unit itself succeeded.
    assert not _stored(storage, 1)
    assert not _stored(storage, 3)
    # The writer lives on.
    assert storage.submit(_insert(4)).result(timeout=30) == 4


def test_duplicate_keys_in_one_batch_see_the_first_answer(storage: SqliteStorage) -> None:
    def claim(tx: Transaction) -> bytes | None:
        record = tx.claim_key("atm-01", "M", "k", b"h", 1)
        if record is None:
            tx.finish_key("atm-01", "M", "k", 0, "", "", b"first")
            return None
        return record.response

    release, held = _hold_writer(storage)
    futures = [storage.submit(claim) for _ in range(3)]
    release.set()
    held.result(timeout=30)
    assert [f.result(timeout=30) for f in futures] == [None, b"first", b"first"]


def test_close_finishes_queued_work_then_refuses(storage: SqliteStorage) -> None:
    release, held = _hold_writer(storage)
    queued = storage.submit(_insert(1))
    closer = threading.Thread(target=storage.close)
    closer.start()
    release.set()
    closer.join(timeout=30)
    assert queued.result(timeout=30) == 1
    held.result(timeout=30)
    with pytest.raises(StorageError):
        storage.submit(_insert(2))


def test_reading_is_read_only(storage: SqliteStorage) -> None:
    with pytest.raises(StorageError), storage.reading() as tx:
        tx.insert_session(_session(1))
    assert not _stored(storage, 1)


def test_many_threads_submitting_each_get_their_own_answer(storage: SqliteStorage) -> None:
    results: dict[int, int] = {}
    lock = threading.Lock()

    def caller(n: int) -> None:
        value = storage.submit(_insert(n)).result(timeout=30)
        with lock:
            results[n] = value

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == {n: n for n in range(32)}
    assert storage.group_units == 32
    with storage.transaction() as tx:
        assert tx.count("sessions") == 32


def test_reading_works_in_a_folder_with_uri_characters(tmp_path: Path) -> None:
    folder = tmp_path / "odd ?name#100%"
    with SqliteStorage(folder / "v.sqlite") as opened:
        opened.migrate()
        with opened.transaction() as tx:
            tx.insert_session(_session(1))
        with opened.reading() as tx:
            assert tx.get_session(_session(1).session_id) is not None
