# SPDX-License-Identifier: Apache-2.0
"""The sweeper works in small steps (issue 18), and still expires and purges everything.

Why: one transaction for the whole sweep held SQLite's writer for 150-195 ms
after a burst of sessions expired. The purges now take a row limit (the same
SQL on SQLite and PostgreSQL, checked on both), and ``sweep_once`` runs one
group-commit unit per step of at most ``_SWEEP_BATCH`` rows: counted here by
the units the storage committed, not by time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from hw_sim.home import sim_home
from hw_sim.pki import CertKind, TestPki
from tests.verifier_support import MutableClock
from verifier.codes import Purpose, RevocationSource, TransferState
from verifier.config import VerifierConfig
from verifier.core import Core, to_us
from verifier.pki import TrustStore
from verifier.revocation import CrlStore, OcspClient, RevocationChecker
from verifier.server import _SWEEP_BATCH, VerifierServer
from verifier.storage import Session, Storage, Transaction, Transfer, open_storage
from verifier.storage.migrations import SCHEMA_VERSION
from verifier.storage.sqlite import SqliteStorage

ROWS = 2 * _SWEEP_BATCH + 7  # three steps each: full, full, partial


def _session(n: int, expires_us: int) -> Session:
    sid = f"ses_{n:022d}"
    return Session(
        sid, "atm-01", Purpose.CARD_VERIFICATION, sid.encode()[:32].ljust(32, b"\0"), expires_us
    )


def _fill(storage: Storage, *, old_us: int, new_us: int) -> None:
    """``ROWS`` old sessions and keys, and 3 new ones of each."""
    with storage.transaction() as tx:
        for n in range(ROWS + 3):
            at = old_us if n < ROWS else new_us
            tx.insert_session(_session(n, at))
            tx.claim_key("atm-01", "M", f"k{n}", b"h", at)


def test_purges_stop_at_their_limit_and_leave_the_live_rows(storage: Storage) -> None:
    _fill(storage, old_us=100, new_us=10**15)
    for purge in ("purge_sessions", "purge_keys"):
        counts = []
        while True:
            with storage.transaction() as tx:
                counts.append(getattr(tx, purge)(1000, 10))
            if counts[-1] < 10:
                break
        assert sum(counts) == ROWS
        assert max(counts) == 10
    with storage.transaction() as tx:
        assert (tx.count("sessions"), tx.count("idempotency")) == (3, 3)
        # Without a limit, one statement purges everything that is due (as before).
        assert tx.purge_sessions(10**16) == 3
        assert tx.purge_keys(10**16) == 3


@pytest.fixture
def server(tmp_path: Path) -> Iterator[VerifierServer]:
    pki = TestPki.open(sim_home() / "pki")
    trust = TrustStore({k.value: [pki.ca_certificate(k)] for k in CertKind})
    checker = RevocationChecker(
        CrlStore(trust, {}, refresh_seconds=300), OcspClient(trust, {}, timeout=1)
    )
    storage = open_storage(f"sqlite:///{tmp_path / 'sweep.sqlite'}")
    config = VerifierConfig()
    yield VerifierServer(config, Core(config, trust, checker, storage, clock=MutableClock()))
    storage.close()


def test_a_sweep_expires_and_purges_everything_in_bounded_units(server: VerifierServer) -> None:
    core = server.core
    now_us = to_us(core.now())
    policy = server.config.policy
    with core.storage.transaction() as tx:
        for n in range(ROWS):
            tx.insert_transfer(
                Transfer(
                    authorization_id=f"aut_{n:022d}",
                    terminal_id="atm-01",
                    amount_yen=100,
                    statement_digest=b"d" * 32,
                    state=TransferState.AUTHORIZED,
                    identity_verified=False,
                    certificate_serial="",
                    revocation_source=RevocationSource.NONE,
                    created_us=1,
                    expires_us=now_us - 1,
                )
            )
    _fill(
        core.storage,
        old_us=now_us - int(2 * policy.idempotency_ttl_seconds * 1_000_000),
        new_us=now_us + 60_000_000,
    )
    storage = core.storage
    assert isinstance(storage, SqliteStorage)
    units = storage.group_units

    assert server.sweep_once(policy.idempotency_ttl_seconds) == ROWS

    # Three steps (64, 64, 7 rows) for the expiries, the keys and the sessions each.
    assert storage.group_units - units == 9
    with storage.transaction() as tx:
        states = {t.state for t in tx.list_transfers()}
        expired = tx.audit_trail(actions=["EXPIRE_TRANSFER"])
        assert (tx.count("sessions"), tx.count("idempotency")) == (3, 3)
    assert states == {TransferState.EXPIRED}
    assert len(expired) == ROWS
    assert server.sweep_once(policy.idempotency_ttl_seconds) == 0


def test_a_key_purge_step_reads_the_index_not_the_table(storage: Storage) -> None:
    """Each step finds its keys through ``idempotency_created`` (migration 6), on both databases.

    Why: the table holds every key of the idempotency TTL (48 h of calls), and
    without the index every step, and the whole of each sweep's last one,
    scanned it inside the writer's transaction. The plan of the very SQL that
    ``purge_keys`` runs is asked for (``EXPLAIN``); on PostgreSQL sequential
    scans are priced out first, since on a near-empty table the planner
    would rightly prefer one.
    """
    plans: list[str] = []
    with storage._begin() as execute:
        if storage.dialect == "postgresql":
            execute("SET LOCAL enable_seqscan = off")
        prefix = "EXPLAIN QUERY PLAN " if storage.dialect == "sqlite" else "EXPLAIN "

        def explaining(sql: str, params: Sequence[Any] = ()) -> Any:
            rows = execute(prefix + sql, params).fetchall()
            plans.append(" | ".join(" ".join(str(column) for column in row) for row in rows))
            return _NoRows()

        Transaction(explaining).purge_keys(1_000, _SWEEP_BATCH)
    assert len(plans) == 1, plans
    assert "idempotency_created" in plans[0], plans[0]


class _NoRows:
    rowcount = 0


def test_migration_6_accepts_an_index_built_beforehand(storage: Storage) -> None:
    """An operator may build the index first (``CREATE INDEX CONCURRENTLY`` on PostgreSQL).

    Replayed here by forgetting version 6 on a migrated database (whose index
    therefore exists) and migrating again: the migration must find the index
    and go on, not fail the start-up.
    """
    with storage.transaction() as tx:
        tx._x("DELETE FROM schema_version WHERE version = 6")
    assert storage.migrate() == SCHEMA_VERSION
    test_a_key_purge_step_reads_the_index_not_the_table(storage)
