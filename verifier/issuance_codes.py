# SPDX-License-Identifier: Apache-2.0
"""The centre's issuance codes as Python enums: refusals, states, kinds, failures.

Why a module apart from ``verifier.codes``: the centre role (issue 14) has
its own vocabulary, half of it the municipality's (``municipal.proto``)
passed through; the domain (``verifier.issuance``) decides with these and
never sees a proto, and ``verifier.issuance_wire`` maps each to its proto
enum once, by a total table. Values are what storage keeps (names for
states, numbers for kinds and failures, as the v1 wire numbers happen to
be; the wire still goes through the tables, never through ``int()``).
"""

from __future__ import annotations

import enum

__all__ = [
    "DocumentKind",
    "ErrorText",
    "HouseholdScope",
    "IssuanceAction",
    "IssuanceRefusal",
    "IssuanceState",
    "MunicipalRefusal",
    "OutboxAction",
    "PrintFailure",
]


class IssuanceRefusal(enum.StrEnum):
    """Why the centre refuses (``NONE``: it does not)."""

    NONE = "NONE"
    CARD_REJECTED = "CARD_REJECTED"
    SESSION_INVALID = "SESSION_INVALID"
    MUNICIPALITY_REFUSED = "MUNICIPALITY_REFUSED"
    MUNICIPALITY_UNAVAILABLE = "MUNICIPALITY_UNAVAILABLE"
    OUTSIDE_SERVICE_HOURS = "OUTSIDE_SERVICE_HOURS"


class IssuanceState(enum.StrEnum):
    """A request's life: PENDING -> ISSUED -> CHARGED or REFUNDED; or PENDING -> FAILED.

    PENDING (the municipality is being asked) and FAILED (refused or
    unreachable: no document, no fee) never reach the wire.
    """

    PENDING = "PENDING"
    ISSUED = "ISSUED"
    CHARGED = "CHARGED"
    REFUNDED = "REFUNDED"
    FAILED = "FAILED"


class DocumentKind(enum.IntEnum):
    """The certificates of the convenience-store service."""

    RESIDENT_RECORD = 1
    SEAL_REGISTRATION = 2
    TAX = 3
    FAMILY_REGISTER = 4


class HouseholdScope(enum.IntEnum):
    """Whose entries a resident record shows (``UNSET``: not chosen, other kinds)."""

    UNSET = 0
    SELF = 1
    WHOLE_HOUSEHOLD = 2


class MunicipalRefusal(enum.IntEnum):
    """Why a municipality refuses (``NONE``: it does not)."""

    NONE = 0
    NOT_A_RESIDENT = 1
    NO_REGISTERED_SEAL = 2
    DOCUMENT_NOT_OFFERED = 3
    OUTSIDE_SERVICE_HOURS = 4
    OPTIONS_INVALID = 5
    FEE_CHANGED = 6
    COUNTER_ONLY = 7


class PrintFailure(enum.IntEnum):
    """Why a document was not printed."""

    PAPER_OUT = 1
    JAM = 2
    COVER_OPEN = 3
    PRINTER_OFFLINE = 4
    CANCELLED = 5
    TIMEOUT = 6


class OutboxAction(enum.StrEnum):
    """What the centre still owes a municipality (``verifier.issuance_outbox``)."""

    RECORD_PRINTED = "RECORD_PRINTED"
    VOID = "VOID"
    #: The answer to IssueDocument was lost: ask again with the same key, then void.
    VOID_UNANSWERED = "VOID_UNANSWERED"


class IssuanceAction(enum.StrEnum):
    """What an issuance audit entry records (stored by name, beside ``AuditAction``'s)."""

    OPEN_ISSUANCE_SESSION = "OPEN_ISSUANCE_SESSION"
    PROVE_ISSUANCE_CARD = "PROVE_ISSUANCE_CARD"
    REQUEST_DOCUMENT = "REQUEST_DOCUMENT"
    CONFIRM_PRINTED = "CONFIRM_PRINTED"
    REPORT_PRINT_FAILURE = "REPORT_PRINT_FAILURE"
    MUNICIPAL_DELIVERED = "MUNICIPAL_DELIVERED"
    MUNICIPAL_GAVE_UP = "MUNICIPAL_GAVE_UP"


class ErrorText(enum.StrEnum):
    """``ErrorInfo.reason`` texts of the issuance RPCs (strings on the wire)."""

    ISSUANCE_REQUEST_NOT_FOUND = "ISSUANCE_REQUEST_NOT_FOUND"
    DOCUMENT_NOT_ISSUED = "DOCUMENT_NOT_ISSUED"
    DOCUMENT_DIGEST_MISMATCH = "DOCUMENT_DIGEST_MISMATCH"
