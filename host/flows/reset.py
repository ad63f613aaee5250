# SPDX-License-Identifier: Apache-2.0
"""The PIN-reset flow (convenience-store kiosk) as an explicit state machine.

States (``ResetStep``)::

    WAIT_CARD -> [CERTIFICATES] -> SESSION -> CHALLENGE -> ENTER_OTHER_SECRET -> PROVING
      -> REDEEMING [-> ENTER_OTP -> SESSION ...] -> NEW_SECRET -> RESETTING
      -> CONFIRMING -> REMOVE_CARD -> DONE                    (any -> FAILED)

Both directions: a new signing password proven with the user-authentication
key (4-digit PIN), or a new authentication PIN proven with the signing key
(password). The card's challenge and its issuer id are bound into the
proof, so the verifier's issuer authorisation fits only this card and this
challenge. The OTP is asked only when the verifier's policy needs it: when
``ask_otp_first`` is set (the kiosk's configuration mirrors the policy), or
when the verifier answers OTP_REQUIRED / OTP_WRONG — each new attempt needs
a fresh session and proof, since the verifier consumes the nonce. The new
secret is typed twice and checked against the card's rule before the card
is touched. Both directions need the signing key pair, so a card without a
signing certificate (under 15; EF 0008, no PIN) is refused before any prompt
(``no_signing_certificate``, no try spent). RESET RETRY COUNTER and
ConfirmReset are journaled before and after; a crash between them is
reconciled from ``Journal.unknown_resets``.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Protocol

from host.card import KeyKind, PinKind
from host.card.pin_policy import normalize_pin
from host.client import (
    CardProof,
    Redemption,
    ResetOperation,
    SessionPurpose,
    VerifierSession,
    card_challenge_digest,
)
from host.errors import (
    FlowCancelledError,
    FlowRefusedError,
    MynaEdgeError,
    NoSigningCertificateError,
    PinPolicyError,
    ServiceError,
    StepTimeoutError,
)
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
from host.flows.ports import CardPort, UserPort
from host.journal import Effect, ElectronicJournal, Journal, Phase
from host.messages import PromptKey, new_secret_texts, prompt_text
from host.secret import Secret

__all__ = ["PinResetFlow", "ResetOutcome", "ResetStep", "ResetVerifier"]

_log = logging.getLogger(__name__)

FLOW = "reset"
_MAX_REDEEM_ROUNDS: Final = 4  # the verifier allows 3 OTP attempts by default
_MAX_NEW_SECRET_ROUNDS: Final = 3
# operation -> (proto byte, the secret that proves the card, the key it unlocks, the new secret)
_DIRECTIONS: Final = {
    ResetOperation.SIGNING_PASSWORD: (1, PinKind.AUTH, KeyKind.AUTH, PinKind.SIGN),
    ResetOperation.AUTHENTICATION_PIN: (2, PinKind.SIGN, KeyKind.SIGN, PinKind.AUTH),
}


class ResetVerifier(Protocol):
    """The verifier calls of the reset flow (``VerifierClient`` has them)."""

    @property
    def terminal_id(self) -> str: ...

    async def open_session(
        self, purpose: SessionPurpose, idempotency_key: str, *, timeout: float | None = None
    ) -> VerifierSession: ...

    async def redeem_reset(
        self,
        session_id: str,
        operation: ResetOperation,
        proof: CardProof,
        *,
        card_challenge: bytes,
        card_id: bytes,
        one_time_password: Secret | None,
        idempotency_key: str,
        timeout: float | None = None,
    ) -> Redemption: ...

    async def confirm_reset(
        self,
        reservation_id: str,
        succeeded: bool,
        idempotency_key: str,
        *,
        timeout: float | None = None,
    ) -> bool: ...


class ResetStep(StrEnum):
    """The states of the PIN-reset flow."""

    START = "start"
    WAIT_CARD = "wait_card"
    CERTIFICATES = "certificates"
    SESSION = "session"
    CHALLENGE = "challenge"
    ENTER_OTHER_SECRET = "enter_other_secret"  # noqa: S105 - a state name
    PROVING = "proving"
    REDEEMING = "redeeming"
    ENTER_OTP = "enter_otp"
    NEW_SECRET = "new_secret"  # noqa: S105 - a state name
    RESETTING = "resetting"
    CONFIRMING = "confirming"
    REMOVE_CARD = "remove_card"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class ResetOutcome:
    """How a reset ended."""

    outcome: Outcome
    op_id: str
    reservation_id: str = ""
    reason: str = ""
    confirmed: bool = False
    #: The secret a ``pin_blocked`` failure concerns (the one that proves the card).
    pin: PinKind | None = None


class PinResetFlow:
    """One reset at a time on one kiosk.

    Args:
        verifier, card, user: the ports; ``journal``/``ejournal`` as in every flow.
        emit: receives every ``Event``.
        ask_otp_first: the kiosk's policy says an OTP is needed (saves a round).
        hours: the kiosk's opening hours (local ``(open, close)``); resets
            outside them are refused with ``OUTSIDE_KIOSK_HOURS``. None = always.
        clock: local time now (tests inject one).
    """

    def __init__(
        self,
        *,
        verifier: ResetVerifier,
        card: CardPort,
        user: UserPort,
        journal: Journal,
        emit: Callable[[Event], None],
        ejournal: ElectronicJournal | None = None,
        timeouts: StepTimeouts | None = None,
        ask_otp_first: bool = False,
        hours: tuple[dt.time, dt.time] | None = None,
        clock: Callable[[], dt.datetime] = dt.datetime.now,
    ) -> None:
        self._verifier, self._card, self._user = verifier, card, user
        self._journal, self._ej = journal, ejournal
        self._ctx = FlowContext(emit, timeouts or StepTimeouts())
        self._otp_first = ask_otp_first
        self._hours, self._clock = hours, clock
        self._otp: Secret | None = None  # set only during the redemption
        self.step = ResetStep.START
        self.history: list[ResetStep] = [self.step]

    def cancel(self) -> None:
        """Cancel at the next prompt or card step."""
        self._ctx.cancel()

    def _to(self, step: ResetStep) -> None:
        self.step = step
        self.history.append(step)

    async def run(self, operation: ResetOperation) -> ResetOutcome:
        """Run to the end; failures are events and the outcome, not exceptions.

        Raises:
            JournalError: the journal cannot be written.
        """
        op_id = Journal.new_op_id()
        try:
            if not self._open_now():
                raise FlowRefusedError("OUTSIDE_KIOSK_HOURS")
            outcome = await self._run(op_id, ResetOperation(operation))
        except FlowRefusedError as exc:
            outcome = self._failed(op_id, exc, Outcome.REFUSED, exc.reason)
        except (MynaEdgeError, OSError) as exc:
            kind = Outcome.CANCELLED if isinstance(exc, FlowCancelledError) else Outcome.FAILED
            # A new secret that keeps breaking the card's rules is the user's to fix.
            reason = "pin_policy" if isinstance(exc, PinPolicyError) else error_code(exc)
            outcome = self._failed(op_id, exc, kind, reason, _DIRECTIONS[operation][1])
        finally:
            try:
                await self._card.release()
            except MynaEdgeError:
                _log.warning("card release failed", exc_info=True)
        if self._ej is not None:
            self._ej.append(
                op_id, "RESET-END", operation=operation.value, outcome=outcome.outcome.value,
                reason=outcome.reason, reservation=outcome.reservation_id or None,
            )  # fmt: skip
        self._ctx.emit(FlowResult(FLOW, outcome.outcome, outcome.reservation_id, outcome.reason))
        return outcome

    def _open_now(self) -> bool:
        if self._hours is None:
            return True
        start, end = self._hours
        now = self._clock().time()
        # A window past midnight (22:00-02:00) wraps around.
        return start <= now < end if start <= end else (now >= start or now < end)

    def _failed(
        self, op_id: str, exc: BaseException, kind: Outcome, reason: str, pin: PinKind | None = None
    ) -> ResetOutcome:
        self._to(ResetStep.FAILED)
        self._ctx.emit(FlowFailed(failure_code(exc), str(exc)))
        return ResetOutcome(kind, op_id, reason=reason, pin=pin)

    async def _ask_otp(self, attempts_left: int | None = None) -> Secret:
        # After a wrong OTP the prompt carries the verifier's attempts left,
        # so the screen can say the code was refused and how many tries remain.
        self._to(ResetStep.ENTER_OTP)
        text = prompt_text(PromptKey.ONE_TIME_PASSWORD)
        prompt = Prompt(PromptKind.ONE_TIME_PASSWORD, text.en, attempts_left, message=text)
        self._ctx.emit(prompt)
        return await self._ctx.step("OTP", self._user.secret(prompt), self._ctx.timeouts.prompt)

    async def _run(self, op_id: str, operation: ResetOperation) -> ResetOutcome:
        ctx, t = self._ctx, self._ctx.timeouts
        self._to(ResetStep.WAIT_CARD)
        insert = prompt_text(PromptKey.INSERT_CARD)
        ctx.emit(Prompt(PromptKind.INSERT_CARD, insert.en, message=insert))
        await ctx.step("card", self._card.wait_card(t.insert_card), t.insert_card + 1.0)
        self._to(ResetStep.CERTIFICATES)
        if not await ctx.step("certificates", self._card.has_certificate(KeyKind.SIGN), t.card):
            raise NoSigningCertificateError("the card has no signing certificate")
        card_id = await ctx.step("card id", self._card.card_id(), t.card)
        self._otp = await self._ask_otp() if self._otp_first else None
        try:
            redemption = await self._redeem(op_id, operation, card_id)
        finally:
            if self._otp is not None:  # the OTP lives only as long as the redemption
                self._otp.wipe()
                self._otp = None
        return await self._reset(op_id, operation, redemption)

    async def _redeem(self, op_id: str, operation: ResetOperation, card_id: bytes) -> Redemption:
        ctx, t = self._ctx, self._ctx.timeouts
        _, proof_pin, proof_key, _ = _DIRECTIONS[operation]
        prompt_kind = (
            PromptKind.AUTH_PIN if proof_pin is PinKind.AUTH else PromptKind.SIGNING_PASSWORD
        )
        for round_no in range(_MAX_REDEEM_ROUNDS):
            self._to(ResetStep.SESSION)
            ctx.emit(Working("opening a verifier session"))
            session = await ctx.step(
                "open session",
                self._verifier.open_session(
                    SessionPurpose.PIN_RESET, f"{op_id}.session.{round_no}"
                ),
                t.service, cancellable=False,
            )  # fmt: skip
            self._to(ResetStep.CHALLENGE)
            challenge = await ctx.step("challenge", self._card.get_challenge(), t.card)
            digest = card_challenge_digest(
                SessionPurpose.PIN_RESET, self._verifier.terminal_id, session.nonce,
                (card_id, challenge),
            )  # fmt: skip
            proof = await use_secret(
                ctx, self._card, self._user, proof_pin, prompt_kind,
                "Enter the secret you did not forget",
                functools.partial(self._card.prove, proof_key, digest),
                working="the card is proving itself",
                on_prompt=lambda: self._to(ResetStep.ENTER_OTHER_SECRET),
            )  # fmt: skip
            self._to(ResetStep.REDEEMING)
            ctx.emit(Working("redeeming the reset booking"))
            key = f"{op_id}.redeem.{round_no}"
            self._journal.record(
                op_id, FLOW, Effect.RESET_REDEEM, Phase.INTENT, idempotency_key=key,
                data={"operation": operation.value, "with_code": self._otp is not None},
            )  # fmt: skip
            answer = await ctx.step(
                "redeem",
                self._verifier.redeem_reset(
                    session.session_id, operation, proof, card_challenge=challenge,
                    card_id=card_id, one_time_password=self._otp, idempotency_key=key,
                ),
                t.service, cancellable=False,
            )  # fmt: skip
            self._journal.record(
                op_id, FLOW, Effect.RESET_REDEEM, Phase.OUTCOME, idempotency_key=key,
                data={"accepted": answer.accepted, "reason": answer.reason,
                      "reservation_id": answer.reservation_id,
                      "attempts_left": answer.attempts_left},
            )  # fmt: skip
            if answer.accepted:
                return answer
            if answer.reason in ("OTP_REQUIRED", "OTP_WRONG") and (
                answer.reason == "OTP_REQUIRED" or answer.attempts_left > 0
            ):
                if self._otp is not None:
                    self._otp.wipe()
                    self._otp = None
                wrong = answer.reason == "OTP_WRONG"
                self._otp = await self._ask_otp(answer.attempts_left if wrong else None)
                continue
            raise FlowRefusedError(answer.reason)
        raise FlowRefusedError("TOO_MANY_ATTEMPTS")

    async def _new_secret(self, kind: PinKind) -> Secret:
        ctx, t = self._ctx, self._ctx.timeouts
        first_text, again_text = new_secret_texts(kind)
        for _ in range(_MAX_NEW_SECRET_ROUNDS):
            self._to(ResetStep.NEW_SECRET)
            first_prompt = Prompt(PromptKind.NEW_SECRET, first_text.en, message=first_text)
            ctx.emit(first_prompt)
            first = await ctx.step("new secret", self._user.secret(first_prompt), t.prompt)
            again_prompt = Prompt(PromptKind.NEW_SECRET, again_text.en, message=again_text)
            ctx.emit(again_prompt)
            try:
                second = await ctx.step(
                    "new secret again", self._user.secret(again_prompt), t.prompt
                )
            except BaseException:
                first.wipe()
                raise
            with second:
                try:
                    same = normalize_pin(kind, first, new=True) == normalize_pin(
                        kind, second, new=True
                    )
                except PinPolicyError:
                    first.wipe()
                    ctx.emit(Working("the new secret breaks the card's rules"))
                    continue
            if same:
                return first
            first.wipe()
            ctx.emit(Working("the two entries differ"))
        raise PinPolicyError("no acceptable new secret was entered")

    async def _reset(
        self, op_id: str, operation: ResetOperation, redemption: Redemption
    ) -> ResetOutcome:
        ctx, t = self._ctx, self._ctx.timeouts
        op_byte, _, _, new_kind = _DIRECTIONS[operation]
        reservation = redemption.reservation_id
        new = await self._new_secret(new_kind)
        with new:
            self._to(ResetStep.RESETTING)
            ctx.emit(Working("the card is taking the new secret"))
            self._journal.record(
                op_id, FLOW, Effect.RESET_CARD, Phase.INTENT,
                data={"reservation_id": reservation, "operation": operation.value},
            )  # fmt: skip
            succeeded = True
            try:
                await ctx.step(
                    "reset", self._card.issuer_reset(op_byte, redemption.issuer_authorization, new),
                    t.card, cancellable=False,
                )  # fmt: skip
            except MynaEdgeError as exc:
                succeeded = False
                failure: MynaEdgeError | None = exc
            else:
                failure = None
        self._journal.record(
            op_id, FLOW, Effect.RESET_CARD, Phase.OUTCOME,
            data={"reservation_id": reservation, "succeeded": succeeded},
        )  # fmt: skip
        self._to(ResetStep.CONFIRMING)
        key = f"{op_id}.reset.confirm"
        self._journal.record(op_id, FLOW, Effect.RESET_CONFIRM, Phase.INTENT, idempotency_key=key)
        try:
            recorded = await ctx.step(
                "confirm",
                self._verifier.confirm_reset(reservation, succeeded, key),
                t.service, cancellable=False,
            )  # fmt: skip
        except (ServiceError, StepTimeoutError) as exc:
            # The card has answered and that answer is journaled: recovery
            # confirms it later with the same key. The user must hear what
            # the card did (a new secret in force), not that the network failed.
            _log.warning("reset %s: confirmation left to recovery: %s", op_id, exc)
            recorded = False
        else:
            self._journal.record(
                op_id, FLOW, Effect.RESET_CONFIRM, Phase.OUTCOME, idempotency_key=key,
                data={"recorded": recorded, "succeeded": succeeded},
            )  # fmt: skip
        if failure is not None:
            raise failure
        self._to(ResetStep.REMOVE_CARD)
        ctx.emit(RemoveCard())
        self._to(ResetStep.DONE)
        return ResetOutcome(Outcome.COMPLETED, op_id, reservation, "", recorded)
