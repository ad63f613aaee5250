# SPDX-License-Identifier: Apache-2.0
"""The issuance flow's paid half: the fee into escrow, the print, and keep or give back.

``IssueFlow`` (``issue``) runs the resident's half (card, PIN, choice, fee
shown) and asks the centre for the document; this base class holds what
touches money and paper, where "charged iff printed" is decided: the
collect into the payment device's escrow, the print, and then either
ConfirmPrinted and keep the fee, or ReportPrintFailure and give it back
(``issue_effects``, journaled before and after so that ``issue_settle``'s
recovery finishes a crash by the same rule), and the void of a document
requested while the fee went in when the fee never came. Apart from the first half so
that each module has one job and the money rule reads in one place.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from host.client.issuance_models import IssuanceState, IssuedDocument, PrintFailure
from host.errors import (
    FlowCancelledError,
    FlowRefusedError,
    PaymentCancelledError,
    PaymentError,
    PeripheralError,
    PrinterUnavailableError,
    ServiceError,
    StepTimeoutError,
)
from host.flows.codes import FailureCode
from host.flows.context import StepTimeouts
from host.flows.events import (
    Event,
    FlowFailed,
    Outcome,
    PaymentInserted,
    Prompt,
    PromptKind,
)
from host.flows.issuance_ports import (
    DocumentPrinterPort,
    Escrow,
    PaymentPort,
    PaymentProgress,
    PrintJob,
)
from host.flows.issuance_ports import PrintOutcome as _PrintOutcome
from host.flows.issue_effects import confirm_printed, give_back, keep_fee, report_not_printed
from host.flows.issue_request import ChosenDocument, IssuanceCentre, IssueOutcome, IssueStep
from host.flows.machine import FlowMachine
from host.flows.ports import CardPort, UserPort
from host.journal import Effect, ElectronicJournal, Journal, Phase
from host.journal.records import JsonValue
from host.prompt_texts import PromptKey, payment_message, prompt_text

__all__ = ["IssuePaidHalf"]

_log = logging.getLogger(__name__)

#: The print engine's state keyword (``PrinterUnavailableError.state``) -> the centre's failure.
_PRINTER_FAILURES: Final = {
    "media-empty": PrintFailure.PAPER_OUT,
    "media-needed": PrintFailure.PAPER_OUT,
    "media-jam": PrintFailure.JAM,
    "door-open": PrintFailure.COVER_OPEN,
    "cover-open": PrintFailure.COVER_OPEN,
}
_OUTCOME_FAILURES: Final = {
    _PrintOutcome.ABORTED: PrintFailure.CANCELLED,
    _PrintOutcome.TIMED_OUT: PrintFailure.TIMEOUT,
}
#: Grace over a device's own timeout before the flow stops waiting for it.
_GRACE: Final = 5.0


class IssuePaidHalf(FlowMachine[IssueStep, IssueOutcome]):
    """The money-and-paper steps of ``IssueFlow`` (which documents the arguments)."""

    def __init__(
        self,
        *,
        centre: IssuanceCentre,
        card: CardPort,
        user: UserPort,
        payment: PaymentPort,
        printer: DocumentPrinterPort,
        journal: Journal,
        emit: Callable[[Event], None],
        ejournal: ElectronicJournal | None = None,
        timeouts: StepTimeouts | None = None,
        payment_timeout: float = 120.0,
        print_timeout: float = 120.0,
    ) -> None:
        super().__init__(
            card=card, user=user, journal=journal, emit=emit, ejournal=ejournal, timeouts=timeouts
        )
        self._centre, self._payment, self._printer = centre, payment, printer
        self._payment_timeout, self._print_timeout = payment_timeout, print_timeout
        self._op_id = ""
        self._chosen: ChosenDocument | None = None
        self._document: IssuedDocument | None = None
        self._escrow: Escrow | None = None
        self._money_settled = False  # kept or given back (or left to recovery on purpose)
        self._print_started = False

    async def _after_release(self, op_id: str, outcome: IssueOutcome) -> IssueOutcome:
        # Stopped short with money in escrow before anything could print
        # (a cancel or a centre failure at the request): give it back now.
        # Once a print has started, only the print's outcome decides (recovery).
        if self._escrow is None or self._money_settled or self._print_started:
            return outcome
        self._money_settled = True
        returned = await give_back(self._journal, self._payment, op_id=op_id, escrow=self._escrow)
        return dataclasses.replace(outcome, refunded=returned is not None)

    def _collect_intent(self, op_id: str, chosen: ChosenDocument) -> str:
        """PAYING: journal the collect's intent and ask for the fee; the payment id."""
        self._to(IssueStep.PAYING)
        payment_id = f"{op_id}.pay"
        intent: dict[str, JsonValue] = {"payment_id": payment_id, "fee_yen": chosen.fee_yen}
        self._record(op_id, Effect.ISSUE_COLLECT, Phase.INTENT, key=payment_id, data=intent)
        text = payment_message(chosen.fee_yen)
        self._ctx.emit(Prompt(PromptKind.INSERT_PAYMENT, text.en, message=text))
        return payment_id

    async def _collect(self, op_id: str, chosen: ChosenDocument, payment_id: str) -> Escrow:
        """The fee into escrow (``_collect_intent`` first); the outcome journaled either way."""
        fee = chosen.fee_yen
        collect = self._payment.collect(
            payment_id=payment_id, fee_yen=fee, timeout=self._payment_timeout
        )
        # A device that reports each insertion lets the screen show what is in.
        progress = self._payment if isinstance(self._payment, PaymentProgress) else None
        if progress is not None:
            progress.watch(lambda yen: self._ctx.emit(PaymentInserted(fee, yen)))
        # A collect that does not complete gives the money back itself
        # (PaymentPort: timeout, cancel on the device, a fault, or this task
        # cancelled by the resident's cancel): nothing is held, nothing to refund.
        try:
            escrow = await self._ctx.step("payment", collect, self._payment_timeout + _GRACE)
        except (PaymentError, FlowCancelledError, StepTimeoutError) as exc:
            done: dict[str, JsonValue] = {"collected": False, "why": type(exc).__name__}
            self._record(op_id, Effect.ISSUE_COLLECT, Phase.OUTCOME, key=payment_id, data=done)
            if isinstance(exc, PaymentCancelledError):
                raise FlowCancelledError("cancelled on the payment device") from exc
            raise
        finally:
            if progress is not None:
                progress.watch(None)
        self._escrow = escrow
        done = {
            "collected": True,
            "payment_id": payment_id,
            "fee_yen": escrow.fee_yen,
            "inserted_yen": escrow.inserted_yen,
        }
        self._record(op_id, Effect.ISSUE_COLLECT, Phase.OUTCOME, key=payment_id, data=done)
        return escrow

    async def _void_unpaid(
        self, op_id: str, chosen: ChosenDocument, request: Awaitable[IssuedDocument]
    ) -> None:
        """The fee never came: void what the centre issued meanwhile (the request's answer first).

        ReportPrintFailure with ``CANCELLED`` is the centre's void (ISSUED ->
        REFUNDED, the serial voided, no fee); nothing printed, as printing
        waits for the fee. A lost answer or an unanswered void is recovery's.
        """
        try:
            document = await request
        except (FlowRefusedError, ServiceError, StepTimeoutError):
            return  # refused: nothing issued; no answer: recovery asks with the key
        try:
            await self._call(
                "void",
                report_not_printed(
                    self._journal,
                    self._centre,
                    op_id=op_id,
                    request_id=document.request_id,
                    failure=PrintFailure.CANCELLED,
                ),
            )
        except (ServiceError, StepTimeoutError) as exc:
            _log.warning("issue %s: the void is left to recovery: %s", op_id, type(exc).__name__)
            return
        self._ej_append(
            op_id,
            "ISSUE-VOIDED",
            serial=document.serial,
            kind=chosen.choice.kind.value,
            fee_yen=chosen.fee_yen,
        )

    async def _print_and_settle(
        self, op_id: str, chosen: ChosenDocument, document: IssuedDocument, escrow: Escrow
    ) -> IssueOutcome:
        """Print, then charge (printed) or refund (anything else)."""
        job, failure = await self._print(op_id, document)
        if job is not None and failure is None:
            return await self._printed(op_id, chosen, document, job, escrow)
        return await self._not_printed(
            op_id, chosen, document, escrow, failure or PrintFailure.TIMEOUT
        )

    async def _print(
        self, op_id: str, document: IssuedDocument
    ) -> tuple[PrintJob | None, PrintFailure | None]:
        """The print job (None: no job taken) and why it did not print (None: printed)."""
        self._to(IssueStep.PRINTING)
        self._working("printing the certificate")
        intent: dict[str, JsonValue] = {
            "request_id": document.request_id,
            "serial": document.serial,
            "sha256": document.document_sha256.hex(),
        }
        self._record(op_id, Effect.ISSUE_PRINT, Phase.INTENT, key=document.serial, data=intent)
        self._print_started = True
        job: PrintJob | None = None
        failure: PrintFailure | None = None
        try:
            job = await self._call(
                "print",
                self._printer.print_document(
                    document.document_pdf, title=document.serial, timeout=self._print_timeout
                ),
                timeout=self._print_timeout + _GRACE,
            )
        except PrinterUnavailableError as exc:
            failure = _PRINTER_FAILURES.get(exc.state, PrintFailure.PRINTER_OFFLINE)
        except (PeripheralError, StepTimeoutError) as exc:
            _log.warning("issue %s: the print failed: %s", op_id, type(exc).__name__)
            failure = PrintFailure.TIMEOUT
        printed = job is not None and job.outcome is _PrintOutcome.COMPLETED
        if job is not None and not printed:
            failure = _OUTCOME_FAILURES.get(job.outcome, PrintFailure.TIMEOUT)
        outcome: dict[str, JsonValue] = {
            "printed": printed,
            "print_job_id": job.job_id if job else "",
            "sha256": job.sha256.hex() if job else "",
            "failure": failure.value if failure else None,
        }
        self._record(op_id, Effect.ISSUE_PRINT, Phase.OUTCOME, key=document.serial, data=outcome)
        return job, failure

    async def _printed(
        self,
        op_id: str,
        chosen: ChosenDocument,
        document: IssuedDocument,
        job: PrintJob,
        escrow: Escrow,
    ) -> IssueOutcome:
        self._to(IssueStep.CONFIRMING)
        self._working("confirming the print")
        state = IssuanceState.CHARGED
        try:
            settled = await self._call(
                "confirm",
                confirm_printed(
                    self._journal,
                    self._centre,
                    op_id=op_id,
                    request_id=document.request_id,
                    sha256=job.sha256,
                    job_id=job.job_id,
                ),
            )
            state = settled.state
        except (ServiceError, StepTimeoutError) as exc:
            # Printed is printed: the fee is kept now, the centre told by recovery.
            _log.warning("issue %s: confirmation left to recovery: %s", op_id, exc)
        self._money_settled = True
        change: int | None = 0
        if state is IssuanceState.REFUNDED:
            # A failure reached the centre first: the serial is void, no fee.
            await give_back(self._journal, self._payment, op_id=op_id, escrow=escrow)
        else:
            change = await keep_fee(self._journal, self._payment, op_id=op_id, escrow=escrow)
        charged = state is not IssuanceState.REFUNDED
        self._to(IssueStep.TAKE_DOCUMENT)
        take = prompt_text(PromptKey.TAKE_DOCUMENT)
        self._ctx.emit(Prompt(PromptKind.TAKE_DOCUMENT, take.en, message=take))
        self._to(IssueStep.DONE)
        return IssueOutcome(
            Outcome.COMPLETED,
            op_id,
            request_id=document.request_id,
            serial=document.serial,
            kind=chosen.choice.kind,
            fee_yen=escrow.fee_yen,
            printed=True,
            charged=charged,
            refunded=not charged,
            inserted_yen=escrow.inserted_yen,
            change_yen=change or 0,  # None: left to recovery, which pays it out
        )

    async def _not_printed(
        self,
        op_id: str,
        chosen: ChosenDocument,
        document: IssuedDocument,
        escrow: Escrow,
        failure: PrintFailure,
    ) -> IssueOutcome:
        self._to(IssueStep.REFUNDING)
        self._working("the certificate was not printed: refunding")
        try:
            await self._call(
                "report failure",
                report_not_printed(
                    self._journal,
                    self._centre,
                    op_id=op_id,
                    request_id=document.request_id,
                    failure=failure,
                ),
            )
        except (ServiceError, StepTimeoutError) as exc:
            _log.warning("issue %s: the failure report is left to recovery: %s", op_id, exc)
        self._money_settled = True
        returned = await give_back(self._journal, self._payment, op_id=op_id, escrow=escrow)
        self._ej_append(
            op_id,
            "ISSUE-PRINT-FAILED",
            serial=document.serial,
            kind=chosen.choice.kind.value,
            fee_yen=escrow.fee_yen,
            failure=failure.value,
            refunded=returned is not None,
        )
        self._to(IssueStep.FAILED)
        code = FailureCode.PRINT_FAILED
        self._ctx.emit(FlowFailed(code, "the certificate was not printed; the fee is refunded"))
        return IssueOutcome(
            Outcome.FAILED,
            op_id,
            request_id=document.request_id,
            serial=document.serial,
            kind=chosen.choice.kind,
            fee_yen=escrow.fee_yen,
            refunded=returned is not None,
            inserted_yen=escrow.inserted_yen,
            reason=code,
        )
