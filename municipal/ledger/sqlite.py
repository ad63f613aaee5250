# SPDX-License-Identifier: Apache-2.0
"""The ledger in one SQLite file (``sqlite:///PATH``): the reference service's default.

Durable by configuration, as the verifier's storage: WAL journal,
``synchronous=FULL`` (every commit fsynced), ``BEGIN IMMEDIATE`` (the write
lock taken up front, so two processes on one file queue instead of
deadlocking) and a busy timeout. An issue is ``issue_in_steps``: look up the
key or reserve the next number (a ``reservations`` row), build and sign with
no lock held, then store and drop the reservation, each a short
transaction; the unique keys (idempotency key, serial, number) make a second
writer's duplicate impossible rather than unlikely (Takamatsu). A crash
between reserve and store leaves a reservation and no document: the number
is skipped (never reused), the retry reserves another. Documents render in
parallel; the lock is held for two commits per document (docs/issuance.md).
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

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

__all__ = ["SCHEMA", "SqliteLedger"]

#: The schema (version 1 + reservations); ``CREATE ... IF NOT EXISTS`` so opening
#: migrates an older file too.
SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS documents (
        number INTEGER PRIMARY KEY,
        serial TEXT NOT NULL UNIQUE,
        idempotency_key TEXT NOT NULL UNIQUE,
        fingerprint BLOB NOT NULL,
        fee_yen INTEGER NOT NULL,
        pdf BLOB NOT NULL,
        sha256 BLOB NOT NULL,
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
        number INTEGER PRIMARY KEY,
        idempotency_key TEXT NOT NULL
    )""",
)
#: The next number: above every stored and every reserved one.
_NEXT_NUMBER: Final = (
    "SELECT MAX(COALESCE((SELECT MAX(number) FROM documents), 0),"
    " COALESCE((SELECT MAX(number) FROM reservations), 0)) + 1"
)


def _create_owner_only(path: Path) -> None:
    """The file holds issued documents (personal data): 0600 whatever the umask."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return
    os.close(fd)


class SqliteLedger:
    """The ledger in one SQLite file, one connection under one lock per process."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _create_owner_only(self.path)
            self._db: sqlite3.Connection | None = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
        except (sqlite3.Error, OSError) as exc:
            raise LedgerError(f"cannot open the ledger {self.path}: {exc}") from exc
        with self._transaction() as db:
            for statement in SCHEMA:
                db.execute(statement)

    def __repr__(self) -> str:
        return f"SqliteLedger(path={str(self.path)!r})"

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = self._db
            if db is None:
                raise LedgerError("the ledger is closed")
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise LedgerError(f"SQLite: {exc}") from exc
            try:
                yield db
            except sqlite3.Error as exc:
                db.execute("ROLLBACK")
                raise LedgerError(f"SQLite: {exc}") from exc
            except BaseException:
                db.execute("ROLLBACK")
                raise
            try:
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise LedgerError(f"SQLite commit failed: {exc}") from exc

    def issue_once(self, key: str, fingerprint: bytes, build: Builder) -> IssuedDocument:
        """See ``Ledger.issue_once``."""
        return issue_in_steps(self, key, fingerprint, build)

    @staticmethod
    def _stored(db: sqlite3.Connection, key: str, fingerprint: bytes) -> IssuedDocument | None:
        row = db.execute(
            "SELECT fingerprint, serial, pdf, sha256, fee_yen, issued_at FROM documents "
            "WHERE idempotency_key = ?",
            (key,),
        ).fetchone()
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
        with self._transaction() as db:
            stored = self._stored(db, key, fingerprint)
            if stored is not None:
                return stored
            number = int(db.execute(_NEXT_NUMBER).fetchone()[0])
            db.execute(
                "INSERT INTO reservations (number, idempotency_key) VALUES (?, ?)", (number, key)
            )
            return number

    def _release(self, number: int) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM reservations WHERE number = ?", (number,))

    def _store(
        self, key: str, fingerprint: bytes, number: int, document: IssuedDocument
    ) -> IssuedDocument:
        with self._transaction() as db:
            db.execute("DELETE FROM reservations WHERE number = ?", (number,))
            stored = self._stored(db, key, fingerprint)
            if stored is not None:
                return stored  # a concurrent request with this key stored first
            db.execute(
                "INSERT INTO documents (number, serial, idempotency_key, fingerprint, fee_yen, "
                "pdf, sha256, issued_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                document_row(number, key, fingerprint, document),
            )
            return document

    def _change(self, key: str, serial: str, action: DocumentState, detail: str) -> DocumentState:
        with self._transaction() as db:
            done = db.execute(
                "SELECT serial, action, detail FROM state_changes WHERE idempotency_key = ?",
                (key,),
            ).fetchone()
            if done is not None and tuple(done) != (serial, action.value, detail):
                raise IdempotencyConflictError("idempotency key reused for another request")
            row = db.execute(
                "SELECT state, sha256 FROM documents WHERE serial = ?", (serial,)
            ).fetchone()
            if row is None:
                raise UnknownDocumentError("no document has this serial")
            if action is DocumentState.PRINTED and bytes(row[1]).hex() != detail:
                raise DigestMismatchError("the printed bytes are not the issued document")
            state = settle(DocumentState(row[0]), action)
            db.execute("UPDATE documents SET state = ? WHERE serial = ?", (state.value, serial))
            if done is None:
                db.execute(
                    "INSERT INTO state_changes (idempotency_key, serial, action, detail) "
                    "VALUES (?, ?, ?, ?)",
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
        with self._transaction() as db:
            row = db.execute("SELECT state FROM documents WHERE serial = ?", (serial,)).fetchone()
        if row is None:
            raise UnknownDocumentError("no document has this serial")
        return DocumentState(row[0])

    def count(self) -> int:
        """See ``Ledger.count``."""
        with self._transaction() as db:
            return int(db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    def close(self) -> None:
        """Close the connection; harmless twice."""
        with self._lock:
            db, self._db = self._db, None
        if db is not None:
            db.close()
