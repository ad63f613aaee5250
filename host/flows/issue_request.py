# SPDX-License-Identifier: Apache-2.0
"""The issuance flow's values: its steps, the resident's choice, its outcome, its centre port.

Apart from ``issue`` so that the API, the recovery and the tests name them
without the state machine. How a resident chooses is a port
(``DocumentChooser``), as the card and the screen are: the terminal API's
command carries the choice (``FixedChoice``: checked against what the
centre offers), a touchscreen lets the resident pick from the offers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from host.card import PinKind
from host.client import CardProof
from host.client.issuance_models import (
    CardCheck,
    DocumentKind,
    DocumentOffer,
    DocumentOptions,
    HouseholdScope,
    IssuanceRefusal,
    IssuanceSession,
    IssuedDocument,
    MunicipalityOffer,
    PrintFailure,
    PrintSettlement,
)
from host.errors import FlowRefusedError
from host.flows.codes import IssueRefusal
from host.flows.events import Outcome

__all__ = [
    "ChosenDocument",
    "DocumentChooser",
    "FixedChoice",
    "IssuanceCentre",
    "IssueChoice",
    "IssueOutcome",
    "IssueStep",
]


class IssueStep(StrEnum):
    """The states of the certificate-issuance flow (``issue`` module docstring)."""

    START = "start"
    WAIT_CARD = "wait_card"
    SESSION = "session"
    ENTER_PIN = "enter_pin"
    APPROVE_ON_PHONE = "approve_on_phone"  # a phone that verifies its holder itself
    PROVING = "proving"
    CHECKING = "checking"
    REMOVE_CARD = "remove_card"  # handed back before printing (取り忘れ対策)
    CHOOSING = "choosing"
    CONFIRM_FEE = "confirm_fee"
    PAYING = "paying"
    REQUESTING = "requesting"
    PRINTING = "printing"
    CONFIRMING = "confirming"
    REFUNDING = "refunding"
    TAKE_DOCUMENT = "take_document"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class IssueChoice:
    """What the resident asks for: a municipality, a certificate and its options.

    Raises:
        ValueError: an empty municipality code (options check their own).
    """

    municipality_code: str
    kind: DocumentKind
    options: DocumentOptions = field(default_factory=DocumentOptions)

    def __post_init__(self) -> None:
        if not self.municipality_code.isascii() or not self.municipality_code.isdigit():
            raise ValueError("municipality_code must be the municipality's digits (e.g. 131016)")


@dataclass(frozen=True)
class ChosenDocument:
    """A choice matched with the offer it takes: what the fee prompt shows."""

    choice: IssueChoice
    municipality_name: str
    offer: DocumentOffer

    @property
    def fee_yen(self) -> int:
        """The whole fee: per copy times copies."""
        return self.offer.fee_yen_per_copy * self.choice.options.copies


class DocumentChooser(Protocol):
    """How the resident picks a document from the centre's offers."""

    async def choose(self, offers: tuple[MunicipalityOffer, ...]) -> ChosenDocument | None:
        """The choice, or None when the resident declined (cancel).

        Raises:
            FlowRefusedError: the choice is not among the offers (``IssueRefusal``).
        """
        ...


class FixedChoice:
    """A choice made beforehand (the API command's), checked against the offers."""

    def __init__(self, choice: IssueChoice) -> None:
        self.choice = choice

    async def choose(self, offers: tuple[MunicipalityOffer, ...]) -> ChosenDocument | None:
        """The offer matching the choice.

        Raises:
            FlowRefusedError: the municipality refuses this resident, or does
                not offer this kind, these options or this many copies.
        """
        c = self.choice
        municipality = next((m for m in offers if m.municipality_code == c.municipality_code), None)
        if municipality is None:
            raise FlowRefusedError(IssueRefusal.NOT_A_RESIDENT)
        if municipality.refusal is not None:
            raise FlowRefusedError(municipality.refusal.value)
        offer = next((o for o in municipality.offers if o.kind is c.kind), None)
        if offer is None:
            raise FlowRefusedError(IssueRefusal.DOCUMENT_NOT_OFFERED)
        scope = c.options.household_scope
        if c.options.copies > offer.max_copies or (
            scope is not HouseholdScope.UNSPECIFIED and scope not in offer.household_scopes
        ):
            raise FlowRefusedError(IssueRefusal.OPTIONS_INVALID)
        return ChosenDocument(c, municipality.municipality_name, offer)


class IssuanceCentre(Protocol):
    """The centre's calls the flow makes (``IssuanceClient`` has them)."""

    @property
    def terminal_id(self) -> str: ...

    async def open_session(
        self, idempotency_key: str, *, timeout: float | None = None
    ) -> IssuanceSession: ...

    async def prove_card(
        self,
        session_id: str,
        proof: CardProof,
        idempotency_key: str,
        *,
        timeout: float | None = None,
    ) -> CardCheck: ...

    async def list_documents(
        self, session_id: str, *, timeout: float | None = None
    ) -> tuple[IssuanceRefusal | None, tuple[MunicipalityOffer, ...]]: ...

    async def request_document(
        self,
        session_id: str,
        *,
        municipality_code: str,
        kind: DocumentKind,
        options: DocumentOptions,
        fee_yen: int,
        idempotency_key: str,
        timeout: float | None = None,
    ) -> IssuedDocument: ...

    async def confirm_printed(
        self,
        request_id: str,
        *,
        document_sha256: bytes,
        print_job_id: str,
        idempotency_key: str,
        timeout: float | None = None,
    ) -> PrintSettlement: ...

    async def report_print_failure(
        self,
        request_id: str,
        failure: PrintFailure,
        *,
        idempotency_key: str,
        timeout: float | None = None,
    ) -> PrintSettlement: ...


@dataclass(frozen=True)
class IssueOutcome:
    """How an issuance ended; the document's bytes are not kept here.

    ``charged`` is True only when the printer reported the job complete and
    the fee was kept (or is being kept by recovery): charged iff printed.
    """

    outcome: Outcome
    op_id: str
    request_id: str = ""
    serial: str = ""
    kind: DocumentKind | None = None
    fee_yen: int = 0
    printed: bool = False
    charged: bool = False
    refunded: bool = False
    #: What the resident inserted, and the change paid out when the fee was kept.
    inserted_yen: int = 0
    change_yen: int = 0
    reason: str = ""
    #: The secret a ``pin_blocked`` failure concerns (the authentication PIN).
    pin: PinKind | None = None

    @property
    def reference(self) -> str:
        """The centre's request id (empty when nothing was requested)."""
        return self.request_id
