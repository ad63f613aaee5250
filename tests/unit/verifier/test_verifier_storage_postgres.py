# SPDX-License-Identifier: Apache-2.0
"""The PostgreSQL backend across a database restart: transient errors, then recovery.

Regression: pooled connections the server closed during a restart used to
fail the next calls with a plain ``StorageError`` (gRPC UNKNOWN, never
retried). Now a dead idle connection is dropped when taken from the pool,
and what fails while the server is down is a ``StorageUnavailableError``.
Real cluster (``pg_ctl stop -m fast`` / start: SIGINT by PID, same folder
and port).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
import pytest

from tests.postgres_support import PostgresCluster, postgres_cluster
from verifier.codes import Purpose
from verifier.errors import StorageError, StorageUnavailableError
from verifier.storage import Session, Storage, open_storage


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster() as running:
        yield running


def _session(n: int) -> Session:
    sid = f"ses_{n:022d}"
    return Session(
        sid, "atm-01", Purpose.CARD_VERIFICATION, sid.encode()[:32].ljust(32, b"\0"), 10**15
    )


def _write(storage: Storage, n: int) -> None:
    with storage.transaction() as tx:
        tx.insert_session(_session(n))


def test_a_restart_drops_the_dead_pooled_connections(cluster: PostgresCluster) -> None:
    with open_storage(cluster.new_database()) as storage:
        with contextlib.ExitStack() as stack:  # four connections at once, pooled afterwards
            for n in range(4):
                stack.enter_context(storage.transaction()).insert_session(_session(n))
        cluster.restart()
        for n in range(4, 12):  # every pooled connection was closed by the restart
            _write(storage, n)
        assert storage.submit(lambda tx: tx.count("sessions")).result(timeout=10) == 12


def test_while_the_server_is_down_errors_are_transient(cluster: PostgresCluster) -> None:
    with open_storage(cluster.new_database()) as storage:
        _write(storage, 1)
        cluster.stop_server()
        with pytest.raises(StorageUnavailableError, match="PostgreSQL"):
            _write(storage, 2)
        with pytest.raises(StorageUnavailableError):
            storage.submit(lambda tx: tx.count("sessions")).result(timeout=10)
        cluster.start_server()
        _write(storage, 2)
        with storage.reading() as tx:
            assert tx.get_session(_session(2).session_id) is not None


def test_a_constraint_violation_is_not_transient(cluster: PostgresCluster) -> None:
    with open_storage(cluster.new_database()) as storage:
        _write(storage, 1)
        with pytest.raises(StorageError) as caught:
            _write(storage, 1)  # duplicate key: retrying cannot help
        assert not isinstance(caught.value, StorageUnavailableError)


def test_a_healthy_pooled_connection_is_kept(cluster: PostgresCluster) -> None:
    url = cluster.new_database()
    name = url.rsplit("/", 1)[-1]

    def backends() -> set[int]:
        with psycopg.connect(cluster.url(), autocommit=True) as admin:
            rows = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)
            ).fetchall()
        return {int(row[0]) for row in rows}

    with open_storage(url) as storage:
        _write(storage, 0)
        first = backends()
        for n in range(1, 6):  # one after the other: the same pooled connection each time
            _write(storage, n)
        assert len(first) == 1
        assert backends() == first  # the health check did not drop (and reopen) a live one


def test_a_failed_statement_nobody_read_still_fails_the_whole_unit(
    cluster: PostgresCluster,
) -> None:
    """A failing statement whose result the unit never reads fails the whole unit.

    As the audit row and the stored answer are in a real unit. The unit's
    first row must not survive, and the pooled connection must be back at
    rest for the next unit (which reads and writes normally). Written for a
    pipelined backend (errors arriving late), kept for any backend.
    """
    with open_storage(cluster.new_database()) as storage:
        _write(storage, 1)

        def unit() -> None:
            with storage.transaction() as tx:
                tx.insert_session(_session(2))
                tx.insert_session(_session(1))  # duplicate key, its result never read
                tx.insert_session(_session(3))

        with pytest.raises(StorageError) as caught:
            unit()
        assert not isinstance(caught.value, StorageUnavailableError)
        with storage.reading() as tx:
            assert tx.get_session(_session(2).session_id) is None
            assert tx.get_session(_session(3).session_id) is None
        _write(storage, 4)
        assert storage.submit(lambda tx: tx.count("sessions")).result(timeout=10) == 2


def test_a_unit_that_raises_is_rolled_back_on_its_connection(cluster: PostgresCluster) -> None:
    with open_storage(cluster.new_database()) as storage:

        def unit() -> None:
            with storage.transaction() as tx:
                tx.insert_session(_session(1))
                raise RuntimeError("the unit's own failure")

        with pytest.raises(RuntimeError):
            unit()
        _write(storage, 2)  # the same pooled connection: rolled back, not left in a transaction
        assert storage.submit(lambda tx: tx.count("sessions")).result(timeout=10) == 1
