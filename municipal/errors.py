# SPDX-License-Identifier: Apache-2.0
"""The municipality service's exception tree and its refusal codes.

::

    MunicipalError
    ├── RefusedError          a business refusal, carrying a ``Refusal`` (the wire's
    │                         MunicipalRefusal); a normal response, not a failure
    ├── IdempotencyConflictError  a key reused with a different request (ValueError)
    ├── UnknownDocumentError  no document has this serial (LookupError)
    ├── DigestMismatchError   "printed" names bytes other than the issued ones (ValueError)
    ├── LedgerError           the ledger's database failed or cannot be opened
    └── MunicipalConfigError  a bad configuration or registry file (ValueError)

The issued document has its own tree (``municipal.document.errors``).
Messages never name the resident.
"""

from __future__ import annotations

import enum

__all__ = [
    "DigestMismatchError",
    "IdempotencyConflictError",
    "LedgerError",
    "MunicipalConfigError",
    "MunicipalError",
    "Refusal",
    "RefusedError",
    "UnknownDocumentError",
]


class Refusal(enum.Enum):
    """Why a municipality refuses (mapped one-to-one to ``MunicipalRefusal``)."""

    NOT_A_RESIDENT = "not_a_resident"
    NO_REGISTERED_SEAL = "no_registered_seal"
    DOCUMENT_NOT_OFFERED = "document_not_offered"
    OUTSIDE_SERVICE_HOURS = "outside_service_hours"
    OPTIONS_INVALID = "options_invalid"
    FEE_CHANGED = "fee_changed"
    COUNTER_ONLY = "counter_only"


class MunicipalError(Exception):
    """Root of the municipality service's errors."""


class RefusedError(MunicipalError):
    """The municipality will not issue this; ``refusal`` says why."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"refused: {refusal.value}")
        self.refusal = refusal


class IdempotencyConflictError(MunicipalError, ValueError):
    """An idempotency key came back with a different request."""


class UnknownDocumentError(MunicipalError, LookupError):
    """No document was issued under this serial."""


class DigestMismatchError(MunicipalError, ValueError):
    """A print was recorded for bytes that are not the issued document's."""


class LedgerError(MunicipalError):
    """The ledger's database cannot be opened, or a transaction failed."""


class MunicipalConfigError(MunicipalError, ValueError):
    """A configuration or registry file is unreadable or breaks its schema."""
