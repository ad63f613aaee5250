# SPDX-License-Identifier: Apache-2.0
"""The issuing ledger: one row per document, keyed by the centre's idempotency key.

``open_ledger(url)`` picks the backend from the URL, as the verifier's
storage does: ``sqlite:///PATH`` (one machine), ``postgresql://...``
(several replicas on one ledger, ``municipal.ledger.postgres``; psycopg is
imported only then) or ``memory:`` (unit tests).
"""

from __future__ import annotations

from municipal.errors import MunicipalConfigError
from municipal.ledger.base import DocumentState, IssuedDocument, Ledger, PrintFailure
from municipal.ledger.memory import MemoryLedger

__all__ = [
    "DocumentState",
    "IssuedDocument",
    "Ledger",
    "MemoryLedger",
    "PrintFailure",
    "open_ledger",
]


def open_ledger(url: str) -> Ledger:
    """Open (and create) the ledger at ``url``.

    Raises:
        MunicipalConfigError: an unsupported URL.
        LedgerError: the database cannot be opened.
    """
    if url.startswith("sqlite:///"):
        from municipal.ledger.sqlite import SqliteLedger

        return SqliteLedger(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        from municipal.ledger.postgres import PostgresLedger

        return PostgresLedger(url)
    if url == "memory:":
        return MemoryLedger()
    raise MunicipalConfigError(
        "the ledger URL must start with sqlite:/// or postgresql:// (or be memory:)"
    )
