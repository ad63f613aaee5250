# SPDX-License-Identifier: Apache-2.0
"""``verifier.fleet_store`` and the ``fleet_status`` table, on SQLite and a real PostgreSQL.

Two ``FleetRegistry`` objects on one database stand for two workers (or two
replicas): what one hears, the other shows. The clock is the test's, so
"at most every N seconds" and "online within the window" are checked by
moving it, never by waiting.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

from myna.edge.v1 import fleet_pb2 as fpb
from myna.edge.v1 import verifier_pb2 as vpb
from verifier.fleet import FleetRegistry
from verifier.fleet_store import FleetStore
from verifier.storage import Storage

_T0 = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
ONLINE, ERROR = fpb.FLEET_DEVICE_STATE_ONLINE, fpb.FLEET_DEVICE_STATE_HARDWARE_ERROR


class _Clock:
    def __init__(self) -> None:
        self.now = _T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def _worker(storage: Storage, clock: _Clock) -> FleetRegistry:
    store = FleetStore(storage, online_seconds=150, write_seconds=60, clock=clock)
    return FleetRegistry(clock, store=store)


class _Stream:
    """One terminal's open status stream: reports are pushed, ``None`` ends it."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[vpb.ReportStatusRequest | None] = asyncio.Queue()
        self.sent = self.done = 0
        self._progress = asyncio.Event()

    async def reports(self) -> AsyncIterator[vpb.ReportStatusRequest]:
        while (report := await self.queue.get()) is not None:
            yield report
            # Asked for the next one: the registry is done with this report (and its write).
            self.done += 1
            self._progress.set()

    async def send(self, **states: int) -> None:
        """Push one report and wait until the registry took it and wrote it if due."""
        self.sent += 1
        await self.queue.put(vpb.ReportStatusRequest(**states))  # type: ignore[arg-type]
        while self.done < self.sent:
            self._progress.clear()
            await self._progress.wait()


def test_newest_report_wins_and_a_newer_one_is_not_marked_closed(storage: Storage) -> None:
    with storage.transaction() as tx:
        assert tx.fleet.put("atm-01", b"new", 200)
        assert not tx.fleet.put("atm-01", b"old", 100)  # a late write from another replica
        assert not tx.fleet.close("atm-01", 300, 150)  # that stream's report is not the row's
        assert tx.fleet.close("atm-01", 300, 200)
    with storage.transaction() as tx:
        (row,) = tx.fleet.rows()
        assert (row.report, row.seen_us, row.closed_us) == (b"new", 200, 300)
        assert tx.fleet.put("atm-01", b"again", 400)  # a new stream reopens it
        (row,) = tx.fleet.rows()
        assert (row.report, row.closed_us) == (b"again", None)
        assert tx.count("fleet_status") == 1


def test_two_workers_show_one_fleet_and_write_only_when_due(storage: Storage) -> None:
    clock = _Clock()
    first, second = _worker(storage, clock), _worker(storage, clock)
    assert first.store is not None

    async def scenario() -> None:
        one, two = _Stream(), _Stream()
        serving = [
            asyncio.create_task(first.serve("atm-01", one.reports(), lambda: None)),
            asyncio.create_task(second.serve("kiosk-02", two.reports(), lambda: None)),
        ]
        await one.send(reader=ONLINE, printer=ONLINE)
        await two.send(reader=ONLINE)
        for registry in (first, second):  # each worker shows both, online
            view = {s.terminal_id: s for s in await registry.fleet()}
            assert set(view) == {"atm-01", "kiosk-02"}
            assert all(s.online for s in view.values())
        assert [t.terminal_id for t in first.terminals()] == ["atm-01"]  # memory: its own
        # Heartbeats of an unchanged report: not written within the interval.
        writes = first.store.writes
        for _ in range(5):
            clock.advance(10)
            await one.send(reader=ONLINE, printer=ONLINE)
        assert first.store.writes == writes
        clock.advance(15)  # 65 s since the write: the next heartbeat is written
        await one.send(reader=ONLINE, printer=ONLINE)
        assert first.store.writes == writes + 1
        await one.send(reader=ONLINE, printer=ERROR)  # a change: at once
        assert first.store.writes == writes + 2
        view = {s.terminal_id: s for s in await second.fleet()}
        assert view["atm-01"].printer == ERROR
        # kiosk-02 said nothing for 65 s; past the 150 s window it is offline for both.
        assert view["kiosk-02"].online
        clock.advance(100)
        view = {s.terminal_id: s for s in await first.fleet()}
        assert not view["kiosk-02"].online
        assert view["atm-01"].online  # seen 100 s ago, within the window
        # atm-01's stream ends: offline at once, on the other worker too.
        await one.queue.put(None)
        await serving[0]
        assert first.store is not None
        await first.store.settle()
        view = {s.terminal_id: s for s in await second.fleet()}
        assert not view["atm-01"].online
        assert view["atm-01"].printer == ERROR  # still listed with its last report
        first.close_streams()
        second.close_streams()
        await asyncio.gather(*serving)

    asyncio.run(scenario())


def test_a_reconnect_elsewhere_is_not_undone_by_the_old_stream_ending(storage: Storage) -> None:
    clock = _Clock()
    old, new = _worker(storage, clock), _worker(storage, clock)

    async def scenario() -> None:
        before, after = _Stream(), _Stream()
        first = asyncio.create_task(old.serve("atm-01", before.reports(), lambda: None))
        await before.send(reader=ONLINE)
        clock.advance(1)
        second = asyncio.create_task(new.serve("atm-01", after.reports(), lambda: None))
        await after.send(reader=ONLINE)
        await before.queue.put(None)  # the old connection goes away after the new one reported
        await first
        assert old.store is not None
        await old.store.settle()
        (status,) = await old.fleet()
        assert status.online
        new.close_streams()
        await second

    asyncio.run(scenario())
