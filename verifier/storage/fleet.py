# SPDX-License-Identifier: Apache-2.0
"""The fleet status table: each terminal's latest report, shared by workers and replicas.

Why a table at all (issue 16, item 4): a status stream is held by one
worker of one replica, but the operator may ask any of them, so the view
must live where they all look. Why one row a terminal, written rarely: the
row is a snapshot the agent repeats (``verifier.fleet_store`` writes it
when it changes, when a stream opens, and otherwise at most every few
tens of seconds), never a history, so the table's size is the fleet's.

Newest wins: an upsert only replaces a row with an older ``seen_us``, so
two replicas holding a terminal's old and new streams for a moment
cannot put the older report back. Same SQL on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

__all__ = ["FleetRow", "FleetTables"]

#: Rows a listing returns at most (the in-memory registry's bound too).
MAX_ROWS: Final = 200_000


class _Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchall(self) -> list[Any]: ...


class _Executor(Protocol):
    def __call__(self, sql: str, params: Sequence[Any] = ()) -> _Cursor: ...


@dataclass(frozen=True)
class FleetRow:
    """One terminal: its report (serialized, already cleaned), when seen, when its stream ended."""

    terminal_id: str
    report: bytes
    seen_us: int
    closed_us: int | None = None


class FleetTables:
    """The fleet operations of one transaction (``tx.fleet``)."""

    def __init__(self, execute: _Executor) -> None:
        self._x = execute

    def put(self, terminal_id: str, report: bytes, seen_us: int) -> bool:
        """Store ``report`` as seen at ``seen_us`` unless a newer one is stored; True if stored."""
        cursor = self._x(
            "INSERT INTO fleet_status (terminal_id, report, seen_us) VALUES (?, ?, ?)"
            " ON CONFLICT (terminal_id) DO UPDATE SET report = excluded.report,"
            " seen_us = excluded.seen_us, closed_us = NULL"
            " WHERE fleet_status.seen_us <= excluded.seen_us",
            (terminal_id, report, seen_us),
        )
        return cursor.rowcount == 1

    def close(self, terminal_id: str, closed_us: int, last_seen_us: int) -> bool:
        """Note that the stream that last reported at ``last_seen_us`` ended at ``closed_us``.

        A row written after ``last_seen_us`` (the terminal reported since, on
        another stream, worker or replica) is left alone; True if marked.
        """
        return (
            self._x(
                "UPDATE fleet_status SET closed_us = ? WHERE terminal_id = ? AND seen_us <= ?",
                (closed_us, terminal_id, last_seen_us),
            ).rowcount
            == 1
        )

    def rows(self, limit: int = MAX_ROWS) -> list[FleetRow]:
        """Every terminal's row (at most ``limit``), by terminal id."""
        found = self._x(
            "SELECT terminal_id, report, seen_us, closed_us FROM fleet_status"
            " ORDER BY terminal_id LIMIT ?",
            (limit,),
        ).fetchall()
        return [FleetRow(row[0], bytes(row[1]), row[2], row[3]) for row in found]
