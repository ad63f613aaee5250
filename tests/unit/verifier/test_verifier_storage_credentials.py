# SPDX-License-Identifier: Apache-2.0
"""Migration 5 (issue 15) on SQLite and a real PostgreSQL: the audit log's credential columns.

An upgrade from version 4 keeps every older entry, with "" (unknown) for
the new columns, and the audit log stays append-only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.postgres_support import PostgresCluster
from verifier.errors import StorageError
from verifier.storage import AuditEntry, open_storage
from verifier.storage.migrations import MIGRATIONS, SCHEMA_VERSION


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'v.sqlite'}"
    cluster: PostgresCluster = request.getfixturevalue("cluster")
    return cluster.new_database()


def test_version_5_adds_the_credential_columns_in_both_dialects() -> None:
    assert SCHEMA_VERSION >= 5
    for dialect in ("sqlite", "postgresql"):
        statements = " ".join(MIGRATIONS[5][dialect])
        assert "credential_kind" in statements
        assert "credential_claim" in statements


def test_the_credential_kind_and_claim_are_stored(url: str) -> None:
    entry = AuditEntry(
        at_us=1,
        terminal_id="atm-01",
        action="VERIFY_CARD",
        verdict="ACCEPTED",
        reason="OK",
        certificate_serial="AB",
        credential_kind="mobile",
        credential_claim="card",
    )
    with open_storage(url) as storage:
        with storage.transaction() as tx:
            tx.append_audit(entry)
        with storage.transaction() as tx:
            assert tx.audit_entries() == [entry]
            assert tx.audit_trail(actions=["VERIFY_CARD"]) == [entry]
        with pytest.raises(StorageError), storage.transaction() as tx:
            tx._x("UPDATE audit SET credential_kind = 'card'")  # append-only still
        with storage.transaction() as tx:
            assert tx.audit_entries()[0].credential_kind == "mobile"


def test_an_upgrade_from_version_4_keeps_older_entries(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialect = "sqlite" if url.startswith("sqlite") else "postgres"
    module = f"verifier.storage.{dialect}.SCHEMA_VERSION"
    with monkeypatch.context() as patched:
        patched.setattr(module, 4)
        with open_storage(url) as old, old.transaction() as tx:
            # What a version-4 verifier wrote (no credential columns yet).
            tx._x(
                "INSERT INTO audit (at_us, terminal_id, action, verdict, reason,"
                " certificate_serial, subject_id, card_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (1, "atm-01", "VERIFY_CARD", "ACCEPTED", "OK", "AB", "", ""),
            )
    with open_storage(url) as storage:
        assert storage.migrate() == SCHEMA_VERSION
        with storage.transaction() as tx:
            (entry,) = tx.audit_entries()
    assert (entry.certificate_serial, entry.credential_kind, entry.credential_claim) == (
        "AB",
        "",
        "",
    )
