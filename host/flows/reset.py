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
(``no_signing_certificate``, no try spent). A smartphone's PIN and password
are set and reset on the phone: one is refused as soon as it answers, before
any prompt (``managed_on_phone``, no try spent; the message says where to go).
RESET RETRY COUNTER and
ConfirmReset are journaled before and after; a crash between them is
reconciled from ``Journal.unknown_resets``.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Final, Protocol

from host.card import CredentialKind, KeyKind, PinKind
from host.client import (
    CardProof,
    Redemption,
    ResetOperation,
    SessionPurpose,
    VerifierSession,
    card_challenge_digest,
)
from host.errors import (
    FlowRefusedError,
    ManagedOnPhoneError,
    MynaEdgeError,
    PinPolicyError,
    ServiceError,
    StepTimeoutError,
)
from host.flows.codes import FailureCode, RefusalReason, refusal_reason
from host.flows.context import StepTimeouts
from host.flows.events import Event, Outcome, Prompt, PromptKind
from host.flows.machine import Ending, FlowMachine
from host.flows.on_device import present
from host.flows.pin_entry import ask_new_secret
from host.flows.ports import CardPort, UserPort
from host.journal import Effect, ElectronicJournal, Journal, Phase
from host.journal.records import CREDENTIAL_KIND, JsonValue
from host.prompt_texts import PromptKey, prompt_text
from host.secret import Secret

__all__ = ["PinResetFlow", "ResetOutcome", "ResetStep", "ResetVerifier"]

_log = logging.getLogger(__name__)

FLOW = "reset"
_MAX_REDEEM_ROUNDS: Final = 4  # the verifier allows 3 OTP attempts by default


@dataclass(frozen=True)
class _Direction:
    """One reset direction: what proves the card, and what is set anew."""

    op_byte: int  # RESET RETRY COUNTER's operation (issuer_reset.RESET_TARGETS)
    proof_pin: PinKind  # the secret the user did not forget
    proof_key: KeyKind  # the key it unlocks, which signs the challenge
    new_kind: PinKind  # the secret being reset

    @property
    def prompt(self) -> PromptKind:
        """The prompt for ``proof_pin``."""
        return (
            PromptKind.AUTH_PIN if self.proof_pin is PinKind.AUTH else PromptKind.SIGNING_PASSWORD
        )


