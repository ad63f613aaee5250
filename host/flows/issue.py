# SPDX-License-Identifier: Apache-2.0
"""Certificate issuance at the convenience-store MFP (コンビニ交付) as an explicit state machine.

States (``IssueStep``)::

    WAIT_CARD -> SESSION -> ENTER_PIN -> PROVING -> CHECKING -> REMOVE_CARD
      -> CHOOSING -> CONFIRM_FEE -> PAYING (+ the request) -> REQUESTING -> PRINTING
      -> CONFIRMING | REFUNDING -> TAKE_DOCUMENT -> DONE          (any -> FAILED)

The card proves the centre's nonce with its user-authentication key (the
4-digit PIN; tries left and the last-try warning from ``pin_entry``); a
smartphone with its own certificate (Android: its own 4-digit PIN; iPhone: no
PIN prompt, "authenticate on your phone" and the phone's approval, within
the prompt's time, ``on_device``); the centre checks it (ProveIssuanceCard);
the card is handed back before anything is printed (取り忘れ対策), so a
pulled card matters only up to there. The resident chooses
(``DocumentChooser``: the API command's choice, or a screen), sees the fee
and pays it into the payment device's escrow while the document is
requested (``_pay_while_requesting``: a payment that does not complete
voids what was issued); only when both are done is it printed, and the fee
kept if and only if the printer reported the job complete (ConfirmPrinted,
``take``); otherwise the centre is told (ReportPrintFailure, the serial
voided) and the money given back (``refund``). Every side effect from the
collect on is journaled before and after (``issue_effects``), so a crash anywhere is
finished by ``recover_issuances`` with the same rule. Cancel works at every
prompt up to the payment; from the request on the flow runs to its end. The
money-and-paper steps (collect, print, keep or give back) are in
``issue_paid``, the journaled settlement steps in ``issue_effects``.

The operator's journal gets the serial, the kind, the fee and the outcome,
nothing of the document's content and never the PIN (issue 14's "what the
operator's journal must hold").
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import ClassVar

from host.card import CredentialKind, KeyKind, PinKind, UserVerification
from host.client import CardProof
from host.client.issuance import issuance_digest
from host.client.issuance_models import IssuanceRefusal, IssuanceSession, IssuedDocument
from host.errors import FlowCancelledError, FlowRefusedError
from host.flows.codes import IssueRefusal
from host.flows.events import Prompt, PromptKind, RemoveCard
from host.flows.issuance_ports import Escrow
from host.flows.issue_effects import FLOW
from host.flows.issue_paid import IssuePaidHalf
from host.flows.issue_request import (
    ChosenDocument,
    DocumentChooser,
    IssueOutcome,
    IssueStep,
)
from host.flows.machine import Ending
from host.flows.on_device import approve_on_device, present
from host.journal import Effect, Journal, Phase
from host.journal.records import CREDENTIAL_KIND, JsonValue
from host.prompt_texts import PromptKey, fee_message, prompt_text
from host.secret import Secret

__all__ = ["IssueFlow"]


def _refusal(refusal: IssuanceRefusal) -> str:
    return (
        IssueRefusal.MUNICIPALITY_REFUSED
        if refusal is IssuanceRefusal.MUNICIPALITY_REFUSED
        else refusal.value
    )


class IssueFlow(IssuePaidHalf):
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

    async def run(self, chooser: DocumentChooser) -> IssueOutcome:
        """Run to the end; failures are events and the outcome, not exceptions.

        Raises:
            JournalError: the journal cannot be written.
        """
        self._op_id = Journal.new_op_id()
        self._chosen = self._document = self._escrow = None
        self._money_settled = self._print_started = False
        self._credential: CredentialKind | None = None  # what proved itself
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
            CREDENTIAL_KIND: self._credential.value if self._credential else None,
        }

    async def _steps(self, op_id: str, chooser: DocumentChooser) -> IssueOutcome:
        self._to(IssueStep.WAIT_CARD)
        await self._wait_card()
        credential = await present(self._ctx, self._card)
        self._credential = credential.kind
        session = await self._open_session(op_id)
        await self._prove(op_id, session, credential.verification)
        await self._hand_back_card()
        chosen = await self._choose(session, chooser)
        await self._confirm_fee(chosen)
        escrow, document = await self._pay_while_requesting(op_id, session, chosen)
        return await self._print_and_settle(op_id, chosen, document, escrow)

    async def _open_session(self, op_id: str) -> IssuanceSession:
        self._to(IssueStep.SESSION)
        self._working("opening an issuance session")
        session = await self._call("open session", self._centre.open_session(f"{op_id}.session"))
        if session.refusal is not None:
            raise FlowRefusedError(_refusal(session.refusal))
        return session

    async def _prove(
        self, op_id: str, session: IssuanceSession, verification: UserVerification
    ) -> None:
        digest = issuance_digest(session.nonce)
        if verification is UserVerification.ON_DEVICE:
            proof = await approve_on_device(
                self._ctx,
                self._card,
                kind=KeyKind.AUTH,
                digest=digest,
                working="the phone is proving itself",
                on_prompt=lambda: self._to(IssueStep.APPROVE_ON_PHONE),
            )
        else:
            proof = await self._prove_with_pin(digest)
        await self._check(op_id, session, proof)

    async def _prove_with_pin(self, digest: bytes) -> CardProof:
        return await self._use_secret(
            pin=PinKind.AUTH,
            prompt=PromptKind.AUTH_PIN,
            text=prompt_text(PromptKey.AUTH_PIN).en,
            action=lambda pin: self._sign(digest, pin),
            working="the card is proving itself",
            entering=IssueStep.ENTER_PIN,
        )

    async def _check(self, op_id: str, session: IssuanceSession, proof: CardProof) -> None:
        self._to(IssueStep.CHECKING)
        self._working("checking the card with the issuance centre")
        key = f"{op_id}.prove"
        kind: dict[str, JsonValue] = {CREDENTIAL_KIND: self._credential}
        self._record(op_id, Effect.ISSUE_PROVE, Phase.INTENT, key=key, data=kind)
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

    async def _pay_while_requesting(
        self, op_id: str, session: IssuanceSession, chosen: ChosenDocument
    ) -> tuple[Escrow, IssuedDocument]:
        """Collect the fee while the centre issues the document; void it if no fee comes.

        Why overlap: the resident feeding the acceptor takes seconds, the
        request (the municipality renders and signs the PDF) a tenth of
        one, and awaited one after the other it was most of the software
        time the resident waited for. Charged iff printed is unchanged:
        nothing prints before both are done, and a payment that fails,
        times out or is cancelled after the request was sent voids what it
        issued (``_void_unpaid``). Both intents are journaled before either
        starts, so recovery sees a request only beside its collect.
        """
        payment_id = self._collect_intent(op_id, chosen)
        key = self._request_intent(op_id, session, chosen)
        request = asyncio.ensure_future(self._request(op_id, session, chosen, key))
        try:
            escrow = await self._collect(op_id, chosen, payment_id)
        except Exception:
            await self._void_unpaid(op_id, chosen, request)
            raise
        self._to(IssueStep.REQUESTING)
        self._working("requesting the certificate")
        # A failure here leaves the request's fate to recovery (same key);
        # the money goes back at once in _after_release (nothing printed).
        return escrow, await request

    def _request_intent(self, op_id: str, session: IssuanceSession, chosen: ChosenDocument) -> str:
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
            "fee_yen": chosen.fee_yen,
        }
        self._record(op_id, Effect.ISSUE_REQUEST, Phase.INTENT, key=key, data=intent)
        return key

    async def _request(
        self, op_id: str, session: IssuanceSession, chosen: ChosenDocument, key: str
    ) -> IssuedDocument:
        c = chosen.choice
        document = await self._call(
            "request document",
            self._centre.request_document(
                session.session_id,
                municipality_code=c.municipality_code,
                kind=c.kind,
                options=c.options,
                fee_yen=chosen.fee_yen,
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
