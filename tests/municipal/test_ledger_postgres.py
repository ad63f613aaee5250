# SPDX-License-Identifier: Apache-2.0
"""The PostgreSQL ledger: replicas on one database never share a number; print/void once.

Why two ledger objects on one database: that is two service replicas (the
Takamatsu incident: a single-server build on a multi-server site); the
advisory lock and the unique keys must keep their numbers apart. Real
cluster (``tests.postgres_support``), the same checks as the SQLite ledger's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from municipal.errors import (
    DigestMismatchError,
    IdempotencyConflictError,
    LedgerError,
    Refusal,
    RefusedError,
    UnknownDocumentError,
)
from municipal.ledger import DocumentState, IssuedDocument, PrintFailure, open_ledger
from municipal.ledger.postgres import PostgresLedger
from tests.postgres_support import PostgresCluster, postgres_cluster

NOW = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)


def _build(number: int) -> IssuedDocument:
    pdf = f"%PDF document {number}".encode()
    return IssuedDocument(
        serial=f"131016-2026-{number:06d}",
        pdf=pdf,
        sha256=hashlib.sha256(pdf).digest(),
        fee_yen=200,
        issued_at=NOW,
    )


def _refuse(number: int) -> IssuedDocument:
    raise RefusedError(Refusal.NOT_A_RESIDENT)


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster() as running:
        yield running


def test_two_replicas_on_one_database_never_share_a_number(cluster: PostgresCluster) -> None:
    url = cluster.new_database()
    first, second = PostgresLedger(url), PostgresLedger(url)
    try:
        jobs = [(first if n % 2 else second, f"k-{n}") for n in range(40)]
        jobs += [(second if n % 2 else first, f"k-{n}") for n in range(10)]  # retries elsewhere
        with ThreadPoolExecutor(max_workers=8) as pool:
            issued = list(pool.map(lambda job: job[0].issue_once(job[1], b"f", _build), jobs))
        assert len({d.serial for d in issued}) == 40
        assert issued[40:] == issued[:10]  # the same key on the other replica: the same bytes
        assert first.count() == second.count() == 40
    finally:
        first.close()
        second.close()


def test_a_refusal_stores_nothing_and_print_or_void_is_decided_once(
    cluster: PostgresCluster,
) -> None:
    ledger = open_ledger(cluster.new_database())
    try:
        with pytest.raises(RefusedError):
            ledger.issue_once("k", b"fingerprint", _refuse)
        assert ledger.count() == 0
        document = ledger.issue_once("k", b"fingerprint", _build)
        assert document.serial == "131016-2026-000001"
        assert ledger.issue_once("k", b"fingerprint", _build) == document
        with pytest.raises(IdempotencyConflictError):
            ledger.issue_once("k", b"another", _build)
        with pytest.raises(DigestMismatchError):
            ledger.record_printed("p", document.serial, bytes(32))
        with pytest.raises(UnknownDocumentError):
            ledger.void("v", "131016-2026-000009", PrintFailure.JAM)
        assert ledger.void("v", document.serial, PrintFailure.JAM) is DocumentState.VOID
        assert ledger.record_printed("p", document.serial, document.sha256) is DocumentState.VOID
        with pytest.raises(IdempotencyConflictError):
            ledger.void("v", document.serial, PrintFailure.PAPER_OUT)
        assert ledger.state(document.serial) is DocumentState.VOID
    finally:
        ledger.close()
        ledger.close()


def test_a_server_restart_is_survived_and_the_url_never_leaks(cluster: PostgresCluster) -> None:
    url = cluster.new_database()
    ledger = PostgresLedger(url)
    try:
        document = ledger.issue_once("k-1", b"f", _build)
        cluster.stop_server()
        with pytest.raises(LedgerError) as caught:
            ledger.count()
        assert url not in str(caught.value)
        cluster.start_server()
        assert ledger.issue_once("k-1", b"f", _build) == document
        assert ledger.issue_once("k-2", b"f", _build).serial == "131016-2026-000002"
    finally:
        ledger.close()
    with pytest.raises(LedgerError):
        ledger.count()


def test_builds_run_outside_the_lock_and_the_first_store_wins(cluster: PostgresCluster) -> None:
    url = cluster.new_database()
    first, second = PostgresLedger(url), PostgresLedger(url)
    # Four builds on two replicas meet inside the builder: impossible under the lock.
    barrier = threading.Barrier(4, timeout=30.0)

    def meeting(number: int) -> IssuedDocument:
        barrier.wait()
        return _build(number)

    jobs = [(first, "a"), (second, "b"), (first, "same"), (second, "same")]
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            issued = list(pool.map(lambda job: job[0].issue_once(job[1], b"f", meeting), jobs))
        assert len({d.serial for d in issued[:3]}) == 3
        assert issued[2] == issued[3]  # one key, one document: the loser's is discarded
        assert first.count() == 3
    finally:
        first.close()
        second.close()


def test_a_crash_between_reserve_and_store_skips_the_number(cluster: PostgresCluster) -> None:
    url = cluster.new_database()
    crashed = PostgresLedger(url)
    assert crashed._reserve("k", b"f") == 1  # reserved, then the replica died
    crashed.close()
    ledger = PostgresLedger(url)
    try:
        document = ledger.issue_once("k", b"f", _build)
        assert document.serial == "131016-2026-000002"
        assert ledger.issue_once("k", b"f", _build) == document
        assert ledger.count() == 1
    finally:
        ledger.close()
