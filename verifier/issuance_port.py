# SPDX-License-Identifier: Apache-2.0
"""What the centre needs from a municipality, as a port: types, errors, service hours.

Why a port (STYLE §11): the domain (``verifier.issuance``) decides with
these dataclasses and a ``MunicipalPort``; the gRPC client
(``verifier.municipal_client``) is one implementation, a test's behavioural
fake another, so the rules are tested with no server. Service hours are a
plain function of the (injectable) clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final, Protocol

from verifier.errors import VerifierError
from verifier.issuance_codes import DocumentKind, HouseholdScope, MunicipalRefusal, PrintFailure

__all__ = [
    "JST",
    "DocumentChoice",
    "IssueAnswer",
    "IssueOrder",
    "MunicipalCallError",
    "MunicipalOffers",
    "MunicipalPort",
    "MunicipalityUnavailableError",
    "Offer",
    "PrintedAnswer",
    "ServiceHours",
    "in_service_hours",
]

JST: Final = dt.timezone(dt.timedelta(hours=9), "JST")


@dataclass(frozen=True)
class ServiceHours:
    """The centre's hours in minutes after midnight JST (``closes_minute`` may be 1440).

    The default is コンビニ交付's (J-LIS): 6:30-23:00 every day, closed
    12/29-1/3. ``[issuance.service_hours]`` changes it (a test stack opens
    all day; the municipalities keep their own hours as well).
    """

    opens_minute: int = 6 * 60 + 30
    closes_minute: int = 23 * 60
    year_end_closed: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.opens_minute < self.closes_minute <= 24 * 60:
            raise ValueError("service hours: opens before closes, within one day")


def in_service_hours(now: dt.datetime, hours: ServiceHours | None = None) -> bool:
    """Whether ``now`` (any zone) is inside the centre's service ``hours``, read in JST."""
    hours = hours or ServiceHours()
    local = now.astimezone(JST)
    month_day = (local.month, local.day)
    if hours.year_end_closed and (month_day >= (12, 29) or month_day <= (1, 3)):
        return False
    return hours.opens_minute <= local.hour * 60 + local.minute < hours.closes_minute


class MunicipalityUnavailableError(VerifierError):
    """The municipality could not be reached or did not answer in time (worth a retry).

    After a lost answer the municipality may have acted: the caller treats
    the outcome as unknown (``verifier.issuance`` voids such a request).
    """


class MunicipalCallError(VerifierError):
    """The municipality answered with an error status (not a business refusal).

    ``status``: the gRPC status name; never retried, logged without bodies.
    """

    def __init__(self, status: str, message: str = "") -> None:
        super().__init__(f"the municipality answered {status}{': ' if message else ''}{message}")
        self.status = status


@dataclass(frozen=True)
class DocumentChoice:
    """The options a resident chose (``municipal.proto`` ``DocumentOptions``)."""

    household_scope: HouseholdScope = HouseholdScope.UNSET
    show_registered_domicile: bool = False
    show_relationship: bool = False
    copies: int = 1
    fiscal_year: int = 0


@dataclass(frozen=True)
class Offer:
    """One document a resident may obtain here."""

    kind: DocumentKind
    title: str
    fee_yen_per_copy: int
    household_scopes: tuple[HouseholdScope, ...] = ()
    max_copies: int = 1


@dataclass(frozen=True)
class MunicipalOffers:
    """A municipality's answer to "what may this certificate obtain here"."""

    refusal: MunicipalRefusal
    municipality_code: str
    municipality_name: str
    offers: tuple[Offer, ...] = ()


@dataclass(frozen=True)
class IssueOrder:
    """IssueDocument: ``idempotency_key`` is the centre's request id."""

    idempotency_key: str
    certificate_der: bytes = field(repr=False)
    kind: DocumentKind
    choice: DocumentChoice
    fee_yen: int
    terminal_id: str


@dataclass(frozen=True)
class IssueAnswer:
    """The municipality's answer: a refusal, or the document."""

    refusal: MunicipalRefusal
    serial: str = ""
    document: bytes = field(default=b"", repr=False)
    document_sha256: bytes = b""
    fee_yen: int = 0


@dataclass(frozen=True)
class PrintedAnswer:
    """Where the municipality's record of a document stands (its ``DocumentState`` name)."""

    state: str


class MunicipalPort(Protocol):
    """The municipalities, by code (``verifier.municipal_client.MunicipalClients``)."""

    def codes(self) -> tuple[str, ...]:
        """The municipalities this centre routes to."""
        ...

    async def list_offers(self, code: str, certificate_der: bytes) -> MunicipalOffers:
        """ListResidentDocuments (raises MunicipalityUnavailableError, MunicipalCallError)."""
        ...

    async def issue(self, code: str, order: IssueOrder) -> IssueAnswer:
        """IssueDocument (raises MunicipalityUnavailableError, MunicipalCallError)."""
        ...

    async def record_printed(
        self, code: str, *, key: str, serial: str, document_sha256: bytes
    ) -> PrintedAnswer:
        """RecordDocumentPrinted (raises MunicipalityUnavailableError, MunicipalCallError)."""
        ...

    async def void(
        self, code: str, *, key: str, serial: str, failure: PrintFailure
    ) -> PrintedAnswer:
        """VoidDocument (raises MunicipalityUnavailableError, MunicipalCallError)."""
        ...
