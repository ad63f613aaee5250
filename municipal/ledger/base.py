# SPDX-License-Identifier: Apache-2.0
"""What the issuing ledger keeps, and the interface its backends share.

Why a ledger and not a queue: each document is stored under the centre's
idempotency key, with the request's fingerprint, its serial and its exact
bytes. A retry reads the row back (the same bytes), a key reused with
another request is refused, and nothing is ever picked by position (the
Yokohama and Kawasaki incidents).

Why an issue is three short transactions and not one (``issue_in_steps``):
rendering takes ≈ 0.1 s, and inside the write lock it made documents render
one at a time. Under the lock: look the key up, else *reserve* the next
number (a reservation row, so two processes or replicas never reserve the
same one); outside it: build (check, render, sign) for that number; under the
lock again: store, unless a concurrent request with the same key stored
first (then its document is the answer and this render is discarded). A
builder that raises releases its reservation. A crash between reserve and
store leaves a reservation row and no document: that number is skipped, never
given to another request, and the retry reserves a new one.
Print confirmation and void are state changes on that row, decided once:
whichever arrives first wins, the other answers the final state.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from municipal.errors import LedgerError

__all__ = [
    "DocumentState",
    "IssueSteps",
    "IssuedDocument",
    "Ledger",
    "PrintFailure",
    "document_row",
    "issue_in_steps",
]


class DocumentState(enum.Enum):
    """What happened to an issued document (the wire's DocumentState)."""

    ISSUED = "issued"
    PRINTED = "printed"
    VOID = "void"


class PrintFailure(enum.Enum):
    """Why a document was not printed (the wire's PrintFailure)."""

    PAPER_OUT = "paper_out"
    JAM = "jam"
    COVER_OPEN = "cover_open"
    PRINTER_OFFLINE = "printer_offline"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class IssuedDocument:
    """An issued document: its serial, the signed PDF and its digest, the fee, when."""

    serial: str
    pdf: bytes
    sha256: bytes
    fee_yen: int
    issued_at: dt.datetime

    def __repr__(self) -> str:
        return f"IssuedDocument(serial={self.serial!r}, fee_yen={self.fee_yen})"


#: Builds the document for serial number ``n``, outside the write lock; may
#: raise ``RefusedError`` (then nothing is stored and the reservation released).
Builder = Callable[[int], IssuedDocument]


class IssueSteps(Protocol):
    """A backend's three locked steps of an issue (``issue_in_steps`` runs them)."""

    def _reserve(self, key: str, fingerprint: bytes) -> IssuedDocument | int:
        """The document stored under ``key``, or a newly reserved number."""
        ...

    def _release(self, number: int) -> None:
        """Drop the reservation of ``number`` (no document was stored with it)."""
        ...

    def _store(
        self, key: str, fingerprint: bytes, number: int, document: IssuedDocument
    ) -> IssuedDocument:
        """Store ``document`` as ``number`` and drop its reservation; if ``key`` was
        stored meanwhile, drop the reservation and answer the stored document."""
        ...


def document_row(
    number: int, key: str, fingerprint: bytes, document: IssuedDocument
) -> tuple[object, ...]:
    """The ``documents`` row of a newly issued document, in the column order both SQL
    backends insert (number, serial, idempotency_key, fingerprint, fee_yen, pdf,
    sha256, issued_at, state)."""
    return (
        number,
        document.serial,
        key,
        fingerprint,
        document.fee_yen,
        document.pdf,
        document.sha256,
        document.issued_at.isoformat(),
        DocumentState.ISSUED.value,
    )


def issue_in_steps(
    steps: IssueSteps, key: str, fingerprint: bytes, build: Builder
) -> IssuedDocument:
    """``Ledger.issue_once`` with the build outside the write lock (see the module).

    Raises:
        IdempotencyConflictError: ``key`` was stored with another fingerprint.
        RefusedError: from ``build``; nothing stored, reservation released.
        LedgerError: the database failed.
    """
    found = steps._reserve(key, fingerprint)
    if isinstance(found, IssuedDocument):
        return found
    try:
        return steps._store(key, fingerprint, found, build(found))
    except BaseException:
        # No document holds the number (a store that raised stored nothing, or
        # stored and dropped the reservation itself). Best effort: if the
        # release fails too, the number is merely skipped.
        with contextlib.suppress(LedgerError):
            steps._release(found)
        raise


class Ledger(Protocol):
    """The issuing ledger: one row per document, keyed by the centre's key."""

    def issue_once(self, key: str, fingerprint: bytes, build: Builder) -> IssuedDocument:
        """The document stored under ``key``, or ``build(reserved number)`` stored.

        ``build`` runs outside the write lock; of concurrent calls with one key,
        the first to store wins and every one answers its document.

        Raises:
            IdempotencyConflictError: ``key`` was stored with another fingerprint.
            RefusedError: from ``build``; nothing stored.
            LedgerError: the database failed.
        """
        ...

    def record_printed(self, key: str, serial: str, sha256: bytes) -> DocumentState:
        """ISSUED -> PRINTED (a VOID document stays VOID); returns the final state.

        Raises:
            UnknownDocumentError, DigestMismatchError, IdempotencyConflictError, LedgerError.
        """
        ...

    def void(self, key: str, serial: str, failure: PrintFailure) -> DocumentState:
        """ISSUED -> VOID (a PRINTED document stays PRINTED); returns the final state.

        Raises:
            UnknownDocumentError, IdempotencyConflictError, LedgerError.
        """
        ...

    def state(self, serial: str) -> DocumentState:
        """The document's state.

        Raises:
            UnknownDocumentError, LedgerError.
        """
        ...

    def count(self) -> int:
        """How many documents were issued (figures and tests)."""
        ...

    def close(self) -> None:
        """Release the database; harmless twice."""
        ...
