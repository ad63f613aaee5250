# SPDX-License-Identifier: Apache-2.0
"""The in-memory ledger: for unit tests of the domain logic (lost on exit).

Same contract as the SQLite ledger (``municipal.ledger.base``), under one
lock held only to look up, reserve and store (the build runs outside it);
the service never runs on it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from municipal.errors import DigestMismatchError, IdempotencyConflictError, UnknownDocumentError
from municipal.ledger.base import (
    Builder,
    DocumentState,
    IssuedDocument,
    PrintFailure,
    issue_in_steps,
)

__all__ = ["MemoryLedger", "settle"]


def settle(current: DocumentState, action: DocumentState) -> DocumentState:
    """The state after ``action`` (PRINTED or VOID): only an ISSUED document changes."""
    return action if current is DocumentState.ISSUED else current


@dataclass
class _Row:
    fingerprint: bytes
    document: IssuedDocument
    state: DocumentState


class MemoryLedger:
    """A ledger in a dict, under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, _Row] = {}
        self._by_serial: dict[str, _Row] = {}
        self._top = 0  # the highest number stored
        self._reserved: dict[int, str] = {}  # number -> key, built but not stored yet
        self._changes: dict[str, tuple[str, DocumentState, bytes | PrintFailure]] = {}

    def issue_once(self, key: str, fingerprint: bytes, build: Builder) -> IssuedDocument:
        """See ``Ledger.issue_once``."""
        return issue_in_steps(self, key, fingerprint, build)

    def _stored(self, key: str, fingerprint: bytes) -> IssuedDocument | None:
        row = self._by_key.get(key)
        if row is None:
            return None
        if row.fingerprint != fingerprint:
            raise IdempotencyConflictError("idempotency key reused for another request")
        return row.document

    def _reserve(self, key: str, fingerprint: bytes) -> IssuedDocument | int:
        with self._lock:
            stored = self._stored(key, fingerprint)
            if stored is not None:
                return stored
            number = max(self._top, max(self._reserved, default=0)) + 1
            self._reserved[number] = key
            return number

    def _release(self, number: int) -> None:
        with self._lock:
            self._reserved.pop(number, None)

    def _store(
        self, key: str, fingerprint: bytes, number: int, document: IssuedDocument
    ) -> IssuedDocument:
        with self._lock:
            self._reserved.pop(number, None)
            stored = self._stored(key, fingerprint)
            if stored is not None:
                return stored  # a concurrent request with this key stored first
            row = _Row(fingerprint, document, DocumentState.ISSUED)
            self._by_key[key] = self._by_serial[document.serial] = row
            self._top = max(self._top, number)
            return document

    def _change(
        self, key: str, serial: str, action: DocumentState, detail: bytes | PrintFailure
    ) -> DocumentState:
        with self._lock:
            done = self._changes.get(key)
            if done is not None and done != (serial, action, detail):
                raise IdempotencyConflictError("idempotency key reused for another request")
            row = self._by_serial.get(serial)
            if row is None:
                raise UnknownDocumentError("no document has this serial")
            if action is DocumentState.PRINTED and detail != row.document.sha256:
                raise DigestMismatchError("the printed bytes are not the issued document")
            row.state = settle(row.state, action)
            self._changes[key] = (serial, action, detail)
            return row.state

    def record_printed(self, key: str, serial: str, sha256: bytes) -> DocumentState:
        """See ``Ledger.record_printed``."""
        return self._change(key, serial, DocumentState.PRINTED, sha256)

    def void(self, key: str, serial: str, failure: PrintFailure) -> DocumentState:
        """See ``Ledger.void``."""
        return self._change(key, serial, DocumentState.VOID, failure)

    def state(self, serial: str) -> DocumentState:
        """See ``Ledger.state``."""
        with self._lock:
            row = self._by_serial.get(serial)
            if row is None:
                raise UnknownDocumentError("no document has this serial")
            return row.state

    def count(self) -> int:
        """See ``Ledger.count``."""
        with self._lock:
            return len(self._by_key)

    def close(self) -> None:
        """Nothing to release."""
