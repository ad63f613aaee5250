# SPDX-License-Identifier: Apache-2.0
"""``SqliteStorage.run``: group commit with the units run on the caller's event loop.

What must hold (``verifier.storage.loop_lane``): units queued from one loop
share one transaction and are answered only after its COMMIT; they run on
the loop's thread, not the writer's; a unit that raises fails alone; a call
cancelled before its turn is not run; if SQLite abandons the transaction,
every unit fails and none is stored; and a loop blocked on the storage
itself (``close`` or ``transaction`` on its own thread) cannot deadlock:
the writer runs its units.
"""

from __future__ import annotations

import asyncio
import threading
import time
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
    opened = SqliteStorage(tmp_path / "lane.sqlite")
    opened.migrate()
    yield opened
    opened.close()


def _session(n: int) -> Session:
    sid = f"ses_{n:022d}"
    return Session(
        sid, "atm-01", Purpose.CARD_VERIFICATION, sid.encode()[:32].ljust(32, b"\0"), 10**15
    )


def _insert(n: int, *, fail: bool = False, seen: list[int] | None = None) -> Any:
    def work(tx: Transaction) -> int:
        if seen is not None:
            seen.append(threading.get_ident())
        tx.insert_session(_session(n))
        if fail:
            raise RuntimeError(f"unit {n} fails")
        return n

    return work


def _hold_writer(storage: SqliteStorage) -> tuple[threading.Event, Future[None]]:
    """Block the writer inside a batch so the next units queue up for one transaction."""
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


def test_units_run_on_the_loop_and_share_one_commit(storage: SqliteStorage) -> None:
    seen: list[int] = []

    async def main() -> tuple[list[int], int]:
        release, held = _hold_writer(storage)
        calls = [asyncio.ensure_future(storage.run(_insert(n, seen=seen))) for n in range(8)]
        await asyncio.sleep(0.05)  # every call is queued behind the held batch
        before = storage.group_commits
        release.set()
        results = await asyncio.gather(*calls)
        held.result(timeout=30)
        return results, storage.group_commits - before

    results, commits = asyncio.run(main())
    assert results == list(range(8))
    assert commits <= 2  # the held batch, then all eight at once
    assert len(seen) == 8
    assert threading.get_ident() in set(seen)  # asyncio.run's loop is this thread
    assert all(_stored(storage, n) for n in range(8))


def test_a_failing_unit_fails_alone(storage: SqliteStorage) -> None:
    async def main() -> list[Any]:
        release, held = _hold_writer(storage)
        calls = [asyncio.ensure_future(storage.run(_insert(n, fail=n == 2))) for n in (1, 2, 3)]
        await asyncio.sleep(0.05)
        release.set()
        held.result(timeout=30)
        return await asyncio.gather(*calls, return_exceptions=True)

    one, two, three = asyncio.run(main())
    assert (one, three) == (1, 3)
    assert isinstance(two, RuntimeError)
    assert (_stored(storage, 1), _stored(storage, 2), _stored(storage, 3)) == (True, False, True)


def test_a_cancelled_call_is_not_run(storage: SqliteStorage) -> None:
    async def main() -> int:
        release, held = _hold_writer(storage)
        cancelled = asyncio.ensure_future(storage.run(_insert(1)))
        kept = asyncio.ensure_future(storage.run(_insert(2)))
        await asyncio.sleep(0.05)
        cancelled.cancel()
        release.set()
        held.result(timeout=30)
        return await kept

    assert asyncio.run(main()) == 2
    assert not _stored(storage, 1)
    assert _stored(storage, 2)


def test_an_abandoned_transaction_fails_every_unit(storage: SqliteStorage) -> None:
    def abandon(tx: Transaction) -> None:
        tx._x("ROLLBACK")  # what SQLite does on SQLITE_FULL or an I/O error
        raise RuntimeError("disk full")

    async def main() -> list[Any]:
        release, held = _hold_writer(storage)
        calls = [asyncio.ensure_future(storage.run(work)) for work in (_insert(1), abandon)]
        await asyncio.sleep(0.05)
        release.set()
        held.result(timeout=30)
        return await asyncio.gather(*calls, return_exceptions=True)

    outcomes = asyncio.run(main())
    assert all(isinstance(outcome, StorageError) for outcome in outcomes), outcomes
    assert not _stored(storage, 1)
    assert asyncio.run(storage.run(_insert(3))) == 3  # the writer lives on


def test_a_blocked_loop_has_its_units_run_by_the_writer(storage: SqliteStorage) -> None:
    # close() on the loop's own thread blocks the loop until the writer has
    # finished: the writer must not wait for the loop (it would never come).
    seen: list[int] = []

    async def main() -> Any:
        release, held = _hold_writer(storage)
        call = asyncio.ensure_future(storage.run(_insert(1, seen=seen)))
        await asyncio.sleep(0.05)
        release.set()
        storage.close()  # blocks this loop; returns once the writer is done
        held.result(timeout=30)
        return await call

    assert asyncio.run(main()) == 1
    assert len(seen) == 1
    assert seen[0] != threading.get_ident()  # the writer ran it, not the blocked loop
    with pytest.raises(StorageError):
        asyncio.run(storage.run(_insert(2)))


def test_a_transaction_opened_on_the_loop_thread_does_not_deadlock(
    storage: SqliteStorage,
) -> None:
    async def main() -> int:
        release, held = _hold_writer(storage)
        call = asyncio.ensure_future(storage.run(_insert(1)))
        await asyncio.sleep(0.05)
        release.set()
        held.result(timeout=30)
        time.sleep(0.05)  # the writer takes the next batch and hands it to this (busy) loop
        with storage.transaction() as tx:  # waits for the writer's lock on the loop's thread
            tx.count("sessions")
        return await call

    assert asyncio.run(main()) == 1
    assert _stored(storage, 1)
