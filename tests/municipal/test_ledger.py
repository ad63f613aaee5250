# SPDX-License-Identifier: Apache-2.0
"""The SQLite ledger: one row per key, numbers never shared, print/void decided once.

Why two ledgers on one file: that is two service processes on one machine
(the Takamatsu incident was a single-server build on a multi-server site);
the unique keys and ``BEGIN IMMEDIATE`` must keep their numbers apart.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from municipal.errors import (
    DigestMismatchError,
    IdempotencyConflictError,
    Refusal,
    RefusedError,
    UnknownDocumentError,
)
from municipal.ledger import DocumentState, IssuedDocument, PrintFailure, open_ledger
from municipal.ledger.sqlite import SqliteLedger

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


def test_two_processes_on_one_file_never_share_a_number(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    first, second = SqliteLedger(path), SqliteLedger(path)
    try:
        jobs = [(first if n % 2 else second, f"k-{n}") for n in range(40)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            issued = list(pool.map(lambda job: job[0].issue_once(job[1], b"f", _build), jobs))
        assert len({d.serial for d in issued}) == 40
        assert first.count() == second.count() == 40
    finally:
        first.close()
        second.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_refusal_stores_nothing_and_a_key_is_bound_to_its_request(tmp_path: Path) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
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


def test_a_crash_between_reserve_and_store_skips_the_number(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    crashed = SqliteLedger(path)
    assert crashed._reserve("k", b"f") == 1  # reserved, then the process died
    crashed.close()
    ledger = SqliteLedger(path)
    try:
        # The retry issues one document under a new number; 1 is never handed out.
        document = ledger.issue_once("k", b"f", _build)
        assert document.serial == "131016-2026-000002"
        assert ledger.issue_once("k", b"f", _build) == document
        assert ledger.issue_once("k-2", b"f", _build).serial == "131016-2026-000003"
        assert ledger.count() == 2
    finally:
        ledger.close()


@pytest.mark.parametrize("url", ["memory:", "sqlite"])
def test_a_failed_build_releases_its_number(tmp_path: Path, url: str) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'l.sqlite'}" if url == "sqlite" else url)

    def crash(number: int) -> IssuedDocument:
        raise RuntimeError("renderer crashed")

    try:
        with pytest.raises(RuntimeError):
            ledger.issue_once("k", b"f", crash)
        assert ledger.count() == 0
        assert ledger.issue_once("k", b"f", _build).serial == "131016-2026-000001"
    finally:
        ledger.close()


@pytest.mark.parametrize("url", ["memory:", "sqlite"])
def test_builds_run_outside_the_lock_and_the_first_store_wins(tmp_path: Path, url: str) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'l.sqlite'}" if url == "sqlite" else url)
    # Four builds meet inside the builder: impossible if any held the write lock.
    barrier = threading.Barrier(4, timeout=30.0)
    renders: list[int] = []

    def meeting(number: int) -> IssuedDocument:
        barrier.wait()
        renders.append(number)
        return _build(number)

    jobs = [("a", b"f"), ("b", b"f"), ("same", b"f"), ("same", b"f")]
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            issued = list(pool.map(lambda job: ledger.issue_once(*job, meeting), jobs))
        assert sorted(renders) == [1, 2, 3, 4]  # four numbers reserved, none shared
        assert len({d.serial for d in issued[:3]}) == 3
        assert issued[2] == issued[3]  # one key, one document: the loser's is discarded
        assert ledger.count() == 3
        # The discarded render's number holds no document: reused only if it was the top.
        assert ledger.issue_once("next", b"f", _build).serial not in {d.serial for d in issued}
        assert ledger.count() == 4
    finally:
        ledger.close()
