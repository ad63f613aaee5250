# SPDX-License-Identifier: Apache-2.0
"""Certificate issuance at the convenience-store MFP (コンビニ交付) as an explicit state machine.

States (``IssueStep``)::

    WAIT_CARD -> SESSION -> ENTER_PIN -> PROVING -> CHECKING -> REMOVE_CARD
      -> CHOOSING -> CONFIRM_FEE -> PAYING -> REQUESTING -> PRINTING
      -> CONFIRMING | REFUNDING -> TAKE_DOCUMENT -> DONE          (any -> FAILED)

The card proves the centre's nonce with its user-authentication key (the
4-digit PIN; tries left and the last-try warning from ``pin_entry``); the
centre checks it (ProveIssuanceCard); the card is handed back before
anything is printed (取り忘れ対策), so a pulled card matters only up to
there. The resident chooses (``DocumentChooser``: the API command's choice,
or a screen), sees the fee and pays it into the payment device's escrow;
only then is the document requested, printed, and the fee kept if and only
if the printer reported the job complete (ConfirmPrinted, ``take``);
otherwise the centre is told (ReportPrintFailure, the serial voided) and
the money given back (``refund``). Every side effect from the collect on
is journaled before and after (``issue_settle``), so a crash anywhere is
finished by ``recover_issuances`` with the same rule. Cancel works at every
prompt up to the payment; from the request on the flow runs to its end.

The operator's journal gets the serial, the kind, the fee and the outcome,
nothing of the document's content and never the PIN (issue 14's "what the
operator's journal must hold").
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import ClassVar, Final

from host.card import KeyKind, PinKind
from host.client import CardProof
from host.client.issuance import issuance_digest
from host.client.issuance_models import (
    IssuanceRefusal,
    IssuanceSession,
    IssuanceState,
    IssuedDocument,
    PrintFailure,
)
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
from host.flows.codes import FailureCode, IssueRefusal
from host.flows.context import StepTimeouts
from host.flows.events import (
    Event,
    FlowFailed,
    Outcome,
    PaymentInserted,
    Prompt,
    PromptKind,
    RemoveCard,
)
from host.flows.issuance_ports import (
    DocumentPrinterPort,
    Escrow,
    PaymentPort,
    PaymentProgress,
    PrintJob,
)
from host.flows.issuance_ports import PrintOutcome as _PrintOutcome
from host.flows.issue_request import (
    ChosenDocument,
    DocumentChooser,
    IssuanceCentre,
    IssueOutcome,
    IssueStep,
)
from host.flows.issue_settle import (
    FLOW,
    confirm_printed,
    give_back,
    keep_fee,
    report_not_printed,
)
from host.flows.machine import Ending, FlowMachine
from host.flows.ports import CardPort, UserPort
from host.journal import Effect, ElectronicJournal, Journal, Phase
from host.journal.records import JsonValue
from host.messages import PromptKey, fee_message, payment_message, prompt_text
from host.secret import Secret

__all__ = ["IssueFlow"]

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


def _refusal(refusal: IssuanceRefusal) -> str:
    return (
        IssueRefusal.MUNICIPALITY_REFUSED
        if refusal is IssuanceRefusal.MUNICIPALITY_REFUSED
        else refusal.value
    )


class IssueFlow(FlowMachine[IssueStep, IssueOutcome]):
    """One issuance at a time on one MFP.

    Args:
        centre: the certificate issuance centre (``IssuanceClient``).
        card, user: the card and the screen.
        payment, printer: the payment device and the document printer.
        journal: the write-ahead journal; ``ejournal`` the operator's record.
        emit: receives every ``Event``.
        timeouts: per-step budgets (``printer`` is a receipt's: see below).
        payment_timeout: how long the resident has to pay, seconds.
        print_timeout: how long one document may take to print, seconds.
    """

    flow: ClassVar[str] = FLOW
    steps = IssueStep

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

    async def run(self, chooser: DocumentChooser) -> IssueOutcome:
        """Run to the end; failures are events and the outcome, not exceptions.

        Raises:
            JournalError: the journal cannot be written.
        """
        self._op_id = Journal.new_op_id()
        self._chosen = self._document = self._escrow = None
        self._money_settled = self._print_started = False
        return await self.drive(self._op_id, self._steps(self._op_id, chooser))

    # -- the machine's hooks -----------------------------------------------

    def _stopped(self, ending: Ending) -> IssueOutcome:
        return IssueOutcome(
            ending.outcome,
            self._op_id,
            request_id=self._document.request_id if self._document else "",
            serial=self._document.serial if self._document else "",
            kind=self._chosen.choice.kind if self._chosen else None,
            fee_yen=self._chosen.fee_yen if self._chosen else 0,
            reason=ending.reason,
            pin=PinKind.AUTH,  # the flow's only secret
        )

    def _end_facts(self, outcome: IssueOutcome) -> Mapping[str, JsonValue]:
        # The operator's line: serial, kind, fee and outcome only (module docstring).
        return {
            "serial": outcome.serial or None,
            "kind": outcome.kind.value if outcome.kind else None,
            "fee_yen": outcome.fee_yen or None,
            "outcome": outcome.outcome.value,
            "reason": outcome.reason,
            "charged": outcome.charged,
        }

    async def _after_release(self, op_id: str, outcome: IssueOutcome) -> IssueOutcome:
        # Stopped short with money in escrow before anything could print
        # (a cancel or a centre failure at the request): give it back now.
        # Once a print has started, only the print's outcome decides (recovery).
        if self._escrow is None or self._money_settled or self._print_started:
            return outcome
        self._money_settled = True
        returned = await give_back(self._journal, self._payment, op_id=op_id, escrow=self._escrow)
        return dataclasses.replace(outcome, refunded=returned is not None)

    # -- the steps ---------------------------------------------------------

    async def _steps(self, op_id: str, chooser: DocumentChooser) -> IssueOutcome:
        self._to(IssueStep.WAIT_CARD)
        await self._wait_card()
        session = await self._open_session(op_id)
        await self._prove(op_id, session)
        await self._hand_back_card()
        chosen = await self._choose(session, chooser)
        await self._confirm_fee(chosen)
        escrow = await self._collect(op_id, chosen)
        document = await self._request(op_id, session, chosen, escrow)
        job, failure = await self._print(op_id, document)
        if job is not None and failure is None:
            return await self._printed(op_id, chosen, document, job, escrow)
        return await self._not_printed(
            op_id, chosen, document, escrow, failure or PrintFailure.TIMEOUT
        )

    async def _open_session(self, op_id: str) -> IssuanceSession:
        self._to(IssueStep.SESSION)
        self._working("opening an issuance session")
        session = await self._call("open session", self._centre.open_session(f"{op_id}.session"))
        if session.refusal is not None:
            raise FlowRefusedError(_refusal(session.refusal))
        return session

    async def _prove(self, op_id: str, session: IssuanceSession) -> None:
        digest = issuance_digest(session.nonce)
        proof = await self._use_secret(
            pin=PinKind.AUTH,
            prompt=PromptKind.AUTH_PIN,
            text=prompt_text(PromptKey.AUTH_PIN).en,
            action=lambda pin: self._sign(digest, pin),
            working="the card is proving itself",
            entering=IssueStep.ENTER_PIN,
        )
        self._to(IssueStep.CHECKING)
        self._working("checking the card with the issuance centre")
        key = f"{op_id}.prove"
        self._record(op_id, Effect.ISSUE_PROVE, Phase.INTENT, key=key)
        check = await self._call(
            "prove card", self._centre.prove_card(session.session_id, proof, key)
        )
        outcome: dict[str, JsonValue] = {"accepted": check.accepted, "reason": check.card_reason}
        self._record(op_id, Effect.ISSUE_PROVE, Phase.OUTCOME, key=key, data=outcome)
        if check.refusal is IssuanceRefusal.CARD_REJECTED:
            raise FlowRefusedError(check.card_reason)  # CERTIFICATE_REVOKED, as every flow says
        if check.refusal is not None:
            raise FlowRefusedError(_refusal(check.refusal))

    async def _sign(self, digest: bytes, pin: Secret) -> CardProof:
        self._to(IssueStep.PROVING)
        return await self._card.prove(KeyKind.AUTH, digest, pin)

    async def _hand_back_card(self) -> None:
        # Before anything is chosen or paid: the card cannot be left behind
        # with the document (取り忘れ対策). drive() releases it again: harmless.
        self._to(IssueStep.REMOVE_CARD)
        self._ctx.emit(RemoveCard())
        await self._release_card()

    async def _choose(self, session: IssuanceSession, chooser: DocumentChooser) -> ChosenDocument:
        self._to(IssueStep.CHOOSING)
        self._working("asking what this resident may obtain")
        refusal, offers = await self._call(
            "list documents", self._centre.list_documents(session.session_id)
        )
        if refusal is not None:
            raise FlowRefusedError(_refusal(refusal))
        chosen = await self._ctx.step("choice", chooser.choose(offers), self._ctx.timeouts.prompt)
        if chosen is None:
            raise FlowCancelledError("the resident chose nothing")
        self._chosen = chosen
        return chosen

    async def _confirm_fee(self, chosen: ChosenDocument) -> None:
        self._to(IssueStep.CONFIRM_FEE)
        text = fee_message(
            title=chosen.offer.title,
            municipality_name=chosen.municipality_name,
            copies=chosen.choice.options.copies,
            fee_yen=chosen.fee_yen,
        )
        prompt = Prompt(PromptKind.CONFIRM_FEE, text.en, message=text)
        self._ctx.emit(prompt)
        agreed = await self._ctx.step("fee", self._user.confirm(prompt), self._ctx.timeouts.prompt)
        if not agreed:
            raise FlowCancelledError("the resident declined the fee")

    async def _collect(self, op_id: str, chosen: ChosenDocument) -> Escrow:
        self._to(IssueStep.PAYING)
        payment_id = f"{op_id}.pay"
        fee = chosen.fee_yen
        intent: dict[str, JsonValue] = {"payment_id": payment_id, "fee_yen": fee}
        self._record(op_id, Effect.ISSUE_COLLECT, Phase.INTENT, key=payment_id, data=intent)
        text = payment_message(fee)
        self._ctx.emit(Prompt(PromptKind.INSERT_PAYMENT, text.en, message=text))
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

    async def _request(
        self, op_id: str, session: IssuanceSession, chosen: ChosenDocument, escrow: Escrow
    ) -> IssuedDocument:
        self._to(IssueStep.REQUESTING)
        self._working("requesting the certificate")
        c, key = chosen.choice, f"{op_id}.request"
        intent: dict[str, JsonValue] = {
            "session_id": session.session_id,
            "municipality_code": c.municipality_code,
            "kind": c.kind.value,
            "household_scope": c.options.household_scope.value,
            "show_registered_domicile": c.options.show_registered_domicile,
            "show_relationship": c.options.show_relationship,
            "copies": c.options.copies,
            "fiscal_year": c.options.fiscal_year,
            "fee_yen": escrow.fee_yen,
        }
        self._record(op_id, Effect.ISSUE_REQUEST, Phase.INTENT, key=key, data=intent)
        # A failure here leaves the request's fate to recovery (same key);
        # the money goes back at once in _after_release (nothing printed).
        document = await self._call(
            "request document",
            self._centre.request_document(
                session.session_id,
                municipality_code=c.municipality_code,
                kind=c.kind,
                options=c.options,
                fee_yen=escrow.fee_yen,
                idempotency_key=key,
            ),
        )
        outcome: dict[str, JsonValue] = {
            "issued": document.refusal is None,
            "refusal": document.refusal.value if document.refusal else None,
            "municipal_refusal": (
                document.municipal_refusal.value if document.municipal_refusal else None
            ),
            "request_id": document.request_id,
            "serial": document.serial,
        }
        self._record(op_id, Effect.ISSUE_REQUEST, Phase.OUTCOME, key=key, data=outcome)
        if document.municipal_refusal is not None:
            raise FlowRefusedError(document.municipal_refusal.value)
        if document.refusal is not None:
            raise FlowRefusedError(_refusal(document.refusal))
        self._document = document
        return document

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
