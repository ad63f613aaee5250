# SPDX-License-Identifier: Apache-2.0
"""The identity-verified transfer (ATM) as an explicit state machine.

States, in order (``TransferStep``)::

    SESSION -> [CONFIRM_STATEMENT -> WAIT_CARD -> ENTER_PASSWORD -> SIGNING]
            -> AUTHORIZING -> CONFIRM_MONEY -> COMMITTING | REVERSING
            -> PRINTING -> REMOVE_CARD -> DONE            (any -> FAILED)

The bracketed steps run only over the threshold (¥100,000 by default, the
verifier's policy being authoritative): the user sees the exact statement,
presents the card and types the signing password; the card signs
SHA-256 of the canonical statement (``TransferStatement.to_bytes``). Every
verifier side effect is journaled before and after (``settle``), so a crash
at any point is resolved exactly once by ``recover_transfers``. Whatever
happens, the password is wiped, the card session is released and one
``FlowResult`` is emitted.

After the authorisation the flow never decides the cash question by itself
(issue 23.1, ``cash``): the ATM application's answer decides, on the prompt
or, when none comes there, through the recovery desk's ``RecoveryPrompt``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from host.card import KeyKind, PinKind
from host.client import CardProof, SessionPurpose, TransferState, TransferStatement
from host.errors import (
    FlowCancelledError,
    FlowRefusedError,
    MynaEdgeError,
    NoSigningCertificateError,
    ServiceError,
)
from host.flows.cash import CashAnswer, CashQuestion, ask_cash_moved
from host.flows.context import FlowContext, StepTimeouts, error_code, failure_code
from host.flows.events import (
    Event,
    FlowFailed,
    FlowResult,
    Outcome,
    Prompt,
    PromptKind,
    RemoveCard,
    Working,
)
from host.flows.pin_entry import use_secret
from host.flows.ports import CardPort, PrinterPort, TransferVerifier, UserPort
from host.flows.receipt import print_receipt_within, receipt_lines
from host.flows.settle import FLOW, authorize_request_data, recover_transfers, settle_transfer
from host.flows.transfer_request import (
    TransferFieldError,
    TransferOutcome,
    TransferRequest,
    TransferStep,
)
from host.journal import Effect, ElectronicJournal, Journal, Phase, TransferRecovery
from host.journal.records import JsonValue
from host.messages import Language, PromptKey, prompt_text, statement_message
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


async def _no_cash_moved(plan: object) -> bool:
    return False  # never asked: an unknown authorisation is reversed, not committed


def statement_text(s: TransferStatement) -> str:
    """The statement as shown to the user before signing (English; see ``statement_message``)."""
    return statement_message(s).en


class TransferFlow:
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
    """

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
        self.terminal_id = terminal_id
        self._verifier, self._card, self._user = verifier, card, user
        self._printer, self._journal, self._ej = printer, journal, ejournal
        self._ctx = FlowContext(emit, timeouts or StepTimeouts())
        self._threshold = threshold_yen
        self._request_id = request_id
        self._cash_question = cash_question
        self._language = Language(language)
        self._authorize_data: dict[str, JsonValue] = {}
        self._identified = False  # the verifier recorded the holder's identity
        self._cash_asked = False  # the ATM application was asked whether cash moved
        self._auth_id = ""  # set once the verifier authorised this run's transfer
        self._authorize_sent = False  # set once AuthorizeTransfer's intent is journaled
        self._decided = False  # set once commit/reverse is journaled as decided
        self._request: TransferRequest | None = None
        self.step = TransferStep.START
        self.history: list[TransferStep] = [self.step]

    def cancel(self) -> None:
        """Cancel at the next prompt or card step (never mid verifier call).

        Once the transfer is authorised a cancel no longer ends it: the cash
        question goes to the recovery desk instead (never decided here).
        """
        self._ctx.cancel()

    @property
    def cash_handling(self) -> bool:
        """Whether AuthorizeTransfer was sent: the command's timeout no longer applies."""
        return self._authorize_sent

    def _to(self, step: TransferStep) -> None:
        _log.debug("transfer %s -> %s", self.step.value, step.value)
        self.step = step
        self.history.append(step)

    def _ej_append(self, op_id: str, event: str, **facts: str | int | bool | None) -> None:
        if self._ej is not None:
            self._ej.append(op_id, event, **facts)

    async def run(self, request: TransferRequest) -> TransferOutcome:
        """Run the flow to its end; never raises for flow failures (see the events).

        Raises:
            JournalError: the journal cannot be written (nothing further is sent).
        """
        op_id = Journal.new_op_id()
        self._ej_append(
            op_id, "TRANSFER-START", amount_yen=request.amount_yen,
            payee_bank=request.payee_bank_code, payee_branch=request.payee_branch_code,
            payee_account=request.payee_account_number, request_id=self._request_id or None,
        )  # fmt: skip
        _log.info("transfer %s runs ATM request %s", op_id, self._request_id or "-")
        settled = False
        self._auth_id, self._decided, self._request = "", False, request
        self._authorize_sent = self._identified = self._cash_asked = False
        try:
            outcome = await self._run(op_id, request)
            settled = True
        except FlowRefusedError as exc:
            outcome = TransferOutcome(
                Outcome.REFUSED, op_id, reason=exc.reason, identity_verified=self._identified
            )
            self._fail(exc)
            settled = True
        except (MynaEdgeError, OSError) as exc:
            cancelled = isinstance(exc, FlowCancelledError)
            outcome = TransferOutcome(
                Outcome.CANCELLED if cancelled else Outcome.FAILED, op_id, self._auth_id,
                reason=error_code(exc), identity_verified=self._identified,
            )  # fmt: skip
            self._fail(exc)
        finally:
            await self._release()
        if self._authorize_sent and not self._auth_id and not settled:
            await self._resolve_unknown_authorization(op_id)
        if self._auth_id and not settled and not self._decided and not self._cash_asked:
            # Failed before the ATM was ever asked to move cash: reversing is
            # safe. A decided commit that failed is never turned into a
            # reversal (recovery repeats the journaled decision), and an
            # asked, undecided question is left to recovery's question.
            outcome = await self._reverse_after_failure(op_id, self._auth_id, outcome)
        self._ej_append(
            op_id, "TRANSFER-END", outcome=outcome.outcome.value, reason=outcome.reason,
            request_id=self._request_id or None,
        )  # fmt: skip
        self._ctx.emit(FlowResult(FLOW, outcome.outcome, outcome.authorization_id, outcome.reason))
        return outcome

    def _fail(self, exc: BaseException) -> None:
        self._to(TransferStep.FAILED)
        self._ctx.emit(FlowFailed(failure_code(exc), str(exc)))

    async def _release(self) -> None:
        try:
            await self._card.release()
        except MynaEdgeError:
            _log.warning("card release failed", exc_info=True)

    async def _resolve_unknown_authorization(self, op_id: str) -> None:
        # The AuthorizeTransfer answer was lost (deadline, connection): ask
        # again with the same key and reverse what it says was authorised.
        try:
            await recover_transfers(
                self._journal, self._verifier, _no_cash_moved, ejournal=self._ej, only=op_id
            )
        except ServiceError:
            _log.warning("authorisation of %s still unknown; left to recovery", op_id)

    async def _reverse_after_failure(
        self, op_id: str, auth_id: str, outcome: TransferOutcome
    ) -> TransferOutcome:
        # Authorised but not settled (cancel or timeout at the confirmation,
        # a crash of the ATM application...): the money did not move.
        try:
            state = await settle_transfer(
                self._journal, self._verifier, op_id, auth_id, commit=False, ejournal=self._ej
            )
        except ServiceError:
            _log.warning("reversal of %s left to recovery", op_id)
            return outcome
        return TransferOutcome(
            outcome.outcome, op_id, auth_id, state, outcome.reason, self._identified
        )

    async def _run(self, op_id: str, request: TransferRequest) -> TransferOutcome:
        ctx, t = self._ctx, self._ctx.timeouts
        self._to(TransferStep.SESSION)
        ctx.emit(Working("opening a verifier session"))
        session = await ctx.step(
            "open session",
            self._verifier.open_session(SessionPurpose.TRANSFER, f"{op_id}.session"),
            t.service,
            cancellable=False,
        )
        statement = TransferStatement(
            session.nonce, self.terminal_id, request.amount_yen, request.payee_bank_code,
            request.payee_branch_code, request.payee_account_type, request.payee_account_number,
            request.payee_name, request.remitter_name, request.remitter_phone,
        )  # fmt: skip
        proof: CardProof | None = None
        if request.amount_yen > self._threshold:
            proof = await self._identify(statement)
        self._to(TransferStep.AUTHORIZING)
        ctx.emit(Working("authorising the transfer"))
        key = f"{op_id}.authorize"
        self._authorize_data = authorize_request_data(session.session_id, statement, proof) | {
            "request_id": self._request_id,
            "language": self._language.value,
        }
        self._journal.record(
            op_id, FLOW, Effect.TRANSFER_AUTHORIZE, Phase.INTENT, idempotency_key=key,
            data=self._authorize_data,
        )  # fmt: skip
        self._authorize_sent = True
        auth = await ctx.step(
            "authorise",
            self._verifier.authorize_transfer(session.session_id, statement, proof, key),
            t.service,
            cancellable=False,
        )
        self._journal.record(
            op_id, FLOW, Effect.TRANSFER_AUTHORIZE, Phase.OUTCOME, idempotency_key=key,
            data={"accepted": auth.accepted, "reason": auth.reason,
                  "authorization_id": auth.authorization_id,
                  "identity_verified": auth.identity_verified},
        )  # fmt: skip
        self._identified = auth.identity_verified
        if not auth.accepted:
            self._ej_append(op_id, "TRANSFER-REFUSED", reason=auth.reason)
            raise FlowRefusedError(auth.reason)
        self._ej_append(
            op_id, "TRANSFER-AUTHORIZED", authorization=auth.authorization_id,
            request_id=self._request_id or None,
            identity_verified=auth.identity_verified,
            certificate_serial=auth.identity.certificate_serial if auth.identity else None,
        )  # fmt: skip
        self._auth_id = auth.authorization_id
        return await self._settle(op_id, auth.authorization_id, auth.identity_verified)

    async def _ask_confirm(self, prompt: Prompt) -> bool:
        self._ctx.emit(prompt)
        return await self._ctx.step(
            prompt.kind.value, self._user.confirm(prompt), self._ctx.timeouts.prompt
        )

    async def _identify(self, statement: TransferStatement) -> CardProof:
        ctx, t = self._ctx, self._ctx.timeouts
        self._to(TransferStep.CONFIRM_STATEMENT)
        text = statement_message(statement)  # both languages, from the signed fields
        agreed = await self._ask_confirm(
            Prompt(PromptKind.CONFIRM_STATEMENT, text.en, message=text)
        )
        if not agreed:
            raise FlowCancelledError("the user declined the statement")
        self._to(TransferStep.WAIT_CARD)
        insert = prompt_text(PromptKey.INSERT_CARD)
        ctx.emit(Prompt(PromptKind.INSERT_CARD, insert.en, message=insert))
        await ctx.step("card", self._card.wait_card(t.insert_card), t.insert_card + 1.0)
        # A holder under 15 has no signing certificate: learnt from the card
        # (EF 0008) before the password is asked for, so no try is spent.
        if not await ctx.step("certificates", self._card.has_certificate(KeyKind.SIGN), t.card):
            raise NoSigningCertificateError("the card has no signing certificate")
        digest = statement.digest()
        return await use_secret(
            ctx, self._card, self._user, PinKind.SIGN, PromptKind.SIGNING_PASSWORD,
            "Enter your signing password",
            lambda secret: self._sign(digest, secret),
            working="the card is signing the statement",
            on_prompt=self._entering,
        )  # fmt: skip

    def _entering(self) -> None:
        self._to(TransferStep.ENTER_PASSWORD)

    async def _sign(self, digest: bytes, secret: Secret) -> CardProof:
        self._to(TransferStep.SIGNING)
        return await self._card.prove(KeyKind.SIGN, digest, secret)

    async def _cash_moved(self, op_id: str, auth_id: str) -> tuple[bool | None, str]:
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
            self._ctx, self._user, self._cash_question, plan, on_unanswered=to_recovery
        )

    async def _settle(self, op_id: str, auth_id: str, identified: bool) -> TransferOutcome:
        ctx, t = self._ctx, self._ctx.timeouts
        self._to(TransferStep.CONFIRM_MONEY)
        answer, how = await self._cash_moved(op_id, auth_id)
        if answer is None and how is CashAnswer.LEFT_TO_RECOVERY:
            self._to(TransferStep.FAILED)
            ctx.emit(FlowFailed("cash_unconfirmed", "the cash question is left to recovery"))
            return TransferOutcome(
                Outcome.FAILED, op_id, auth_id, TransferState.AUTHORIZED,
                "cash_unconfirmed", identified,
            )  # fmt: skip
        moved = bool(answer)
        self._to(TransferStep.COMMITTING if moved else TransferStep.REVERSING)
        ctx.emit(Working("committing" if moved else "reversing"))
        self._decided = True
        state = await ctx.step(
            "settle",
            settle_transfer(
                self._journal, self._verifier, op_id, auth_id, commit=moved, ejournal=self._ej
            ),
            t.service * 2,
            cancellable=False,
        )
        lines: tuple[str, ...] = ()
        printed = False
        if moved:
            lines = tuple(receipt_lines(self._authorize_data, auth_id, state, reprint=False))
            printed = await self._print(op_id, auth_id, list(lines))
        self._to(TransferStep.REMOVE_CARD)
        ctx.emit(RemoveCard())
        self._to(TransferStep.DONE)
        if moved:
            return TransferOutcome(
                Outcome.COMPLETED, op_id, auth_id, state, "", identified, printed, lines
            )
        # Declined (answered "no"), or nobody answered the recovery question
        # in time: reversed either way, and the code says so.
        unanswered = how is CashAnswer.UNANSWERED
        reason = "reversed_unanswered" if unanswered else "reversed"
        outcome = Outcome.FAILED if unanswered else Outcome.CANCELLED
        ctx.emit(FlowFailed(reason, "the transfer was reversed: no cash moved"))
        return TransferOutcome(outcome, op_id, auth_id, state, reason, identified)

    async def _print(self, op_id: str, auth_id: str, lines: list[str]) -> bool:
        if self._printer is None:
            return False
        self._to(TransferStep.PRINTING)
        self._ctx.emit(Working("printing the receipt"))
        return await print_receipt_within(
            self._printer, self._journal, op_id, lines, authorization_id=auth_id,
            ejournal=self._ej, timeout=self._ctx.timeouts.printer,
        )  # fmt: skip
