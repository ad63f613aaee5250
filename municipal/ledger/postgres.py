# SPDX-License-Identifier: Apache-2.0
"""The ledger in PostgreSQL (``postgresql://...``): several service replicas on one ledger.

Why this shape: the Takamatsu incident was a single-server build deployed on
a multi-server site. Here every replica's issue takes the same
transaction-scoped advisory lock (``pg_advisory_xact_lock``) before it looks
up the key and reserves the number, and again before it stores, so two
replicas serialise exactly as two processes on one SQLite file do under
``BEGIN IMMEDIATE``, and the unique keys (number, serial, idempotency key)
make a duplicate impossible rather than unlikely. A print or void locks its
row (``SELECT ... FOR UPDATE``), so whichever of the two commits first
decides and the other reads the result. Rendering runs between the two
transactions with no lock held (``issue_in_steps``); a crash there leaves a
``reservations`` row and no document: the number is skipped, never reused.

One connection per ledger object, under a lock held per transaction only;
a connection the server closed (a restart) is replaced on the next call.
Errors are ``LedgerError``, never
psycopg's; the URL, which may hold a password, never reaches a message.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import psycopg

from municipal.errors import (
    DigestMismatchError,
    IdempotencyConflictError,
    LedgerError,
    UnknownDocumentError,
)
from municipal.ledger.base import (
    Builder,
    DocumentState,
    IssuedDocument,
    PrintFailure,
    document_row,
    issue_in_steps,
)
from municipal.ledger.memory import settle

__all__ = ["ISSUE_LOCK", "SCHEMA", "PostgresLedger"]

#: The advisory lock every replica's issue takes ("MYNAMUNI" as a 64-bit number).
ISSUE_LOCK: Final = int.from_bytes(b"MYNAMUNI", "big") & 0x7FFF_FFFF_FFFF_FFFF
#: The schema (version 1 + reservations, as the SQLite ledger's with PostgreSQL types).
SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS documents (
        number BIGINT PRIMARY KEY,
        serial TEXT NOT NULL UNIQUE,
        idempotency_key TEXT NOT NULL UNIQUE,
        fingerprint BYTEA NOT NULL,
        fee_yen BIGINT NOT NULL,
        pdf BYTEA NOT NULL,
        sha256 BYTEA NOT NULL,
        issued_at TEXT NOT NULL,
        state TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS state_changes (
        idempotency_key TEXT PRIMARY KEY,
        serial TEXT NOT NULL REFERENCES documents (serial),
        action TEXT NOT NULL,
        detail TEXT NOT NULL
    )""",
    # A number handed to a build in progress; never an idempotency key's answer.
    """CREATE TABLE IF NOT EXISTS reservations (
        number BIGINT PRIMARY KEY,
        idempotency_key TEXT NOT NULL
    )""",
)
#: The next number: above every stored and every reserved one.
_NEXT_NUMBER: Final = (
    "SELECT GREATEST((SELECT MAX(number) FROM documents),"
    " (SELECT MAX(number) FROM reservations), 0) + 1"
)