_DIRECTIONS: Final = {
    ResetOperation.SIGNING_PASSWORD: _Direction(
        op_byte=1, proof_pin=PinKind.AUTH, proof_key=KeyKind.AUTH, new_kind=PinKind.SIGN
    ),
    ResetOperation.AUTHENTICATION_PIN: _Direction(
        op_byte=2, proof_pin=PinKind.SIGN, proof_key=KeyKind.SIGN, new_kind=PinKind.AUTH
    ),
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

    @property
    def reference(self) -> str:
        """The reservation id (empty when the reset stopped before it)."""
        return self.reservation_id


class PinResetFlow(FlowMachine[ResetStep, ResetOutcome]):
    """One reset at a time on one kiosk.

    Args:
        verifier, card, user: the ports; ``journal``/``ejournal`` as in every flow.
        emit: receives every ``Event``.
        ask_otp_first: the kiosk's policy says an OTP is needed (saves a round).
        hours: the kiosk's opening hours (local ``(open, close)``); resets
            outside them are refused with ``OUTSIDE_KIOSK_HOURS``. None = always.
        clock: local time now (tests inject one).
    """

    flow: ClassVar[str] = FLOW
    steps = ResetStep

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
        super().__init__(
            card=card, user=user, journal=journal, emit=emit, ejournal=ejournal, timeouts=timeouts
        )
        self._verifier = verifier
        self._otp_first = ask_otp_first
        self._hours, self._clock = hours, clock
        self._otp: Secret | None = None  # set only during the redemption
        self._op_id = ""
        self._operation = ResetOperation.SIGNING_PASSWORD
        self._credential: CredentialKind | None = None

    async def run(self, operation: ResetOperation) -> ResetOutcome:
        """Run to the end; failures are events and the outcome, not exceptions.

        Raises:
            JournalError: the journal cannot be written.
        """
        self._op_id, self._operation = Journal.new_op_id(), ResetOperation(operation)
        self._credential = None
        return await self.drive(self._op_id, self._steps(self._op_id, self._operation))

    def _stopped(self, ending: Ending) -> ResetOutcome:
        if ending.outcome is Outcome.REFUSED:
            return ResetOutcome(ending.outcome, self._op_id, reason=ending.reason)
        # A new secret that keeps breaking the card's rules is the user's to fix.
        policy = isinstance(ending.error, PinPolicyError)
        reason = FailureCode.PIN_POLICY if policy else ending.reason
        pin = _DIRECTIONS[self._operation].proof_pin
        return ResetOutcome(ending.outcome, self._op_id, reason=reason, pin=pin)

    def _end_facts(self, outcome: ResetOutcome) -> Mapping[str, JsonValue]:
        return {
            "operation": self._operation.value,
            "outcome": outcome.outcome.value,
            "reason": outcome.reason,
            "reservation": outcome.reservation_id or None,
            CREDENTIAL_KIND: self._credential.value if self._credential else None,
        }

    def _open_now(self) -> bool:
        if self._hours is None:
            return True
        start, end = self._hours
        now = self._clock().time()
        # A window past midnight (22:00-02:00) wraps around.
        return start <= now < end if start <= end else (now >= start or now < end)

    async def _ask_otp(self, attempts_left: int | None = None) -> Secret:
        # After a wrong OTP the prompt carries the verifier's attempts left,
        # so the screen can say the code was refused and how many tries remain.
        self._to(ResetStep.ENTER_OTP)
        text = prompt_text(PromptKey.ONE_TIME_PASSWORD)
        prompt = Prompt(
            PromptKind.ONE_TIME_PASSWORD, text.en, tries_left=attempts_left, message=text
        )
        self._ctx.emit(prompt)
        return await self._ctx.step("OTP", self._user.secret(prompt), self._ctx.timeouts.prompt)

    def _drop_otp(self) -> None:
        if self._otp is not None:  # the OTP lives only as long as the redemption
            self._otp.wipe()
            self._otp = None

    async def _steps(self, op_id: str, operation: ResetOperation) -> ResetOutcome:
        if not self._open_now():
            raise FlowRefusedError(RefusalReason.OUTSIDE_KIOSK_HOURS)
        self._to(ResetStep.WAIT_CARD)
        await self._wait_card()
        credential = await present(self._ctx, self._card)
        self._credential = credential.kind
        if not credential.secrets_at_terminal:
            raise ManagedOnPhoneError("a smartphone's PIN and password are reset on the phone")
        self._to(ResetStep.CERTIFICATES)
        await self._require_signing_certificate()
        card_id = await self._ctx.step("card id", self._card.card_id(), self._ctx.timeouts.card)
        self._otp = await self._ask_otp() if self._otp_first else None
        try:
            redemption = await self._redeem(op_id, operation, card_id)
        finally:
            self._drop_otp()
        return await self._reset(op_id, operation, redemption)

    async def _redeem(self, op_id: str, operation: ResetOperation, card_id: bytes) -> Redemption:
        for round_no in range(_MAX_REDEEM_ROUNDS):
            answer = await self._redeem_once(
                op_id, operation=operation, card_id=card_id, round_no=round_no
            )
            if answer.accepted:
                return answer
            reason = refusal_reason(answer.reason)
            wrong = reason is RefusalReason.OTP_WRONG and answer.attempts_left > 0
            if not (wrong or reason is RefusalReason.OTP_REQUIRED):
                raise FlowRefusedError(answer.reason)
            self._drop_otp()
            self._otp = await self._ask_otp(answer.attempts_left if wrong else None)
        raise FlowRefusedError(RefusalReason.TOO_MANY_ATTEMPTS)

    async def _redeem_once(
        self, op_id: str, *, operation: ResetOperation, card_id: bytes, round_no: int
    ) -> Redemption:
        # Each round needs a fresh session and proof: the verifier consumes the nonce.
        direction = _DIRECTIONS[operation]
        self._to(ResetStep.SESSION)
        self._working("opening a verifier session")
        session_key = f"{op_id}.session.{round_no}"
        session = await self._call(
            "open session", self._verifier.open_session(SessionPurpose.PIN_RESET, session_key)
        )
        self._to(ResetStep.CHALLENGE)
        challenge = await self._ctx.step(
            "challenge", self._card.get_challenge(), self._ctx.timeouts.card
        )
        digest = card_challenge_digest(
            SessionPurpose.PIN_RESET,
            self._verifier.terminal_id,
            session.nonce,
            (card_id, challenge),
        )
        proof = await self._use_secret(
            pin=direction.proof_pin,
            prompt=direction.prompt,
            text="Enter the secret you did not forget",
            action=functools.partial(self._card.prove, direction.proof_key, digest),
            working="the card is proving itself",
            entering=ResetStep.ENTER_OTHER_SECRET,
        )
        self._to(ResetStep.REDEEMING)
        self._working("redeeming the reset booking")
        key = f"{op_id}.redeem.{round_no}"
        intent: dict[str, JsonValue] = {
            "operation": operation.value,
            "with_code": self._otp is not None,
        }
        self._record(op_id, Effect.RESET_REDEEM, Phase.INTENT, key=key, data=intent)
        redeem = self._verifier.redeem_reset(
            session.session_id,
            operation,
            proof,
            card_challenge=challenge,
            card_id=card_id,
            one_time_password=self._otp,
            idempotency_key=key,
        )
        answer = await self._call("redeem", redeem)
        outcome: dict[str, JsonValue] = {
            "accepted": answer.accepted,
            "reason": answer.reason,
            "reservation_id": answer.reservation_id,
            "attempts_left": answer.attempts_left,
        }
        self._record(op_id, Effect.RESET_REDEEM, Phase.OUTCOME, key=key, data=outcome)
        return answer

    async def _reset(
        self, op_id: str, operation: ResetOperation, redemption: Redemption
    ) -> ResetOutcome:
        direction = _DIRECTIONS[operation]
        reservation = redemption.reservation_id
        new = await ask_new_secret(
            self._ctx,
            self._user,
            direction.new_kind,
            on_prompt=lambda: self._to(ResetStep.NEW_SECRET),
        )
        with new:
            self._to(ResetStep.RESETTING)
            self._working("the card is taking the new secret")
            intent: dict[str, JsonValue] = {
                "reservation_id": reservation,
                "operation": operation.value,
            }
            self._record(op_id, Effect.RESET_CARD, Phase.INTENT, data=intent)
            reset = self._card.issuer_reset(direction.op_byte, redemption.issuer_authorization, new)
            failure: MynaEdgeError | None = None
            try:
                await self._call("reset", reset, timeout=self._ctx.timeouts.card)
            except MynaEdgeError as exc:
                failure = exc
        succeeded = failure is None
        card_outcome: dict[str, JsonValue] = {"reservation_id": reservation, "succeeded": succeeded}
        self._record(op_id, Effect.RESET_CARD, Phase.OUTCOME, data=card_outcome)
        recorded = await self._confirm(op_id, reservation, succeeded)
        if failure is not None:
            raise failure
        self._remove_card()
        return ResetOutcome(
            Outcome.COMPLETED, op_id, reservation_id=reservation, confirmed=recorded
        )

    async def _confirm(self, op_id: str, reservation: str, succeeded: bool) -> bool:
        self._to(ResetStep.CONFIRMING)
        key = f"{op_id}.reset.confirm"
        self._record(op_id, Effect.RESET_CONFIRM, Phase.INTENT, key=key)
        try:
            recorded = await self._call(
                "confirm", self._verifier.confirm_reset(reservation, succeeded, key)
            )
        except (ServiceError, StepTimeoutError) as exc:
            # The card has answered and that answer is journaled: recovery
            # confirms it later with the same key. The user must hear what
            # the card did (a new secret in force), not that the network failed.
            _log.warning("reset %s: confirmation left to recovery: %s", op_id, exc)
            return False
        outcome: dict[str, JsonValue] = {"recorded": recorded, "succeeded": succeeded}
        self._record(op_id, Effect.RESET_CONFIRM, Phase.OUTCOME, key=key, data=outcome)
        return recorded
