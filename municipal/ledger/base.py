# SPDX-License-Identifier: Apache-2.0
"""What the issuing ledger keeps, and the interface its backends share.

Why a ledger and not a queue: each document is stored under the centre's
idempotency key, with the request's fingerprint, its serial and its exact
bytes, in the same transaction that allocates the serial. A retry reads the
row back (the same bytes), a key reused with another request is refused, and
nothing is ever picked by position (the Yokohama and Kawasaki incidents).
Print confirmation and void are state changes on that row, decided once:
whichever arrives first wins, the other answers the final state.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["DocumentState", "IssuedDocument", "Ledger", "PrintFailure"]


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


#: Builds the document for serial number ``n``; may raise ``RefusedError``
#: (then nothing is stored and the number is not used).
Builder = Callable[[int], IssuedDocument]


class Ledger(Protocol):
    """The issuing ledger: one row per document, keyed by the centre's key."""

    def issue_once(self, key: str, fingerprint: bytes, build: Builder) -> IssuedDocument:
        """The document stored under ``key``, or ``build(next number)`` stored atomically.

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
