# SPDX-License-Identifier: Apache-2.0
"""``myna-edge verifier transfers``: the ledger's authorisations for reconciliation.

The ledger is a real verifier database written through its storage
interface; the command runs as the operator runs it, as its own process,
beside a database the service could be using.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from verifier.codes import RevocationSource, TransferState
from verifier.storage import Storage, Transfer, open_storage

ROOT = Path(__file__).resolve().parents[3]
SERIAL = "5EC1A1"
DIGEST = bytes.fromhex("d1") * 32
BASE_US = int(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC).timestamp()) * 1_000_000
#: (authorization id, terminal, amount, state)
ROWS = [
    ("aut-1", "atm-01", 150_000, TransferState.COMMITTED),
    ("aut-2", "atm-01", 250_000, TransferState.EXPIRED),
    ("aut-3", "atm-02", 300_000, TransferState.EXPIRED),
    ("aut-4", "atm-02", 120_000, TransferState.REVERSED),
    ("aut-5", "atm-01", 110_000, TransferState.AUTHORIZED),
]


def _fill(storage: Storage) -> None:
    with storage.transaction() as tx:
        for n, (auth, terminal, amount, state) in enumerate(ROWS):
            tx.insert_transfer(
                Transfer(
                    authorization_id=auth,
                    terminal_id=terminal,
                    amount_yen=amount,
                    statement_digest=DIGEST,
                    state=state,
                    identity_verified=True,
                    certificate_serial=SERIAL,
                    revocation_source=RevocationSource.OCSP,
                    created_us=BASE_US + n * 60_000_000,  # a minute apart
                    expires_us=BASE_US + n * 60_000_000 + 300_000_000,
                )
            )


def test_the_ledger_lists_by_state_and_terminal(storage: Storage) -> None:
    _fill(storage)
    with storage.reading() as tx:
        expired = tx.list_transfers(state=TransferState.EXPIRED)
        theirs = tx.list_transfers(terminal_id="atm-01", state=TransferState.EXPIRED)
        everything = tx.list_transfers()
    assert [t.authorization_id for t in expired] == ["aut-2", "aut-3"]
    assert [t.authorization_id for t in theirs] == ["aut-2"]
    assert [t.authorization_id for t in everything] == [row[0] for row in ROWS]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "myna_edge", "verifier", "transfers", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
        env=env,
    )


@pytest.fixture
def ledger(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'verifier.sqlite'}"
    with open_storage(url) as storage:
        _fill(storage)
    return url


def test_the_expired_authorisations_as_json_lines(ledger: str) -> None:
    done = _run("--db", ledger, "--state", "expired", "--json")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["authorization"], r["terminal"], r["amount_yen"]) for r in rows] == [
        ("aut-2", "atm-01", 250_000),
        ("aut-3", "atm-02", 300_000),
    ]
    assert {r["state"] for r in rows} == {"EXPIRED"}
    assert (rows[0]["created"], rows[0]["expires"]) == (
        "2026-12-01T09:01:00+00:00",
        "2026-12-01T09:06:00+00:00",
    )
    assert rows[0]["changed"] == ""  # never changed after it was written
    # Nothing that points at the resident: no certificate serial, no digest.
    assert SERIAL not in done.stdout
    assert DIGEST.hex() not in done.stdout


def test_one_terminals_authorisations_as_a_table(ledger: str) -> None:
    done = _run("--db", ledger, "--terminal-id", "atm-02")
    assert done.returncode == 0, done.stderr
    header, *lines = done.stdout.splitlines()
    columns = header.split()
    assert columns[:4] == ["authorization", "terminal", "amount_yen", "state"]
    assert columns[4:] == ["identity_verified", "created", "expires", "changed"]
    assert [line.split()[:4] for line in lines] == [
        ["aut-3", "atm-02", "300000", "EXPIRED"],
        ["aut-4", "atm-02", "120000", "REVERSED"],
    ]


def test_a_database_that_is_not_there_is_refused_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "typo.sqlite"
    done = _run("--db", f"sqlite:///{missing}", "--state", "expired")
    assert done.returncode == 2
    assert f"no database at {missing}" in done.stderr
    assert not missing.exists()


def test_an_unknown_state_is_refused_by_the_parser(ledger: str) -> None:
    done = _run("--db", ledger, "--state", "lost")
    assert done.returncode == 2
    assert "invalid choice: 'lost'" in done.stderr
