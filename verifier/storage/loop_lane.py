# SPDX-License-Identifier: Apache-2.0
"""SQLite group commit with the units run on the caller's event loop (``SqliteStorage.run``).

Why (issue 18, measured with py-spy and per-thread CPU clocks): when the
writer thread ran the units, each of a unit's SQL statements released and
took back the GIL while the event loop thread was busy with gRPC, so every
statement was a GIL hand-off between two busy threads; on contended cores
that cost more than the SQL itself (with a core idle, the writer's SQLite
work ran in parallel instead: the old path was then ~10 % faster at the
same CPU, docs/internals/benchmarks.md "Verifier: CPU, workers and capacity"). Here the writer
thread keeps only what may block: BEGIN IMMEDIATE (it may wait for another
process's write lock) and COMMIT (the fsync). Between the two it hands the
open transaction to the loop, which runs every unit queued from that loop,
each in its own SAVEPOINT as before, and hands it back; after the COMMIT one
loop wake-up settles them all. Durability is unchanged: nothing is answered
before its COMMIT has returned.

The loop never waits for the writer, so a loop busy elsewhere only delays
its own units. If the loop does not take the transaction within 50 ms (it
is blocked, for instance in ``close`` or ``transaction`` on the loop's own
thread), the writer runs the units itself, as ``submit`` does, so nothing
can deadlock; if the loop is closed, its units fail with ``StorageError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from verifier.errors import StorageError

__all__ = ["LaneOutcome", "LoopLane"]

_Work = Callable[[Any], Any]
_Waiter = asyncio.Future[Any]
#: How a unit ended: its waiter, whether it succeeded, its value or exception.
_Settled = tuple[_Waiter, bool, Any]
_RunUnit = Callable[[sqlite3.Connection, _Work], tuple[bool, Any]]
#: How often the writer looks whether it must give up on a loop (seconds).
_POLL = 0.05


@dataclass
class LaneOutcome:
    """What the loop did in one transaction: the units it took and how each ended."""

    taken: list[tuple[_Waiter, _Work]] = field(default_factory=list)
    settled: list[_Settled] = field(default_factory=list)
    #: The transaction is unusable (SQLite abandoned it): the batch fails.
    error: BaseException | None = None


class _Handover:
    """Who runs a transaction's units, the loop or the late writer, and the loop's outcome.

    Why not a ``concurrent.futures.Future``: its ``set_result`` takes a
    ``Condition`` and notifies in Python on every group commit, on the busy
    loop thread (py-spy, issue 18); two plain locks do the same in C.
    ``claim`` goes to whoever starts the units first; ``done`` is released
    by the loop when it has finished them.
    """

    __slots__ = ("claim", "done", "outcome")

    def __init__(self) -> None:
        self.claim = threading.Lock()
        self.done = threading.Lock()
        self.done.acquire()  # held until the loop has run the units
        self.outcome = LaneOutcome()


class LoopLane:
    """The units queued from one event loop, waiting for the writer's next transaction."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._units: list[tuple[_Waiter, _Work]] = []
        self._lock = threading.Lock()
        self._requested = False

    def add(self, work: _Work) -> tuple[_Waiter, bool]:
        """Queue ``work`` (on the loop); its waiter, and whether the writer must be asked."""
        waiter: _Waiter = self.loop.create_future()
        with self._lock:
            self._units.append((waiter, work))
            ask, self._requested = not self._requested, True
        return waiter, ask

    def run_in(self, db: sqlite3.Connection, run_unit: _RunUnit) -> LaneOutcome:
        """Writer thread, transaction open: run the queued units on the loop and wait.

        If the loop has not started them within ``_POLL`` seconds (it is
        blocked, perhaps on this storage: ``close`` or ``transaction`` called
        on the loop's thread), the writer runs them itself, as ``submit``
        would; their callers are answered when the loop runs again.
        """
        handover = _Handover()
        try:
            self.loop.call_soon_threadsafe(self._run, db, run_unit, handover)
        except RuntimeError:  # the loop is closed: nobody waits for these units
            self.abandon(StorageError("the event loop of these calls is closed"))
            return LaneOutcome()
        while not handover.done.acquire(timeout=_POLL):
            if handover.claim.acquire(blocking=False):  # the loop never started them
                return self._take_and_run(db, run_unit)
        return handover.outcome

    def _run(self, db: sqlite3.Connection, run_unit: _RunUnit, handover: _Handover) -> None:
        """On the loop: every queued unit in its SAVEPOINT, inside the writer's transaction."""
        if handover.claim.acquire(blocking=False):  # else the writer ran them
            try:
                handover.outcome = self._take_and_run(db, run_unit)
            finally:
                handover.done.release()

    def _take_and_run(self, db: sqlite3.Connection, run_unit: _RunUnit) -> LaneOutcome:
        with self._lock:
            taken, self._units, self._requested = self._units, [], False
        outcome = LaneOutcome(taken)
        try:
            for waiter, work in taken:
                if not waiter.done():  # a cancelled call's unit is not run
                    outcome.settled.append((waiter, *run_unit(db, work)))
        except BaseException as exc:  # noqa: BLE001 - the batch fails; the writer says so
            outcome.error = exc
        return outcome

    def settle(self, settled: list[_Settled]) -> None:
        """After the COMMIT: one loop wake-up answers every unit."""
        self._post(_settle, settled)

    def fail(self, outcome: LaneOutcome, error: BaseException) -> None:
        """The batch failed: every unit the loop took fails with ``error``."""
        self._post(_settle, [(waiter, False, error) for waiter, _ in outcome.taken])

    def abandon(self, error: BaseException) -> None:
        """Fail every unit still queued (the writer will not run them)."""
        with self._lock:
            taken, self._units, self._requested = self._units, [], False
        self._post(_settle, [(waiter, False, error) for waiter, _ in taken])

    def _post(self, callback: Callable[[list[_Settled]], None], settled: list[_Settled]) -> None:
        if settled:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
                self.loop.call_soon_threadsafe(callback, settled)


def _settle(settled: list[_Settled]) -> None:
    for waiter, ok, value in settled:
        if waiter.done():
            continue
        if ok:
            waiter.set_result(value)
        else:
            waiter.set_exception(value)
