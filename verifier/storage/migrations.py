# SPDX-License-Identifier: Apache-2.0
"""Schema migrations for both databases, numbered and applied once each.

Why hand-written per dialect: the schema is small, and the few differences
(BLOB vs BYTEA, identity columns, trigger syntax) are clearer side by side
than behind an ORM. Times are integer microseconds since the epoch (UTC) in
both, so comparisons are exact and portable. The audit table is append-only:
a trigger refuses UPDATE and DELETE.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

_COMMON: Final = [
    """CREATE TABLE sessions (
        session_id TEXT PRIMARY KEY,
        terminal_id TEXT NOT NULL,
        purpose INTEGER NOT NULL,
        nonce {blob} NOT NULL UNIQUE,
        expires_us BIGINT NOT NULL,
        used_us BIGINT
    )""",
    """CREATE TABLE idempotency (
        terminal_id TEXT NOT NULL,
        method TEXT NOT NULL,
        idem_key TEXT NOT NULL,
        request_hash {blob} NOT NULL,
        created_us BIGINT NOT NULL,
        status_code INTEGER,
        reason TEXT,
        message TEXT,
        response {blob},
        PRIMARY KEY (terminal_id, method, idem_key)
    )""",
    """CREATE TABLE transfers (
        authorization_id TEXT PRIMARY KEY,
        terminal_id TEXT NOT NULL,
        amount_yen BIGINT NOT NULL,
        statement_digest {blob} NOT NULL,
        state INTEGER NOT NULL,
        identity_verified INTEGER NOT NULL,
        certificate_serial TEXT NOT NULL,
        revocation_source INTEGER NOT NULL,
        created_us BIGINT NOT NULL,
        expires_us BIGINT NOT NULL,
        changed_us BIGINT
    )""",
    "CREATE INDEX transfers_expiry ON transfers (state, expires_us)",
    """CREATE TABLE identity_verifications (
        authorization_id TEXT PRIMARY KEY,
        certificate_serial TEXT NOT NULL,
        name TEXT NOT NULL,
        address TEXT NOT NULL,
        birth_date TEXT NOT NULL,
        gender TEXT NOT NULL,
        revocation_source INTEGER NOT NULL,
        verified_us BIGINT NOT NULL
    )""",
    """CREATE TABLE reservations (
        reservation_id TEXT PRIMARY KEY,
        terminal_id TEXT NOT NULL,
        operation INTEGER NOT NULL,
        policy INTEGER NOT NULL,
        certificate_fingerprint {blob} NOT NULL,
        certificate_serial TEXT NOT NULL,
        otp_hash {blob},
        attempts_left INTEGER NOT NULL,
        state TEXT NOT NULL,
        created_us BIGINT NOT NULL,
        expires_us BIGINT NOT NULL,
        changed_us BIGINT,
        redeemed_by TEXT
    )""",
    "CREATE INDEX reservations_card ON reservations (certificate_fingerprint, state)",
]

_SQLITE: Final = [
    *(s.format(blob="BLOB") for s in _COMMON),
    """CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at_us BIGINT NOT NULL,
        terminal_id TEXT NOT NULL,
        action TEXT NOT NULL,
        verdict TEXT NOT NULL,
        reason TEXT NOT NULL,
        certificate_serial TEXT NOT NULL,
        subject_id TEXT NOT NULL
    )""",
    """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
       BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END""",
    """CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
       BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END""",
]

_POSTGRES: Final = [
    *(s.format(blob="BYTEA") for s in _COMMON),
    """CREATE TABLE audit (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at_us BIGINT NOT NULL,
        terminal_id TEXT NOT NULL,
        action TEXT NOT NULL,
        verdict TEXT NOT NULL,
        reason TEXT NOT NULL,
        certificate_serial TEXT NOT NULL,
        subject_id TEXT NOT NULL
    )""",
    """CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
       $$ BEGIN RAISE EXCEPTION 'audit is append-only'; END $$""",
    """CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
       FOR EACH ROW EXECUTE FUNCTION audit_append_only()""",
]

#: Version 2 (issue 22): the audit log names the card a reset authorisation
#: is for; sessions are purged after expiry, by this index.
_V2: Final = [
    "ALTER TABLE audit ADD COLUMN card_id TEXT NOT NULL DEFAULT ''",
    "CREATE INDEX sessions_expiry ON sessions (expires_us)",
]

#: Version 3 (issue 14): the centre role. Sessions bound to a proven card,
#: requests (the row is the request's idempotency record and keeps the
#: document, so a retry answers the same bytes), and the outbox of what the
#: centre still owes the municipalities. One municipality serial, one request.
_V3: Final = [
    """CREATE TABLE issuance_sessions (
        session_id TEXT PRIMARY KEY,
        terminal_id TEXT NOT NULL,
        nonce {blob} NOT NULL UNIQUE,
        expires_us BIGINT NOT NULL,
        used_us BIGINT,
        proven_us BIGINT,
        certificate_der {blob},
        certificate_fingerprint {blob},
        certificate_serial TEXT NOT NULL
    )""",
    "CREATE INDEX issuance_sessions_expiry ON issuance_sessions (expires_us)",
    """CREATE TABLE issuance_requests (
        request_id TEXT PRIMARY KEY,
        terminal_id TEXT NOT NULL,
        idem_key TEXT NOT NULL,
        request_hash {blob} NOT NULL,
        session_id TEXT NOT NULL,
        certificate_fingerprint {blob} NOT NULL,
        certificate_serial TEXT NOT NULL,
        certificate_der {blob} NOT NULL,
        municipality_code TEXT NOT NULL,
        kind INTEGER NOT NULL,
        options TEXT NOT NULL,
        fee_yen BIGINT NOT NULL,
        state TEXT NOT NULL,
        created_us BIGINT NOT NULL,
        refusal TEXT NOT NULL,
        municipal_refusal INTEGER NOT NULL,
        serial TEXT NOT NULL,
        document {blob},
        document_sha256 {blob},
        print_job_id TEXT NOT NULL,
        failure INTEGER NOT NULL,
        changed_us BIGINT,
        UNIQUE (terminal_id, idem_key)
    )""",
    """CREATE UNIQUE INDEX issuance_requests_serial ON issuance_requests
       (municipality_code, serial) WHERE serial <> ''""",
    "CREATE INDEX issuance_requests_state ON issuance_requests (state, created_us)",
    """CREATE TABLE issuance_outbox (
        request_id TEXT NOT NULL,
        action TEXT NOT NULL,
        municipality_code TEXT NOT NULL,
        serial TEXT NOT NULL,
        document_sha256 {blob} NOT NULL,
        failure INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        next_us BIGINT NOT NULL,
        done_us BIGINT,
        PRIMARY KEY (request_id, action)
    )""",
    "CREATE INDEX issuance_outbox_due ON issuance_outbox (done_us, next_us)",
]

#: Version 4 (issue 16): each terminal's latest status report, so every worker
#: and replica sharing the database serves one fleet (``verifier.fleet_store``).
#: ``closed_us``: when its stream ended (not by our shutdown); online needs a
#: report after that.
_V4: Final = [
    """CREATE TABLE fleet_status (
        terminal_id TEXT PRIMARY KEY,
        report {blob} NOT NULL,
        seen_us BIGINT NOT NULL,
        closed_us BIGINT
    )""",
]

#: Version 5 (issue 15): what carried the certificate of each decision, from
#: its issuing CA (``card``, ``mobile``, ``android``, ``iphone``; "" when no
#: CA signed it or no certificate was shown), and apart from it what the
#: terminal said it detected (never trusted; a mismatch is worth a look).
_V5: Final = [
    "ALTER TABLE audit ADD COLUMN credential_kind TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE audit ADD COLUMN credential_claim TEXT NOT NULL DEFAULT ''",
]

#: Version 6 (issue 18): the sweeper forgets keys older than the idempotency
#: TTL (48 h) in steps of 64 (``Transaction.purge_keys``). Without an index
#: each step scanned the table (every key of the last two days) for rows due,
#: and the last step of every sweep scanned all of it inside the writer's
#: transaction; with it a step reads only the rows it deletes. Keys are
#: inserted in time order, so the index grows at its right edge. ``IF NOT
#: EXISTS``: on a large PostgreSQL table an operator may build it beforehand
#: with ``CREATE INDEX CONCURRENTLY`` (no write lock; not possible inside the
#: migration's transaction), and the migration then finds it there.
_V6: Final = [
    "CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency (created_us)",
]

#: version -> dialect -> statements. Append new versions; never edit old ones.
MIGRATIONS: Final[dict[int, dict[str, list[str]]]] = {
    1: {"sqlite": _SQLITE, "postgresql": _POSTGRES},
    2: {"sqlite": _V2, "postgresql": _V2},
    3: {
        "sqlite": [s.format(blob="BLOB") for s in _V3],
        "postgresql": [s.format(blob="BYTEA") for s in _V3],
    },
    4: {
        "sqlite": [s.format(blob="BLOB") for s in _V4],
        "postgresql": [s.format(blob="BYTEA") for s in _V4],
    },
    5: {"sqlite": _V5, "postgresql": _V5},
    6: {"sqlite": _V6, "postgresql": _V6},
}
SCHEMA_VERSION: Final = max(MIGRATIONS)
