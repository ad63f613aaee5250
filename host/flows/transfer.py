# SPDX-License-Identifier: Apache-2.0
"""The identity-verified transfer (ATM) as an explicit state machine.

States, in order (``TransferStep``)::

    SESSION -> [CONFIRM_STATEMENT -> WAIT_CARD -> ENTER_PASSWORD|APPROVE_ON_PHONE -> SIGNING]
            -> AUTHORIZING -> CONFIRM_MONEY -> COMMITTING | REVERSING
            -> PRINTING -> REMOVE_CARD -> DONE            (any -> FAILED)

The bracketed steps run only over the threshold (¥100,000 by default, the
verifier's policy being authoritative): the user sees the exact statement,
presents the card and types the signing password; the card signs
SHA-256 of the canonical statement (``TransferStatement.to_bytes``). A
smartphone signs with its own signing certificate: an Android phone with its
own password, typed on the secure PIN pad like a card's; an iPhone after its
holder approves on the phone (``on_device``: declined or no answer end the
run with their own codes, no try spent). What was presented is journaled with
the authorisation (``credential_kind``). Every
verifier side effect is journaled before and after (``settle``), so a crash
at any point is resolved exactly once by ``recover_transfers``. Whatever
happens, the password is wiped, the card session is released and one
``FlowResult`` is emitted.

After the authorisation the flow never decides the cash question by itself
(issue 23.1, ``cash``): the ATM application's answer decides, on the prompt
or, when none comes there, through the recovery desk's ``RecoveryPrompt``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import ClassVar

from host.card import CredentialKind, KeyKind, PinKind, UserVerification
from host.client import Authorization, CardProof, SessionPurpose, TransferState, TransferStatement
from host.errors import FlowCancelledError, FlowRefusedError
from host.flows.authorize_record import authorize_request_data
from host.flows.cash import CashAnswer, CashQuestion, ask_cash_moved
from host.flows.codes import FailureCode
from host.flows.context import StepTimeouts
from host.flows.events import Event, FlowFailed, Outcome, Prompt, PromptKind
from host.flows.machine import Ending, FlowMachine
from host.flows.on_device import approve_on_device, present
from host.flows.ports import CardPort, PrinterPort, TransferVerifier, UserPort
from host.flows.receipt import print_receipt_within, receipt_lines
from host.flows.settle import (
    FLOW,
    resolve_lost_authorization,
    reverse_unsettled,
    settle_transfer,
)
from host.flows.transfer_request import (
    TransferFieldError,
    TransferOutcome,
    TransferRequest,
    TransferStep,
)
from host.journal import Effect, ElectronicJournal, Journal, Phase, TransferRecovery
from host.journal.records import CREDENTIAL_KIND, JsonValue
from host.messages import Language
from host.prompt_texts import statement_message
from host.secret import Secret

__all__ = [
    "CashQuestion",
    "TransferFieldError",
    "TransferFlow",
    "TransferOutcome",
    "TransferRequest",
    "TransferStep",
    "statement_text",
]

_log = logging.getLogger(__name__)


def statement_text(s: TransferStatement) -> str:
    """The statement as shown to the user before signing (English; see ``statement_message``)."""
    return statement_message(s).en


class TransferFlow(FlowMachine[TransferStep, TransferOutcome]):
    """One transfer at a time on one terminal.

    Args:
        terminal_id: this ATM's id (signed into the statement).
        verifier, card, user, printer: the ports (``printer`` may be None).
        journal: the write-ahead journal; ``ejournal`` the operator's record.
        emit: receives every ``Event``.
        timeouts: per-step time budgets.
        threshold_yen: amounts over this need the card's signature.
        request_id: the API command's id, journaled so that recovery can ask
            the ATM application about this very transfer.
        cash_question: where an unanswered cash question goes (see the
            module docstring); None leaves it to the agent's recovery.
        language: the customer's language for the receipt, journaled with
            the statement so a recovery print uses it too.

    Once the transfer is authorised a ``cancel`` no longer ends it: the cash
    question goes to the recovery desk instead (never decided here).
    """

    flow: ClassVar[str] = FLOW
    steps = TransferStep

    def __init__(
        self,
        *,
        terminal_id: str,
        verifier: TransferVerifier,
        card: CardPort,
        user: UserPort,
        journal: Journal,
        emit: Callable[[Event], None],
        ejournal: ElectronicJournal | None = None,
        printer: PrinterPort | None = None,
        timeouts: StepTimeouts | None = None,
        threshold_yen: int = 100_000,
        request_id: str = "",
        cash_question: CashQuestion | None = None,
        language: Language = Language.EN,
    ) -> None:
        super().__init__(
            card=card, user=user, journal=journal, emit=emit, ejournal=ejournal, timeouts=timeouts
        )
        self.terminal_id = terminal_id
        self._verifier, self._printer = verifier, printer
        self._threshold = threshold_yen
        self._request_id = request_id
        self._cash_question = cash_question
        self._language = Language(language)
        self._op_id = ""
        self._authorize_data: dict[str, JsonValue] = {}
        self._identified = False  # the verifier recorded the holder's identity
        self._cash_asked = False  # the ATM application was asked whether cash moved
        self._auth_id = ""  # set once the verifier authorised this run's transfer
        self._authorize_sent = False  # set once AuthorizeTransfer's intent is journaled
        self._decided = False  # set once commit/reverse is journaled as decided
        self._settled = False  # the run ended on its own terms (completed, refused, reversed)
        self._credential: CredentialKind | None = None  # what signed, when something did

    @property
    def cash_handling(self) -> bool:
        """Whether AuthorizeTransfer was sent: the command's timeout no longer applies."""
        return self._authorize_sent

    async def run(self, request: TransferRequest) -> TransferOutcome:
        """Run the flow to its end; never raises for flow failures (see the events).

        Raises:
            JournalError: the journal cannot be written (nothing further is sent).
        """
        op_id = Journal.new_op_id()
        self._ej_append(
            op_id,
            "TRANSFER-START",
            amount_yen=request.amount_yen,
            payee_bank=request.payee_bank_code,
            payee_branch=request.payee_branch_code,
            payee_account=request.payee_account_number,
            request_id=self._request_id or None,
        )
        _log.info("transfer %s runs ATM request %s", op_id, self._request_id or "-")
        self._op_id, self._auth_id = op_id, ""
        self._authorize_sent = self._identified = self._cash_asked = False
        self._decided = self._settled = False
        self._credential = None
        return await self.drive(op_id, self._steps(op_id, request))

    def _stopped(self, ending: Ending) -> TransferOutcome:
        if ending.outcome is Outcome.REFUSED:
            self._settled = True  # refused: nothing was authorised to undo
            return TransferOutcome(
                ending.outcome,
                self._op_id,
                reason=ending.reason,
                identity_verified=self._identified,
            )
        return TransferOutcome(
            ending.outcome,
            self._op_id,
            authorization_id=self._auth_id,
            reason=ending.reason,
            identity_verified=self._identified,
        )

    def _end_facts(self, outcome: TransferOutcome) -> Mapping[str, JsonValue]:
        return {
            "outcome": outcome.outcome.value,
            "reason": outcome.reason,
            "request_id": self._request_id or None,
            CREDENTIAL_KIND: self._credential.value if self._credential else None,
        }

    async def _after_release(self, op_id: str, outcome: TransferOutcome) -> TransferOutcome:
        if self._settled:
            return outcome
        if self._authorize_sent and not self._auth_id:
            await resolve_lost_authorization(
                self._journal, self._verifier, op_id=op_id, ejournal=self._ej
            )
        if not self._auth_id or self._decided or self._cash_asked:
            # A decided commit that failed is never turned into a reversal
            # (recovery repeats the journaled decision), and an asked,
            # undecided question is left to recovery's question.
            return outcome
        # Failed before the ATM was ever asked to move cash: reversing is safe.
        state = await reverse_unsettled(
            self._journal,
            self._verifier,
            op_id=op_id,
            authorization_id=self._auth_id,
            ejournal=self._ej,
        )
        return outcome if state is None else dataclasses.replace(outcome, state=state)

    async def _steps(self, op_id: str, request: TransferRequest) -> TransferOutcome:
        self._to(TransferStep.SESSION)
        self._working("opening a verifier session")
        session = await self._call(
            "open session",
            self._verifier.open_session(SessionPurpose.TRANSFER, f"{op_id}.session"),
        )
        statement = request.bind(nonce=session.nonce, terminal_id=self.terminal_id)
        proof: CardProof | None = None
        if request.amount_yen > self._threshold:
            proof = await self._identify(statement)
        auth = await self._authorize(
            op_id, session_id=session.session_id, statement=statement, proof=proof
        )
        self._identified = auth.identity_verified
        if not auth.accepted:
            self._ej_append(op_id, "TRANSFER-REFUSED", reason=auth.reason)
            raise FlowRefusedError(auth.reason)
        self._ej_append(
            op_id,
            "TRANSFER-AUTHORIZED",
            authorization=auth.authorization_id,
            request_id=self._request_id or None,
            identity_verified=auth.identity_verified,
            certificate_serial=auth.identity.certificate_serial if auth.identity else None,
        )
        self._auth_id = auth.authorization_id
        outcome = await self._settle(op_id, auth.authorization_id, auth.identity_verified)
        self._settled = True
        return outcome

    async def _authorize(
        self,
        op_id: str,
        *,
        session_id: str,
        statement: TransferStatement,
        proof: CardProof | None,
    ) -> Authorization:
        self._to(TransferStep.AUTHORIZING)
        self._working("authorising the transfer")
        key = f"{op_id}.authorize"
        self._authorize_data = authorize_request_data(session_id, statement, proof) | {
            "request_id": self._request_id,
            "language": self._language.value,
        }
        self._record(
            op_id, Effect.TRANSFER_AUTHORIZE, Phase.INTENT, key=key, data=self._authorize_data
        )
        self._authorize_sent = True
        auth = await self._call(
            "authorise", self._verifier.authorize_transfer(session_id, statement, proof, key)
        )
        outcome: dict[str, JsonValue] = {
            "accepted": auth.accepted,
            "reason": auth.reason,
            "authorization_id": auth.authorization_id,
            "identity_verified": auth.identity_verified,
        }
        self._record(op_id, Effect.TRANSFER_AUTHORIZE, Phase.OUTCOME, key=key, data=outcome)
        return auth

    async def _identify(self, statement: TransferStatement) -> CardProof:
        self._to(TransferStep.CONFIRM_STATEMENT)
        text = statement_message(statement)  # both languages, from the signed fields
        prompt = Prompt(PromptKind.CONFIRM_STATEMENT, text.en, message=text)
        self._ctx.emit(prompt)
        agreed = await self._ctx.step(
            prompt.kind.value, self._user.confirm(prompt), self._ctx.timeouts.prompt
        )
        if not agreed:
            raise FlowCancelledError("the user declined the statement")
        self._to(TransferStep.WAIT_CARD)
        await self._wait_card()
        credential = await present(self._ctx, self._card)
        self._credential = credential.kind
        await self._require_signing_certificate()
        digest = statement.digest()
        if credential.verification is UserVerification.ON_DEVICE:
            return await approve_on_device(
                self._ctx,
                self._card,
                kind=KeyKind.SIGN,
                digest=digest,
                working="the phone is signing the statement",
                on_prompt=lambda: self._to(TransferStep.APPROVE_ON_PHONE),
            )
        return await self._use_secret(
            pin=PinKind.SIGN,
            prompt=PromptKind.SIGNING_PASSWORD,
            text="Enter your signing password",
            action=lambda secret: self._sign(digest, secret),
            working="the card is signing the statement",
            entering=TransferStep.ENTER_PASSWORD,
        )

    async def _sign(self, digest: bytes, secret: Secret) -> CardProof:
        self._to(TransferStep.SIGNING)
        return await self._card.prove(KeyKind.SIGN, digest, secret)

    async def _cash_moved(self, op_id: str, auth_id: str) -> tuple[bool | None, CashAnswer]:
        """The ATM application's answer: (moved, how); never decided here (``cash``)."""
        self._cash_asked = True

        def plan() -> TransferRecovery:
            return TransferRecovery(
                op_id, f"{op_id}.authorize", dict(self._authorize_data), authorization_id=auth_id
            )

        def to_recovery(why: str) -> None:
            _log.warning("transfer %s: no cash answer (%s); asking via recovery", op_id, why)
            self._ej_append(
                op_id, "CASH-QUESTION-TO-RECOVERY", why=why, request_id=self._request_id or None
            )

        return await ask_cash_moved(
            self._ctx,
            self._user,
            question=self._cash_question,
            plan=plan,
            on_unanswered=to_recovery,
        )

    async def _settle(self, op_id: str, auth_id: str, identified: bool) -> TransferOutcome:
        self._to(TransferStep.CONFIRM_MONEY)
        answer, how = await self._cash_moved(op_id, auth_id)
        if answer is None and how is CashAnswer.LEFT_TO_RECOVERY:
            self._to(TransferStep.FAILED)
            code = FailureCode.CASH_UNCONFIRMED
            self._ctx.emit(FlowFailed(code, "the cash question is left to recovery"))
            return TransferOutcome(
                Outcome.FAILED,
                op_id,
                authorization_id=auth_id,
                state=TransferState.AUTHORIZED,
                reason=code,
                identity_verified=identified,
            )
        moved = bool(answer)
        self._to(TransferStep.COMMITTING if moved else TransferStep.REVERSING)
        self._working("committing" if moved else "reversing")
        self._decided = True
        settle = settle_transfer(
            self._journal,
            self._verifier,
            op_id=op_id,
            authorization_id=auth_id,
            commit=moved,
            ejournal=self._ej,
        )
        state = await self._call("settle", settle, timeout=self._ctx.timeouts.service * 2)
        lines: tuple[str, ...] = ()
        printed = False
        if moved:
            lines = tuple(receipt_lines(self._authorize_data, auth_id, state, reprint=False))
            printed = await self._print(op_id, auth_id, list(lines))
        self._remove_card()
        if moved:
            return TransferOutcome(
                Outcome.COMPLETED,
                op_id,
                authorization_id=auth_id,
                state=state,
                identity_verified=identified,
                receipt_printed=printed,
                receipt_lines=lines,
            )
        # Declined (answered "no"), or nobody answered the recovery question
        # in time: reversed either way, and the code says so.
        unanswered = how is CashAnswer.UNANSWERED
        reason = FailureCode.REVERSED_UNANSWERED if unanswered else FailureCode.REVERSED
        self._ctx.emit(FlowFailed(reason, "the transfer was reversed: no cash moved"))
        return TransferOutcome(
            Outcome.FAILED if unanswered else Outcome.CANCELLED,
            op_id,
            authorization_id=auth_id,
            state=state,
            reason=reason,
            identity_verified=identified,
        )

    async def _print(self, op_id: str, auth_id: str, lines: list[str]) -> bool:
        if self._printer is None:
            return False
        self._to(TransferStep.PRINTING)
        self._working("printing the receipt")
        return await print_receipt_within(
            self._printer,
            self._journal,
            op_id=op_id,
            lines=lines,
            authorization_id=auth_id,
            ejournal=self._ej,
            timeout=self._ctx.timeouts.printer,
        )
