# SPDX-License-Identifier: Apache-2.0
"""Behavioural fakes of the issuance flow's ports: the centre, the payment device, the printer.

``FakeCentre`` keeps the contract's rules: one answer per idempotency key,
one document per request key, ConfirmPrinted and ReportPrintFailure decided
once (the first wins, the other answers the final state), and a digest
that is not the issued document's refused. ``FakePayment`` holds escrows by
payment id with idempotent take/refund and counts the money, so a test
checks "charged iff printed" from the cash box, not from call counts.
``FakeDocumentPrinter`` keeps the bytes of every completed job.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from host.client import CardProof
from host.client.issuance_models import (
    CardCheck,
    DocumentKind,
    DocumentOffer,
    DocumentOptions,
    HouseholdScope,
    IssuanceRefusal,
    IssuanceSession,
    IssuanceState,
    IssuedDocument,
    MunicipalityOffer,
    MunicipalRefusal,
    PrintFailure,
    PrintSettlement,
)
from host.errors import (
    IdempotencyConflictError,
    PaymentCancelledError,
    PaymentTimeoutError,
    ServiceStateError,
    ServiceUnavailableError,
)
from host.flows.issuance_ports import Escrow, PrintJob, PrintOutcome

__all__ = ["OFFERS", "FakeCentre", "FakeDocumentPrinter", "FakePayment"]

RESIDENT_RECORD = DocumentOffer(
    kind=DocumentKind.RESIDENT_RECORD,
    title="住民票の写し",
    fee_yen_per_copy=200,
    household_scopes=(HouseholdScope.SELF, HouseholdScope.WHOLE_HOUSEHOLD),
    max_copies=10,
)
SEAL = DocumentOffer(
    kind=DocumentKind.SEAL_REGISTRATION, title="印鑑登録証明書", fee_yen_per_copy=300
)
OFFERS = (
    MunicipalityOffer("131016", "千代田区", None, (RESIDENT_RECORD, SEAL)),
    MunicipalityOffer("261033", "京都市左京区", MunicipalRefusal.NOT_A_RESIDENT, ()),
)


@dataclass
class _Request:
    request_id: str
    serial: str
    pdf: bytes
    fee_yen: int
    state: IssuanceState = IssuanceState.ISSUED


@dataclass
class FakeCentre:
    """The issuance centre; ``down`` names methods that raise UNAVAILABLE."""

    terminal_id: str = "mfp-01"
    card_refusal: IssuanceRefusal | None = None
    card_reason: str = "OK"
    request_refusal: IssuanceRefusal | None = None
    municipal_refusal: MunicipalRefusal | None = None
    down: set[str] = field(default_factory=set)
    #: Methods that act and then lose their answer (UNAVAILABLE after the work).
    lose_answer: set[str] = field(default_factory=set)
    offers: tuple[MunicipalityOffer, ...] = OFFERS
    requests: dict[str, _Request] = field(default_factory=dict)  # by request key
    #: Every failure reported, in order (the reason recovery gives matters to the centre).
    failures: list[PrintFailure] = field(default_factory=list)
    answers: dict[str, object] = field(default_factory=dict)  # by idempotency key
    calls: list[str] = field(default_factory=list)
    proofs: list[CardProof] = field(default_factory=list)
    bodies: dict[str, object] = field(default_factory=dict)  # RequestDocument's, by key

    def _enter(self, method: str) -> None:
        self.calls.append(method)
        if method in self.down:
            raise ServiceUnavailableError(f"{method} failed", code="UNAVAILABLE")

    def _leave(self, method: str) -> None:
        if method in self.lose_answer:
            self.lose_answer.discard(method)
            raise ServiceUnavailableError(f"{method} failed", code="UNAVAILABLE")

    def by_id(self, request_id: str) -> _Request:
        return next(r for r in self.requests.values() if r.request_id == request_id)

    async def open_session(
        self, idempotency_key: str, *, timeout: float | None = None
    ) -> IssuanceSession:
        self._enter("open_session")
        return IssuanceSession(f"s-{idempotency_key}", b"\x05" * 32)

    async def prove_card(
        self,
        session_id: str,
        proof: CardProof,
        idempotency_key: str,
        *,
        timeout: float | None = None,
    ) -> CardCheck:
        self._enter("prove_card")
        self.proofs.append(proof)
        # The card signed SHA-256 of the nonce (FakeCard: b"sig:" + digest).
        assert proof.signature == b"sig:" + hashlib.sha256(b"\x05" * 32).digest()
        return CardCheck(self.card_refusal, self.card_reason)

    async def list_documents(
        self, session_id: str, *, timeout: float | None = None
    ) -> tuple[IssuanceRefusal | None, tuple[MunicipalityOffer, ...]]:
        self._enter("list_documents")
        return None, self.offers

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
    ) -> IssuedDocument:
        self._enter("request_document")
        body = (session_id, municipality_code, kind, options, fee_yen)
        if self.bodies.setdefault(idempotency_key, body) != body:  # as the centre refuses it
            raise IdempotencyConflictError(code="ALREADY_EXISTS", reason="IDEMPOTENCY_KEY_REUSED")
        if self.request_refusal or self.municipal_refusal:
            refusal = self.request_refusal or IssuanceRefusal.MUNICIPALITY_REFUSED
            return IssuedDocument(refusal, self.municipal_refusal)
        if idempotency_key not in self.requests:
            number = len(self.requests) + 1
            pdf = f"%PDF-1.7 document {number} {kind.value} x{options.copies}".encode()
            self.requests[idempotency_key] = _Request(
                f"req-{number}", f"131016-{number:06d}", pdf, fee_yen
            )
        r = self.requests[idempotency_key]
        self._leave("request_document")
        return IssuedDocument(
            None,
            None,
            request_id=r.request_id,
            serial=r.serial,
            document_pdf=r.pdf,
            document_sha256=hashlib.sha256(r.pdf).digest(),
            fee_yen=r.fee_yen,
            state=r.state,
        )

    async def confirm_printed(
        self,
        request_id: str,
        *,
        document_sha256: bytes,
        print_job_id: str,
        idempotency_key: str,
        timeout: float | None = None,
    ) -> PrintSettlement:
        self._enter("confirm_printed")
        r = self.by_id(request_id)
        if document_sha256 != hashlib.sha256(r.pdf).digest():
            raise ServiceStateError("ConfirmPrinted failed", code="FAILED_PRECONDITION")
        if r.state is IssuanceState.ISSUED:
            r.state = IssuanceState.CHARGED
        self._leave("confirm_printed")
        return PrintSettlement(r.state, r.fee_yen if r.state is IssuanceState.CHARGED else 0)

    async def report_print_failure(
        self,
        request_id: str,
        failure: PrintFailure,
        *,
        idempotency_key: str,
        timeout: float | None = None,
    ) -> PrintSettlement:
        self._enter("report_print_failure")
        r = self.by_id(request_id)
        self.failures.append(failure)
        if r.state is IssuanceState.ISSUED:
            r.state = IssuanceState.REFUNDED
        self._leave("report_print_failure")
        return PrintSettlement(r.state, r.fee_yen if r.state is IssuanceState.REFUNDED else 0)


@dataclass
class FakePayment:
    """A coin acceptor with an escrow; ``box`` is the money kept, ``returned`` given back."""

    inserted: int = 500  # what the resident puts in (the fee, or more: change)
    fail: Exception | None = None  # raised by collect (timeout, cancel, device fault)
    stall: bool = False  # collect never completes (the flow's cancel or timeout ends it)
    escrows: dict[str, Escrow] = field(default_factory=dict)
    holding: dict[str, int] = field(default_factory=dict)  # yen in escrow by payment id
    box: int = 0
    returned: int = 0
    change: int = 0
    on_collect: Callable[[], None] | None = None

    async def collect(self, *, payment_id: str, fee_yen: int, timeout: float) -> Escrow:
        if payment_id in self.escrows:
            return self.escrows[payment_id]
        if self.stall:
            try:
                await asyncio.sleep(3600)  # a coin in, then the resident walks away
            except asyncio.CancelledError:
                self.returned += 100  # cancelled: the device gives it back itself
                raise
        if isinstance(self.fail, PaymentTimeoutError | PaymentCancelledError):
            raise self.fail  # the device returned what was inserted itself
        if self.fail is not None:
            self.returned += 100  # a fault: what could be returned was
            raise self.fail
        escrow = Escrow(payment_id, fee_yen, max(fee_yen, self.inserted))
        self.escrows[payment_id] = escrow
        self.holding[payment_id] = escrow.inserted_yen
        if self.on_collect is not None:
            self.on_collect()
        return escrow

    async def take(self, escrow: Escrow) -> int:
        held = self.holding.pop(escrow.payment_id, None)
        if held is None:
            return escrow.inserted_yen - escrow.fee_yen  # taken before: same answer
        self.box += escrow.fee_yen
        self.change += held - escrow.fee_yen
        return held - escrow.fee_yen

    async def refund(self, escrow: Escrow) -> int:
        held = self.holding.pop(escrow.payment_id, 0)
        self.returned += held
        return held


@dataclass
class FakeDocumentPrinter:
    """The MFP's print engine: ``outcome`` for every job, or ``fail`` before any job."""

    outcome: PrintOutcome = PrintOutcome.COMPLETED
    fail: Exception | None = None
    jobs: list[bytes] = field(default_factory=list)  # bytes of completed jobs
    titles: list[str] = field(default_factory=list)
    on_print: Callable[[], None] | None = None

    async def print_document(self, pdf: bytes, *, title: str, timeout: float) -> PrintJob:
        self.titles.append(title)
        if self.fail is not None:
            raise self.fail
        if self.outcome is PrintOutcome.COMPLETED:
            self.jobs.append(pdf)
        job = PrintJob(str(len(self.titles)), self.outcome, hashlib.sha256(pdf).digest())
        if self.on_print is not None:
            self.on_print()
        return job