class PostgresLedger:
    """The ledger in a PostgreSQL database, shared by any number of replicas."""

    def __init__(self, url: str) -> None:
        """Connect and create the tables (under the issue lock: replicas may start together).

        Raises:
            LedgerError: the database cannot be reached or set up.
        """
        self._url = url
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._closed = False
        with self._transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (ISSUE_LOCK,))
            for statement in SCHEMA:
                cur.execute(statement)

    def __repr__(self) -> str:
        return f"PostgresLedger(database={self._url.rsplit('/', 1)[-1].split('?')[0]!r})"

    def _connection(self) -> psycopg.Connection[Any]:
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            try:
                conn = psycopg.connect(self._url, autocommit=False)
            except psycopg.Error as exc:
                raise LedgerError(f"cannot connect to PostgreSQL: {type(exc).__name__}") from exc
            self._conn = conn
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        with self._lock:
            if self._closed:
                raise LedgerError("the ledger is closed")
            conn = self._connection()
            try:
                with conn.transaction(), conn.cursor() as cur:
                    yield cur
            except psycopg.Error as exc:
                raise LedgerError(f"PostgreSQL: {exc.sqlstate or type(exc).__name__}") from exc

    def issue_once(self, key: str, fingerprint: bytes, build: Builder) -> IssuedDocument:
        """See ``Ledger.issue_once``."""
        return issue_in_steps(self, key, fingerprint, build)

    @staticmethod
    def _stored(cur: psycopg.Cursor[Any], key: str, fingerprint: bytes) -> IssuedDocument | None:
        cur.execute(
            "SELECT fingerprint, serial, pdf, sha256, fee_yen, issued_at FROM documents"
            " WHERE idempotency_key = %s",
            (key,),
        )
        row = cur.fetchone()
        if row is None:
            return None
        if bytes(row[0]) != fingerprint:
            raise IdempotencyConflictError("idempotency key reused for another request")
        return IssuedDocument(
            serial=row[1],
            pdf=bytes(row[2]),
            sha256=bytes(row[3]),
            fee_yen=int(row[4]),
            issued_at=dt.datetime.fromisoformat(row[5]),
        )

    def _reserve(self, key: str, fingerprint: bytes) -> IssuedDocument | int:
        with self._transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (ISSUE_LOCK,))
            stored = self._stored(cur, key, fingerprint)
            if stored is not None:
                return stored
            cur.execute(_NEXT_NUMBER)
            number = int(cur.fetchone()[0])  # type: ignore[index]
            cur.execute(
                "INSERT INTO reservations (number, idempotency_key) VALUES (%s, %s)", (number, key)
            )
            return number

    def _release(self, number: int) -> None:
        with self._transaction() as cur:
            cur.execute("DELETE FROM reservations WHERE number = %s", (number,))

    def _store(
        self, key: str, fingerprint: bytes, number: int, document: IssuedDocument
    ) -> IssuedDocument:
        with self._transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (ISSUE_LOCK,))
            cur.execute("DELETE FROM reservations WHERE number = %s", (number,))
            stored = self._stored(cur, key, fingerprint)
            if stored is not None:
                return stored  # a concurrent request with this key stored first
            cur.execute(
                "INSERT INTO documents (number, serial, idempotency_key, fingerprint, fee_yen,"
                " pdf, sha256, issued_at, state) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                document_row(number, key, fingerprint, document),
            )
            return document

    def _change(self, key: str, serial: str, action: DocumentState, detail: str) -> DocumentState:
        with self._transaction() as cur:
            cur.execute(
                "SELECT state, sha256 FROM documents WHERE serial = %s FOR UPDATE", (serial,)
            )
            row = cur.fetchone()
            cur.execute(
                "SELECT serial, action, detail FROM state_changes WHERE idempotency_key = %s",
                (key,),
            )
            done = cur.fetchone()
            if done is not None and tuple(done) != (serial, action.value, detail):
                raise IdempotencyConflictError("idempotency key reused for another request")
            if row is None:
                raise UnknownDocumentError("no document has this serial")
            if action is DocumentState.PRINTED and bytes(row[1]).hex() != detail:
                raise DigestMismatchError("the printed bytes are not the issued document")
            state = settle(DocumentState(row[0]), action)
            cur.execute("UPDATE documents SET state = %s WHERE serial = %s", (state.value, serial))
            if done is None:
                cur.execute(
                    "INSERT INTO state_changes (idempotency_key, serial, action, detail)"
                    " VALUES (%s, %s, %s, %s)",
                    (key, serial, action.value, detail),
                )
            return state

    def record_printed(self, key: str, serial: str, sha256: bytes) -> DocumentState:
        """See ``Ledger.record_printed``."""
        return self._change(key, serial, DocumentState.PRINTED, sha256.hex())

    def void(self, key: str, serial: str, failure: PrintFailure) -> DocumentState:
        """See ``Ledger.void``."""
        return self._change(key, serial, DocumentState.VOID, failure.value)

    def state(self, serial: str) -> DocumentState:
        """See ``Ledger.state``."""
        with self._transaction() as cur:
            cur.execute("SELECT state FROM documents WHERE serial = %s", (serial,))
            row = cur.fetchone()
        if row is None:
            raise UnknownDocumentError("no document has this serial")
        return DocumentState(row[0])

    def count(self) -> int:
        """See ``Ledger.count``."""
        with self._transaction() as cur:
            cur.execute("SELECT COUNT(*) FROM documents")
            row = cur.fetchone()
        return int(row[0]) if row is not None else 0

    def close(self) -> None:
        """Close the connection; harmless twice."""
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
