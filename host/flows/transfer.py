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
``FlowResult`` is emitted; an authorisation that is not committed is reversed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from host.card import KeyKind, PinKind
from host.client import (
    AccountType,
    CardProof,
    SessionPurpose,
    TransferState,
    TransferStatement,
)
from host.errors import (
    FlowCancelledError,
    FlowError,
    FlowRefusedError,
    MynaEdgeError,
    PeripheralError,
    ServiceError,
)
from host.flows.context import FlowContext, StepTimeouts, error_code
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
from host.flows.settle import FLOW, authorize_request_data, recover_transfers, settle_transfer
from host.journal import Effect, ElectronicJournal, Journal, Phase
from host.secret import Secret

__all__ = [
    "TransferFlow",
    "TransferOutcome",
    "TransferRequest",
    "TransferStep",
    "statement_text",
]

_log = logging.getLogger(__name__)


class TransferStep(StrEnum):
    """The states of the transfer flow."""

    START = "start"
    SESSION = "session"
    CONFIRM_STATEMENT = "confirm_statement"
    WAIT_CARD = "wait_card"
    ENTER_PASSWORD = "enter_password"  # noqa: S105 - a state name
    SIGNING = "signing"
    AUTHORIZING = "authorizing"
    CONFIRM_MONEY = "confirm_money"
    COMMITTING = "committing"
    REVERSING = "reversing"
    PRINTING = "printing"
    REMOVE_CARD = "remove_card"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class TransferRequest:
    """What the ATM application asks for: amount, payee and remitter."""

    amount_yen: int
    payee_bank_code: str
    payee_branch_code: str
    payee_account_type: AccountType
    payee_account_number: str
    payee_name: str
    remitter_name: str
    remitter_phone: str

    def __post_init__(self) -> None:
        # Bad input from the ATM application is refused before anything runs.
        digits = {"payee_bank_code": 4, "payee_branch_code": 3, "payee_account_number": 7}
        for name, length in digits.items():
            value = getattr(self, name)
            if len(value) != length or not value.isascii() or not value.isdigit():
                raise ValueError(f"{name} must be {length} digits")
        if not 1 <= self.amount_yen <= 999_999_999_999:
            raise ValueError("amount_yen must be 1 .. 999,999,999,999")
        if not 1 <= len(self.payee_name) <= 48 or not self.remitter_name:
            raise ValueError("payee_name (1-48 characters) and remitter_name are required")
        AccountType(self.payee_account_type)


@dataclass(frozen=True)
class TransferOutcome:
    """How a transfer run ended."""

    outcome: Outcome
    op_id: str
    authorization_id: str = ""
    state: TransferState = TransferState.UNSPECIFIED
    reason: str = ""
    identity_verified: bool = False
    receipt_printed: bool = False


async def _no_cash_moved(plan: object) -> bool:
    return False  # never asked: an unknown authorisation is reversed, not committed


