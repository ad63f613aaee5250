# SPDX-License-Identifier: Apache-2.0
"""The SQLite journal: durability settings, append-only rows, recovery queries, no secrets."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from host.errors import JournalError, JournalSecretError
from host.journal import Effect, Journal, Phase


def test_wal_full_sync_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j" / "journal.db"
    with Journal(path) as journal:
        op = Journal.new_op_id()
        journal.record(
            op,
            "transfer",
            Effect.TRANSFER_AUTHORIZE,
            Phase.INTENT,
            idempotency_key="k",
            data={"amount_yen": 250000},
        )
        mode = journal._conn().execute("PRAGMA journal_mode").fetchone()[0]
        sync = journal._conn().execute("PRAGMA synchronous").fetchone()[0]
    assert (mode, sync) == ("wal", 2)  # 2 = FULL
    with Journal(path) as again:
        (entry,) = again.entries(op)
        assert entry.effect is Effect.TRANSFER_AUTHORIZE
        assert entry.data == {"amount_yen": 250000}
        assert [p.op_id for p in again.unresolved_transfers()] == [op]


def test_rows_cannot_be_rewritten(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        journal.record("op", "transfer", Effect.RECEIPT_PRINT, Phase.INTENT)
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            journal._conn().execute("UPDATE entries SET flow = 'x'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            journal._conn().execute("DELETE FROM entries")
        assert len(journal.entries()) == 1


def test_secret_write_is_refused_and_nothing_stored(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with Journal(path) as journal:
        with pytest.raises(JournalSecretError):
            journal.record(
                "op", "reset", Effect.RESET_REDEEM, Phase.INTENT, data={"otp": "73914628"}
            )
        assert journal.entries() == []
    assert b"73914628" not in path.read_bytes()


def test_unknown_resets_query(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        journal.record(
            "r", "reset", Effect.RESET_CARD, Phase.INTENT, data={"reservation_id": "res"}
        )
        (plan,) = journal.unknown_resets()
        assert plan.reservation_id == "res"
        assert plan.card_outcome is None


def test_closed_journal_and_write_failure(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db")
    journal.close()
    journal.close()
    assert "closed" in repr(journal)
    with pytest.raises(ValueError, match="closed"):
        journal.record("op", "transfer", Effect.RECEIPT_PRINT, Phase.INTENT)
    readonly = Journal(tmp_path / "r.db")
    readonly._conn().execute("PRAGMA query_only=ON")
    with pytest.raises(JournalError):
        readonly.record("op", "transfer", Effect.RECEIPT_PRINT, Phase.INTENT)
    readonly.close()
