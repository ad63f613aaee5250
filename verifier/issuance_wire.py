# SPDX-License-Identifier: Apache-2.0
"""The issuance enums at the wire: total tables each way, and the few translations.

Why apart from ``verifier.wire``: the centre's RPCs (``issuance.proto``) and
the municipality's (``municipal.proto``) cross here, and nowhere else;
``tests/unit/verifier/test_issuance_wire.py`` checks every member of both
sides is mapped (except the proto ``..._UNSPECIFIED`` values and the states
that never reach the wire). The servicer and the municipal client use these.
"""

from __future__ import annotations

from typing import Final

from myna.edge.v1 import issuance_pb2 as ipb
from myna.edge.v1 import municipal_pb2 as mpb
from verifier.issuance_codes import (
    DocumentKind,
    HouseholdScope,
    IssuanceRefusal,
    IssuanceState,
    MunicipalRefusal,
    PrintFailure,
)
from verifier.issuance_port import DocumentChoice, MunicipalOffers, Offer
from verifier.wire import REASONS, EnumMap

__all__ = [
    "DOCUMENT_KINDS",
    "HOUSEHOLD_SCOPES",
    "ISSUANCE_REFUSALS",
    "ISSUANCE_STATES",
    "MUNICIPAL_REFUSALS",
    "PRINT_FAILURES",
    "REASONS",
    "STATES_NOT_ON_THE_WIRE",
    "choice_from_wire",
    "choice_to_wire",
    "offers_from_wire",
    "offers_to_wire",
]

ISSUANCE_REFUSALS: Final = EnumMap(
    IssuanceRefusal,
    {
        IssuanceRefusal.NONE: ipb.ISSUANCE_REFUSAL_UNSPECIFIED,
        IssuanceRefusal.CARD_REJECTED: ipb.ISSUANCE_REFUSAL_CARD_REJECTED,
        IssuanceRefusal.SESSION_INVALID: ipb.ISSUANCE_REFUSAL_SESSION_INVALID,
        IssuanceRefusal.MUNICIPALITY_REFUSED: ipb.ISSUANCE_REFUSAL_MUNICIPALITY_REFUSED,
        IssuanceRefusal.MUNICIPALITY_UNAVAILABLE: ipb.ISSUANCE_REFUSAL_MUNICIPALITY_UNAVAILABLE,
        IssuanceRefusal.OUTSIDE_SERVICE_HOURS: ipb.ISSUANCE_REFUSAL_OUTSIDE_SERVICE_HOURS,
    },
)
ISSUANCE_STATES: Final = EnumMap(
    IssuanceState,
    {
        IssuanceState.ISSUED: ipb.ISSUANCE_STATE_ISSUED,
        IssuanceState.CHARGED: ipb.ISSUANCE_STATE_CHARGED,
        IssuanceState.REFUNDED: ipb.ISSUANCE_STATE_REFUNDED,
    },
)
#: A request answered with a refusal has no state on the wire.
STATES_NOT_ON_THE_WIRE: Final = frozenset({IssuanceState.PENDING, IssuanceState.FAILED})

