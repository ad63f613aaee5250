# SPDX-License-Identifier: Apache-2.0
"""Plain values of the centre's issuance API, so the MFP flow never sees gRPC types.

The proto enums of ``issuance.proto`` and ``municipal.proto`` become
``StrEnum``s carrying the value names without their prefix
(``MunicipalRefusal.NO_REGISTERED_SEAL``), mapped once, by total tables, in
``host.client.issuance``. A refusal is ``None`` when there is none (the
proto's ``…_UNSPECIFIED``), so a flow tests ``if answer.refusal``. The
document's bytes never appear in a repr: they are the resident's record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "CardCheck",
    "DocumentKind",
    "DocumentOffer",
    "DocumentOptions",
    "HouseholdScope",
    "IssuanceRefusal",
    "IssuanceSession",
    "IssuanceState",
    "IssuedDocument",
    "MunicipalRefusal",
    "MunicipalityOffer",
    "PrintFailure",
    "PrintSettlement",
]


class IssuanceRefusal(StrEnum):
    """Why the centre refuses (``ISSUANCE_REFUSAL_*``)."""

    CARD_REJECTED = "CARD_REJECTED"
    SESSION_INVALID = "SESSION_INVALID"
    MUNICIPALITY_REFUSED = "MUNICIPALITY_REFUSED"
    MUNICIPALITY_UNAVAILABLE = "MUNICIPALITY_UNAVAILABLE"
    OUTSIDE_SERVICE_HOURS = "OUTSIDE_SERVICE_HOURS"


class IssuanceState(StrEnum):
    """Where a request stands at the centre (``ISSUANCE_STATE_*``)."""

    UNSPECIFIED = "UNSPECIFIED"  # nothing issued (a refusal)
    ISSUED = "ISSUED"
    CHARGED = "CHARGED"
    REFUNDED = "REFUNDED"


class DocumentKind(StrEnum):
    """The certificates of the convenience-store service (``DOCUMENT_KIND_*``)."""

    RESIDENT_RECORD = "RESIDENT_RECORD"  # 住民票の写し
    SEAL_REGISTRATION = "SEAL_REGISTRATION"  # 印鑑登録証明書
    TAX = "TAX"  # 課税・非課税証明書
    FAMILY_REGISTER = "FAMILY_REGISTER"  # 戸籍証明書


class HouseholdScope(StrEnum):
    """Whose entries a resident record shows (``HOUSEHOLD_SCOPE_*``)."""

    UNSPECIFIED = "UNSPECIFIED"  # not a resident record
    SELF = "SELF"  # 本人のみ
    WHOLE_HOUSEHOLD = "WHOLE_HOUSEHOLD"  # 世帯全員


class MunicipalRefusal(StrEnum):
    """Why a municipality refuses (``MUNICIPAL_REFUSAL_*``)."""

    NOT_A_RESIDENT = "NOT_A_RESIDENT"
    NO_REGISTERED_SEAL = "NO_REGISTERED_SEAL"
    DOCUMENT_NOT_OFFERED = "DOCUMENT_NOT_OFFERED"
    OUTSIDE_SERVICE_HOURS = "OUTSIDE_SERVICE_HOURS"
    OPTIONS_INVALID = "OPTIONS_INVALID"
    FEE_CHANGED = "FEE_CHANGED"
    COUNTER_ONLY = "COUNTER_ONLY"


class PrintFailure(StrEnum):
    """Why a document was not printed (``PRINT_FAILURE_*``)."""

    PAPER_OUT = "PAPER_OUT"
    JAM = "JAM"
    COVER_OPEN = "COVER_OPEN"
    PRINTER_OFFLINE = "PRINTER_OFFLINE"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"


@dataclass(frozen=True)
class IssuanceSession:
    """An open issuance session: its id and the nonce the card signs."""

    session_id: str
    nonce: bytes
    expires_at: dt.datetime | None = None
    refusal: IssuanceRefusal | None = None


@dataclass(frozen=True)
class CardCheck:
    """The centre's answer to the card's proof."""

    refusal: IssuanceRefusal | None
    #: VerifierService's reason name without ``REASON_`` (``OK`` when accepted).
    card_reason: str = "OK"

    @property
    def accepted(self) -> bool:
        """Whether the card was proven."""
        return self.refusal is None


@dataclass(frozen=True)
class DocumentOffer:
    """One document this resident may obtain, and its fee per copy."""

    kind: DocumentKind
    title: str
    fee_yen_per_copy: int
    household_scopes: tuple[HouseholdScope, ...] = ()
    max_copies: int = 1


@dataclass(frozen=True)
class MunicipalityOffer:
    """One municipality's offer (address, and 本籍地 when it differs)."""

    municipality_code: str
    municipality_name: str
    refusal: MunicipalRefusal | None = None
    offers: tuple[DocumentOffer, ...] = ()


@dataclass(frozen=True)
class DocumentOptions:
    """The choices a document takes (``DocumentOptions`` on the wire).

    Raises:
        ValueError: ``copies`` outside 1-10, or a negative fiscal year.
    """

    household_scope: HouseholdScope = HouseholdScope.UNSPECIFIED
    show_registered_domicile: bool = False
    show_relationship: bool = False
    copies: int = 1
    fiscal_year: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.copies <= 10:
            raise ValueError("copies must be 1-10")
        if not 0 <= self.fiscal_year <= 9999:
            raise ValueError("fiscal_year must be 0 (none) or a year")


@dataclass(frozen=True)
class IssuedDocument:
    """The centre's answer to RequestDocument; the PDF is the resident's record.

    ``refusal`` (and ``municipal_refusal`` when the municipality said no) is
    set when nothing was issued; then the other fields are empty.
    """

    refusal: IssuanceRefusal | None
    municipal_refusal: MunicipalRefusal | None = None
    request_id: str = ""
    serial: str = ""
    document_pdf: bytes = field(default=b"", repr=False)
    document_sha256: bytes = b""
    fee_yen: int = 0
    state: IssuanceState = IssuanceState.UNSPECIFIED

    def __repr__(self) -> str:
        return (
            f"IssuedDocument(refusal={self.refusal}, municipal_refusal={self.municipal_refusal},"
            f" request_id={self.request_id!r}, serial={self.serial!r},"
            f" <{len(self.document_pdf)}-byte PDF>, fee_yen={self.fee_yen}, state={self.state})"
        )


@dataclass(frozen=True)
class PrintSettlement:
    """The centre's final word on a request: CHARGED or REFUNDED, and the yen."""

    state: IssuanceState
    yen: int