def statement_text(s: TransferStatement) -> str:
    """The statement as shown to the user before signing."""
    return (
        f"Transfer JPY {s.amount_yen:,} to {s.payee_name} "
        f"(bank {s.payee_bank_code}, branch {s.payee_branch_code}, "
        f"{s.payee_account_type.value.lower()} {s.payee_account_number}) "
        f"from {s.remitter_name}, tel {s.remitter_phone}"
    )


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
    ) -> None:
        self.terminal_id = terminal_id
        self._verifier, self._card, self._user = verifier, card, user
        self._printer, self._journal, self._ej = printer, journal, ejournal
        self._ctx = FlowContext(emit, timeouts or StepTimeouts())
        self._threshold = threshold_yen
        self._request_id = request_id
        self._auth_id = ""  # set once the verifier authorised this run's transfer
        self._authorize_sent = False  # set once AuthorizeTransfer's intent is journaled
        self._decided = False  # set once commit/reverse is journaled as decided
        self._request: TransferRequest | None = None
        self.step = TransferStep.START
        self.history: list[TransferStep] = [self.step]

    def cancel(self) -> None:
        """Cancel at the next prompt or card step (never mid verifier call)."""
        self._ctx.cancel()

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
            payee_account=request.payee_account_number,
        )  # fmt: skip
        settled = False
        self._auth_id, self._decided, self._request = "", False, request
        self._authorize_sent = False
        try:
            outcome = await self._run(op_id, request)
            settled = True
        except FlowRefusedError as exc:
            outcome = TransferOutcome(Outcome.REFUSED, op_id, reason=exc.reason)
            self._fail(exc)
            settled = True
        except (MynaEdgeError, OSError) as exc:
            cancelled = isinstance(exc, FlowCancelledError)
            outcome = TransferOutcome(
                Outcome.CANCELLED if cancelled else Outcome.FAILED, op_id, self._auth_id,
                reason=error_code(exc),
            )  # fmt: skip
            self._fail(exc)
        finally:
            await self._release()
        if self._authorize_sent and not self._auth_id and not settled:
            await self._resolve_unknown_authorization(op_id)
        if self._auth_id and not settled and not self._decided:
            # A decided commit that failed is never turned into a reversal:
            # recovery repeats the journaled decision with the same key.
            outcome = await self._reverse_after_failure(op_id, self._auth_id, outcome)
        self._ej_append(op_id, "TRANSFER-END", outcome=outcome.outcome.value, reason=outcome.reason)
        self._ctx.emit(FlowResult(FLOW, outcome.outcome, outcome.authorization_id, outcome.reason))
        return outcome

    def _fail(self, exc: BaseException) -> None:
        self._to(TransferStep.FAILED)
        self._ctx.emit(FlowFailed(error_code(exc), str(exc)))

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
        return TransferOutcome(outcome.outcome, op_id, auth_id, state, outcome.reason)

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
        self._journal.record(
            op_id, FLOW, Effect.TRANSFER_AUTHORIZE, Phase.INTENT, idempotency_key=key,
            data=authorize_request_data(session.session_id, statement, proof)
            | {"request_id": self._request_id},
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
                  "authorization_id": auth.authorization_id},
        )  # fmt: skip
        if not auth.accepted:
            self._ej_append(op_id, "TRANSFER-REFUSED", reason=auth.reason)
            raise FlowRefusedError(auth.reason)
        self._ej_append(
            op_id, "TRANSFER-AUTHORIZED", authorization=auth.authorization_id,
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
        text = statement_text(statement)
        agreed = await self._ask_confirm(Prompt(PromptKind.CONFIRM_STATEMENT, text))
        if not agreed:
            raise FlowCancelledError("the user declined the statement")
        self._to(TransferStep.WAIT_CARD)
        ctx.emit(Prompt(PromptKind.INSERT_CARD, "Place your My Number card on the reader"))
        await ctx.step("card", self._card.wait_card(t.insert_card), t.insert_card + 1.0)
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

    async def _settle(self, op_id: str, auth_id: str, identified: bool) -> TransferOutcome:
        ctx, t = self._ctx, self._ctx.timeouts
        self._to(TransferStep.CONFIRM_MONEY)
        moved = await self._ask_confirm(
            Prompt(PromptKind.CONFIRM_MONEY_MOVED, "Did the cash move?")
        )
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
        printed = await self._print(op_id, auth_id, state) if moved else False
        self._to(TransferStep.REMOVE_CARD)
        ctx.emit(RemoveCard())
        self._to(TransferStep.DONE)
        outcome = Outcome.COMPLETED if moved else Outcome.CANCELLED
        return TransferOutcome(outcome, op_id, auth_id, state, "", identified, printed)

    async def _print(self, op_id: str, auth_id: str, state: TransferState) -> bool:
        if self._printer is None:
            return False
        self._to(TransferStep.PRINTING)
        self._ctx.emit(Working("printing the receipt"))
        r = self._request
        lines = [
            "MYNA-EDGE TRANSFER",
            f"TERMINAL {self.terminal_id}",
            f"AMOUNT JPY {r.amount_yen:,}" if r else "",
            f"PAYEE {r.payee_bank_code}-{r.payee_branch_code} {r.payee_account_number}"
            if r
            else "",
            r.payee_name if r else "",
            f"REF {auth_id}",
            f"STATE {state.value}",
        ]
        lines = [line for line in lines if line]
        self._journal.record(op_id, FLOW, Effect.RECEIPT_PRINT, Phase.INTENT, data={"ref": auth_id})
        try:
            await self._ctx.step(
                "printing", self._printer.print_lines(lines, qr=auth_id),
                self._ctx.timeouts.printer, cancellable=False,
            )  # fmt: skip
        except (PeripheralError, FlowError) as exc:
            # The money moved; a missing receipt is reported, not rolled back.
            self._journal.record(
                op_id, FLOW, Effect.RECEIPT_PRINT, Phase.OUTCOME, data={"printed": False}
            )
            self._ej_append(op_id, "RECEIPT-FAILED", reason=error_code(exc))
            return False
        self._journal.record(
            op_id, FLOW, Effect.RECEIPT_PRINT, Phase.OUTCOME, data={"printed": True}
        )
        self._ej_append(op_id, "RECEIPT-PRINTED", reference=auth_id)
        return True
