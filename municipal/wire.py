# SPDX-License-Identifier: Apache-2.0
"""The wire's enums and the Python ones, mapped once by total tables (STYLE §11).

Why here and only here: the domain speaks ``Refusal``, ``DocumentKind``,
``HouseholdScope``, ``DocumentState`` and ``PrintFailure``; the servicer
translates at the boundary with these tables, and a test checks that every
member of both sides has its partner (a new proto value cannot be silently
dropped).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from municipal.document.content import DocumentKind
from municipal.errors import Refusal
from municipal.issuing import HouseholdScope
from municipal.ledger import DocumentState, PrintFailure
from myna.edge.v1 import municipal_pb2 as pb

__all__ = [
    "KIND_FROM_WIRE",
    "KIND_TO_WIRE",
    "PRINT_FAILURE_FROM_WIRE",
    "REFUSAL_TO_WIRE",
    "SCOPE_FROM_WIRE",
    "SCOPE_TO_WIRE",
    "STATE_TO_WIRE",
]

REFUSAL_TO_WIRE: Final = MappingProxyType(
    {
        Refusal.NOT_A_RESIDENT: pb.MUNICIPAL_REFUSAL_NOT_A_RESIDENT,
        Refusal.NO_REGISTERED_SEAL: pb.MUNICIPAL_REFUSAL_NO_REGISTERED_SEAL,
        Refusal.DOCUMENT_NOT_OFFERED: pb.MUNICIPAL_REFUSAL_DOCUMENT_NOT_OFFERED,
        Refusal.OUTSIDE_SERVICE_HOURS: pb.MUNICIPAL_REFUSAL_OUTSIDE_SERVICE_HOURS,
        Refusal.OPTIONS_INVALID: pb.MUNICIPAL_REFUSAL_OPTIONS_INVALID,
        Refusal.FEE_CHANGED: pb.MUNICIPAL_REFUSAL_FEE_CHANGED,
        Refusal.COUNTER_ONLY: pb.MUNICIPAL_REFUSAL_COUNTER_ONLY,
    }
)

KIND_TO_WIRE: Final = MappingProxyType(
    {
        DocumentKind.RESIDENT_RECORD: pb.DOCUMENT_KIND_RESIDENT_RECORD,
        DocumentKind.SEAL_REGISTRATION: pb.DOCUMENT_KIND_SEAL_REGISTRATION,
        DocumentKind.TAX: pb.DOCUMENT_KIND_TAX,
        DocumentKind.FAMILY_REGISTER: pb.DOCUMENT_KIND_FAMILY_REGISTER,
    }
)
KIND_FROM_WIRE: Final = MappingProxyType({wire: kind for kind, wire in KIND_TO_WIRE.items()})

SCOPE_TO_WIRE: Final = MappingProxyType(
    {
        HouseholdScope.SELF: pb.HOUSEHOLD_SCOPE_SELF,
        HouseholdScope.WHOLE_HOUSEHOLD: pb.HOUSEHOLD_SCOPE_WHOLE_HOUSEHOLD,
    }
)
#: UNSPECIFIED reads as 本人のみ: the narrower document is the safe default.
SCOPE_FROM_WIRE: Final = MappingProxyType(
    {pb.HOUSEHOLD_SCOPE_UNSPECIFIED: HouseholdScope.SELF}
    | {wire: scope for scope, wire in SCOPE_TO_WIRE.items()}
)

STATE_TO_WIRE: Final = MappingProxyType(
    {
        DocumentState.ISSUED: pb.DOCUMENT_STATE_ISSUED,
        DocumentState.PRINTED: pb.DOCUMENT_STATE_PRINTED,
        DocumentState.VOID: pb.DOCUMENT_STATE_VOID,
    }
)

PRINT_FAILURE_FROM_WIRE: Final = MappingProxyType(
    {
        pb.PRINT_FAILURE_PAPER_OUT: PrintFailure.PAPER_OUT,
        pb.PRINT_FAILURE_JAM: PrintFailure.JAM,
        pb.PRINT_FAILURE_COVER_OPEN: PrintFailure.COVER_OPEN,
        pb.PRINT_FAILURE_PRINTER_OFFLINE: PrintFailure.PRINTER_OFFLINE,
        pb.PRINT_FAILURE_CANCELLED: PrintFailure.CANCELLED,
        pb.PRINT_FAILURE_TIMEOUT: PrintFailure.TIMEOUT,
    }
)
