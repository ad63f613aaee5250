# SPDX-License-Identifier: Apache-2.0
"""Fleet status in the verifier's database, so every worker and replica shows one fleet.

Why (issue 16, item 4): a terminal's status stream lands on one worker of
one replica (``--workers N`` spreads connections with ``SO_REUSEPORT``), so
a process's memory (``verifier.fleet.FleetRegistry``) knows only its own
streams. Each report is therefore also kept in ``fleet_status``
(``verifier.storage.fleet``), and the operator listener, served by any
worker, reads the table and overlays what its own process knows newer.

Why it costs little: a report is written when it differs from the last one
this process wrote for the terminal, on the first report of a stream, and
otherwise at most every ``write_seconds`` (the agent repeats an unchanged
report as a heartbeat, every 30 s by default). With 10 000 terminals and
the defaults that is at most ~170 small upserts a second, usually far
fewer; a device change is written at once.

Online means reported within ``online_seconds`` and the stream not ended
since. ``online_seconds`` must exceed ``write_seconds`` plus the agents'
heartbeat, or a quiet terminal blinks offline; the defaults (150 s, 60 s,
30 s) leave a heartbeat's margin. A stream the terminal ends (or the
verifier cuts, for a revoked terminal) marks the row closed at once; one
our own shutdown answers does not, since the agent is reopening it on
another replica. A database failure is logged and the stream goes on: the
fleet view is advisory, the ledger is not at stake.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from google.protobuf.message import DecodeError

from myna.edge.v1 import fleet_pb2 as fpb
from myna.edge.v1 import verifier_pb2 as vpb
from verifier.storage import Storage
from verifier.storage.fleet import FleetRow

__all__ = ["FleetStore", "LocalTerminal", "status_of"]

_log = logging.getLogger(__name__)
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_US: Final = dt.timedelta(microseconds=1)


def _us(when: dt.datetime) -> int:
    return (when - _EPOCH) // _US


@dataclass(frozen=True)
class LocalTerminal:
    """What this process knows of a terminal: its latest report, when, and open streams."""

    report: vpb.ReportStatusRequest
    last_seen: dt.datetime
    streams: int


def status_of(
    terminal_id: str, report: vpb.ReportStatusRequest, seen: dt.datetime, *, online: bool
) -> fpb.TerminalStatus:
    """The operator's row for one terminal."""
    status = fpb.TerminalStatus(
        terminal_id=terminal_id,
        online=online,
        reader=report.reader,
        printer=report.printer,
        controller=report.controller,
        versions=report.versions,
    )
    if report.HasField("last_flow"):
        status.last_flow.CopyFrom(report.last_flow)
    status.last_seen_time.FromDatetime(seen)
    return status


class FleetStore:
    """Writes reports to ``fleet_status`` sparingly and reads the fleet back from it."""

    def __init__(
        self,
        storage: Storage,
        *,
        online_seconds: float = 150.0,
        write_seconds: float = 60.0,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        if online_seconds <= write_seconds:
            _log.warning(
                "fleet_online_seconds (%s) <= fleet_write_seconds (%s): quiet terminals "
                "will show offline between writes",
                online_seconds,
                write_seconds,
            )
        self.storage = storage
        self.online = dt.timedelta(seconds=online_seconds)
        self.write_every = dt.timedelta(seconds=write_seconds)
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._background: set[asyncio.Task[None]] = set()
        #: Upserts sent to the database (a figure for tests and the report).
        self.writes = 0

    def due(
        self, report: bytes, written: bytes | None, written_at: dt.datetime | None, now: dt.datetime
    ) -> bool:
        """Whether a report must be written (changed, first, or the interval passed)."""
        return (
            written is None
            or written != report
            or written_at is None
            or now - written_at >= self.write_every
        )

    async def put(self, terminal_id: str, report: bytes, seen: dt.datetime) -> bool:
        """Write one report; False (logged) when the database failed."""
        seen_us = _us(seen)
        try:
            await self.storage.run(lambda tx: tx.fleet.put(terminal_id, report, seen_us))
        except Exception:  # noqa: BLE001 - advisory view: log, keep the stream
            _log.warning("fleet status of %s not stored", terminal_id, exc_info=True)
            return False
        self.writes += 1
        return True

    def closed(self, terminal_id: str, last_seen: dt.datetime) -> None:
        """Mark the terminal's stream ended, in the background (the caller may be cancelled).

        Only a row no newer than ``last_seen`` is marked: a stream the terminal
        opened meanwhile on another worker or replica keeps it online.
        """

        async def mark() -> None:
            now_us, seen_us = _us(self._clock()), _us(last_seen)
            try:
                await self.storage.run(lambda tx: tx.fleet.close(terminal_id, now_us, seen_us))
            except Exception:  # noqa: BLE001 - advisory view
                _log.warning("fleet stream end of %s not stored", terminal_id, exc_info=True)

        task = asyncio.get_running_loop().create_task(mark())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def settle(self) -> None:
        """Wait for the background marks (tests, shutdown)."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    def _rows(self) -> list[FleetRow]:
        # A read-only transaction: on SQLite (WAL) it never waits for the writer.
        with self.storage.reading() as tx:
            return tx.fleet.rows()

    async def statuses(self, local: Mapping[str, LocalTerminal]) -> list[fpb.TerminalStatus]:
        """Every terminal in the table, overlaid with this process's newer knowledge.

        Raises:
            StorageError: the database failed.
        """
        rows = await asyncio.to_thread(self._rows)  # off the loop: a big fleet takes ~0.1 s
        now = self._clock()
        out: dict[str, fpb.TerminalStatus] = {}
        for row in rows:
            try:
                report = vpb.ReportStatusRequest.FromString(row.report)
            except DecodeError:  # not ours to show; the next report replaces it
                continue
            seen = _EPOCH + row.seen_us * _US
            online = row.closed_us is None and now - seen <= self.online
            out[row.terminal_id] = status_of(row.terminal_id, report, seen, online=online)
        for terminal_id, mine in local.items():
            stored = out.get(terminal_id)
            seen_before = stored.last_seen_time.ToDatetime(tzinfo=dt.UTC) if stored else None
            if stored is None or (seen_before is not None and mine.last_seen > seen_before):
                online = mine.streams > 0 or (stored is not None and stored.online)
                out[terminal_id] = status_of(
                    terminal_id, mine.report, mine.last_seen, online=online
                )
            elif mine.streams > 0:
                stored.online = True
        return [out[t] for t in sorted(out)]