DOCUMENT_KINDS: Final = EnumMap(
    DocumentKind,
    {
        DocumentKind.RESIDENT_RECORD: mpb.DOCUMENT_KIND_RESIDENT_RECORD,
        DocumentKind.SEAL_REGISTRATION: mpb.DOCUMENT_KIND_SEAL_REGISTRATION,
        DocumentKind.TAX: mpb.DOCUMENT_KIND_TAX,
        DocumentKind.FAMILY_REGISTER: mpb.DOCUMENT_KIND_FAMILY_REGISTER,
    },
)
HOUSEHOLD_SCOPES: Final = EnumMap(
    HouseholdScope,
    {
        HouseholdScope.UNSET: mpb.HOUSEHOLD_SCOPE_UNSPECIFIED,
        HouseholdScope.SELF: mpb.HOUSEHOLD_SCOPE_SELF,
        HouseholdScope.WHOLE_HOUSEHOLD: mpb.HOUSEHOLD_SCOPE_WHOLE_HOUSEHOLD,
    },
)
MUNICIPAL_REFUSALS: Final = EnumMap(
    MunicipalRefusal,
    {
        MunicipalRefusal.NONE: mpb.MUNICIPAL_REFUSAL_UNSPECIFIED,
        MunicipalRefusal.NOT_A_RESIDENT: mpb.MUNICIPAL_REFUSAL_NOT_A_RESIDENT,
        MunicipalRefusal.NO_REGISTERED_SEAL: mpb.MUNICIPAL_REFUSAL_NO_REGISTERED_SEAL,
        MunicipalRefusal.DOCUMENT_NOT_OFFERED: mpb.MUNICIPAL_REFUSAL_DOCUMENT_NOT_OFFERED,
        MunicipalRefusal.OUTSIDE_SERVICE_HOURS: mpb.MUNICIPAL_REFUSAL_OUTSIDE_SERVICE_HOURS,
        MunicipalRefusal.OPTIONS_INVALID: mpb.MUNICIPAL_REFUSAL_OPTIONS_INVALID,
        MunicipalRefusal.FEE_CHANGED: mpb.MUNICIPAL_REFUSAL_FEE_CHANGED,
        MunicipalRefusal.COUNTER_ONLY: mpb.MUNICIPAL_REFUSAL_COUNTER_ONLY,
    },
)
PRINT_FAILURES: Final = EnumMap(
    PrintFailure,
    {
        PrintFailure.PAPER_OUT: mpb.PRINT_FAILURE_PAPER_OUT,
        PrintFailure.JAM: mpb.PRINT_FAILURE_JAM,
        PrintFailure.COVER_OPEN: mpb.PRINT_FAILURE_COVER_OPEN,
        PrintFailure.PRINTER_OFFLINE: mpb.PRINT_FAILURE_PRINTER_OFFLINE,
        PrintFailure.CANCELLED: mpb.PRINT_FAILURE_CANCELLED,
        PrintFailure.TIMEOUT: mpb.PRINT_FAILURE_TIMEOUT,
    },
)


def choice_from_wire(options: mpb.DocumentOptions) -> DocumentChoice:
    """A validated ``DocumentOptions`` as the domain's choice."""
    return DocumentChoice(
        household_scope=HOUSEHOLD_SCOPES.from_wire(options.household_scope),
        show_registered_domicile=options.show_registered_domicile,
        show_relationship=options.show_relationship,
        copies=options.copies,
        fiscal_year=options.fiscal_year,
    )


def choice_to_wire(choice: DocumentChoice) -> mpb.DocumentOptions:
    """The domain's choice as ``DocumentOptions``."""
    return mpb.DocumentOptions(
        household_scope=HOUSEHOLD_SCOPES.to_wire(choice.household_scope),
        show_registered_domicile=choice.show_registered_domicile,
        show_relationship=choice.show_relationship,
        copies=choice.copies,
        fiscal_year=choice.fiscal_year,
    )


def offers_from_wire(answer: mpb.ListResidentDocumentsResponse) -> MunicipalOffers:
    """A municipality's answer; kinds or scopes this centre does not know are left out."""
    offers = tuple(
        Offer(
            kind=DOCUMENT_KINDS.from_wire(o.kind),
            title=o.title,
            fee_yen_per_copy=o.fee_yen_per_copy,
            household_scopes=tuple(
                HOUSEHOLD_SCOPES.from_wire(s)
                for s in o.household_scopes
                if s in HOUSEHOLD_SCOPES.wire_values()
            ),
            max_copies=o.max_copies,
        )
        for o in answer.offers
        if o.kind in DOCUMENT_KINDS.wire_values()
    )
    refusal = (
        MUNICIPAL_REFUSALS.from_wire(answer.refusal)
        if answer.refusal in MUNICIPAL_REFUSALS.wire_values()
        else MunicipalRefusal.COUNTER_ONLY  # an unknown refusal is still a refusal
    )
    return MunicipalOffers(refusal, answer.municipality_code, answer.municipality_name, offers)


def offers_to_wire(offers: MunicipalOffers) -> ipb.MunicipalityOffer:
    """One municipality's offers as the terminal sees them."""
    return ipb.MunicipalityOffer(
        municipality_code=offers.municipality_code,
        municipality_name=offers.municipality_name,
        refusal=MUNICIPAL_REFUSALS.to_wire(offers.refusal),
        offers=[
            mpb.DocumentOffer(
                kind=DOCUMENT_KINDS.to_wire(o.kind),
                title=o.title,
                fee_yen_per_copy=o.fee_yen_per_copy,
                household_scopes=[HOUSEHOLD_SCOPES.to_wire(s) for s in o.household_scopes],
                max_copies=o.max_copies,
            )
            for o in offers.offers
        ],
    )
