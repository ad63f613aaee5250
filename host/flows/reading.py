# SPDX-License-Identifier: Apache-2.0
"""The card-reading flow (kiosk, ATM) as an explicit state machine.

States (``ReadStep``)::

    WAIT_CARD -> [ENTER_PIN -> READING] -> [SESSION -> ENTER_AUTH_PIN -> PROVING
              -> VERIFYING] -> REMOVE_CARD -> DONE              (any -> FAILED)

Reading the basic four items needs the 4-digit card-info PIN; proving the
card to the verifier (VerifyCard) has the user-authentication key sign the
session's card challenge (``card_challenge_digest``), which needs the
4-digit authentication PIN. Each is optional. The VerifyCard call is
journaled before and after like every verifier side effect. Personal data
goes only into the returned ``ReadOutcome``, never into events or logs.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from host.card import BasicFour, CardInfo, KeyKind, PinKind
from host.client import CardProof, CardVerdict, SessionPurpose, card_challenge_digest
from host.errors import FlowCancelledError, FlowRefusedError, MynaEdgeError
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
from host.flows.ports import CardPort, CardVerifier, UserPort
from host.journal import Effect, ElectronicJournal, Journal, Phase
from host.messages import PromptKey, prompt_text
from host.secret import Secret

__all__ = ["CardReadingFlow", "ReadOutcome", "ReadRequest", "ReadStep"]

_log = logging.getLogger(__name__)

FLOW = "reading"


class ReadStep(StrEnum):
    """The states of the card-reading flow."""

    START = "start"
    WAIT_CARD = "wait_card"
    ENTER_PIN = "enter_pin"
    READING = "reading"
    SESSION = "session"
    ENTER_AUTH_PIN = "enter_auth_pin"
    PROVING = "proving"
    VERIFYING = "verifying"
    REMOVE_CARD = "remove_card"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class ReadRequest:
    """What to do with the card: read the basic four, prove it, or both."""

    read_basic_four: bool = True
    verify_card: bool = False

    def __post_init__(self) -> None:
        if not (self.read_basic_four or self.verify_card):
            raise ValueError("a reading must read the basic four or verify the card")


@dataclass(frozen=True)
class ReadOutcome:
    """How a reading ended; ``basic_four`` is personal data for the caller only."""

    outcome: Outcome
    op_id: str
    basic_four: BasicFour | None = None
    verdict: CardVerdict | None = None
    reason: str = ""
    #: The secret a ``pin_blocked`` failure concerns.
    pin: PinKind | None = None

    def __repr__(self) -> str:
        return (
            f"ReadOutcome({self.outcome.value}, op={self.op_id}, "
            f"basic_four={'<redacted>' if self.basic_four else None}, "
            f"verdict={self.verdict!r}, reason={self.reason!r})"
        )


class CardReadingFlow:
    """One reading at a time.

    Args:
        verifier: needed only for ``verify_card`` requests.
        card, user: the ports; ``journal``/``ejournal`` as in every flow.
        emit: receives every ``Event``.
    """

    def __init__(
        self,
        *,
        card: CardPort,
        user: UserPort,
        journal: Journal,
        emit: Callable[[Event], None],
        verifier: CardVerifier | None = None,
        ejournal: ElectronicJournal | None = None,
        timeouts: StepTimeouts | None = None,
    ) -> None:
        self._card, self._user, self._verifier = card, user, verifier
        self._journal, self._ej = journal, ejournal
        self._ctx = FlowContext(emit, timeouts or StepTimeouts())
        self.step = ReadStep.START
        self.history: list[ReadStep] = [self.step]

    def cancel(self) -> None:
        """Cancel at the next prompt or card step."""
        self._ctx.cancel()

    def _to(self, step: ReadStep) -> None:
        self.step = step
        self.history.append(step)

    async def run(self, request: ReadRequest) -> ReadOutcome:
        """Run to the end; failures are events and the outcome, not exceptions.

        Raises:
            ValueError: ``verify_card`` without a verifier.
            JournalError: the journal cannot be written.
        """
        if request.verify_card and self._verifier is None:
            raise ValueError("verify_card needs a verifier")
        op_id = Journal.new_op_id()
        try:
            outcome = await self._run(op_id, request)
        except FlowRefusedError as exc:
            outcome = self._failed(op_id, exc, Outcome.REFUSED, exc.reason)
        except (MynaEdgeError, OSError) as exc:
            cancelled = isinstance(exc, FlowCancelledError)
            kind = Outcome.CANCELLED if cancelled else Outcome.FAILED
            outcome = self._failed(op_id, exc, kind, error_code(exc))
            # The card-info PIN comes first; once a session is open, the auth PIN.
            proving = ReadStep.SESSION in self.history or not request.read_basic_four
            outcome = dataclasses.replace(outcome, pin=PinKind.AUTH if proving else PinKind.TEXT)
        finally:
            try:
                await self._card.release()
            except MynaEdgeError:
                _log.warning("card release failed", exc_info=True)
        if self._ej is not None:
            self._ej.append(
                op_id, "READING-END", outcome=outcome.outcome.value, reason=outcome.reason
            )
        self._ctx.emit(FlowResult(FLOW, outcome.outcome, op_id, outcome.reason))
        return outcome

    def _failed(self, op_id: str, exc: BaseException, kind: Outcome, reason: str) -> ReadOutcome:
        self._to(ReadStep.FAILED)
        self._ctx.emit(FlowFailed(failure_code(exc), str(exc)))
        return ReadOutcome(kind, op_id, reason=reason)

    async def _run(self, op_id: str, request: ReadRequest) -> ReadOutcome:
        ctx, t = self._ctx, self._ctx.timeouts
        self._to(ReadStep.WAIT_CARD)
        insert = prompt_text(PromptKey.INSERT_CARD)
        ctx.emit(Prompt(PromptKind.INSERT_CARD, insert.en, message=insert))
        await ctx.step("card", self._card.wait_card(t.insert_card), t.insert_card + 1.0)
        basic_four = None
        if request.read_basic_four:
            info = await use_secret(
                ctx, self._card, self._user, PinKind.TEXT, PromptKind.CARD_INFO_PIN,
                "Enter the 4-digit PIN for the card's text items",
                self._read, working="reading the card",
                on_prompt=lambda: self._to(ReadStep.ENTER_PIN),
            )  # fmt: skip
            basic_four = info.basic_four
        verdict = await self._verify(op_id) if request.verify_card else None
        self._to(ReadStep.REMOVE_CARD)
        ctx.emit(RemoveCard())
        self._to(ReadStep.DONE)
        if verdict is not None and not verdict.accepted:
            if self._ej is not None:
                self._ej.append(op_id, "CARD-REJECTED", reason=verdict.reason)
            # Like every other ending short of success: a failure event, named
            # as the completion names it (the verifier's reason).
            ctx.emit(FlowFailed(verdict.reason, "the verifier did not accept the card"))
            return ReadOutcome(Outcome.REFUSED, op_id, basic_four, verdict, verdict.reason)
        return ReadOutcome(Outcome.COMPLETED, op_id, basic_four, verdict)

    async def _read(self, pin: Secret) -> CardInfo:
        self._to(ReadStep.READING)
        return await self._card.read_card_info(pin)

    async def _verify(self, op_id: str) -> CardVerdict:
        ctx, t = self._ctx, self._ctx.timeouts
        verifier = self._verifier
        if verifier is None:  # run() checked it; keeps the type narrow
            raise ValueError("verify_card needs a verifier")
        self._to(ReadStep.SESSION)
        ctx.emit(Working("opening a verifier session"))
        session = await ctx.step(
            "open session",
            verifier.open_session(SessionPurpose.CARD_VERIFICATION, f"{op_id}.session"),
            t.service,
            cancellable=False,
        )
        digest = card_challenge_digest(
            SessionPurpose.CARD_VERIFICATION, verifier.terminal_id, session.nonce
        )
        proof: CardProof = await use_secret(
            ctx, self._card, self._user, PinKind.AUTH, PromptKind.AUTH_PIN,
            "Enter your 4-digit user-authentication PIN",
            lambda pin: self._card.prove(KeyKind.AUTH, digest, pin),
            working="the card is proving itself",
            on_prompt=lambda: self._to(ReadStep.ENTER_AUTH_PIN),
        )  # fmt: skip
        self._to(ReadStep.VERIFYING)
        ctx.emit(Working("checking the card with the verifier"))
        key = f"{op_id}.verify"
        self._journal.record(op_id, FLOW, Effect.CARD_VERIFY, Phase.INTENT, idempotency_key=key)
        verdict = await ctx.step(
            "verify card",
            verifier.verify_card(session.session_id, proof, key),
            t.service,
            cancellable=False,
        )
        self._journal.record(
            op_id, FLOW, Effect.CARD_VERIFY, Phase.OUTCOME, idempotency_key=key,
            data={"accepted": verdict.accepted, "reason": verdict.reason,
                  "certificate_serial": verdict.certificate_serial},
        )  # fmt: skip
        return verdict
