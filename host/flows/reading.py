# SPDX-License-Identifier: Apache-2.0
"""The card-reading flow (kiosk, ATM) as an explicit state machine.

States (``ReadStep``)::

    WAIT_CARD -> [ENTER_PIN -> READING] -> [SESSION -> ENTER_AUTH_PIN|APPROVE_ON_PHONE
              -> PROVING -> VERIFYING] -> REMOVE_CARD -> DONE   (any -> FAILED)

Reading the basic four items needs the 4-digit card-info PIN; proving the
card to the verifier (VerifyCard) has the user-authentication key sign the
session's card challenge (``card_challenge_digest``), which needs the
4-digit authentication PIN. Each is optional. A smartphone proves itself
the same way with its own certificate (Android: its own PIN; iPhone: the
holder approves on the phone, ``on_device``); it carries no basic four, so
those are read only from a card: a phone asked for them alone is refused
(``not_on_credential``) before any prompt, and a phone asked for both only
proves itself. The VerifyCard call is
journaled before and after like every verifier side effect. Personal data
goes only into the returned ``ReadOutcome``, never into events or logs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from host.card import BasicFour, CardInfo, CredentialKind, KeyKind, PinKind, UserVerification
from host.client import CardProof, CardVerdict, SessionPurpose, card_challenge_digest
from host.errors import NotOnCredentialError
from host.flows.context import StepTimeouts
from host.flows.events import Event, FlowFailed, Outcome, PromptKind
from host.flows.machine import Ending, FlowMachine
from host.flows.on_device import approve_on_device, present
from host.flows.ports import CardPort, CardVerifier, UserPort
from host.journal import Effect, ElectronicJournal, Journal, Phase
from host.journal.records import CREDENTIAL_KIND, JsonValue
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
    APPROVE_ON_PHONE = "approve_on_phone"
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
    #: What was presented (None when the run ended before a credential answered).
    credential: CredentialKind | None = None

    @property
    def reference(self) -> str:
        """The operation id (a reading has no verifier reference)."""
        return self.op_id

    def __repr__(self) -> str:
        return (
            f"ReadOutcome({self.outcome.value}, op={self.op_id}, "
            f"basic_four={'<redacted>' if self.basic_four else None}, "
            f"verdict={self.verdict!r}, reason={self.reason!r}, "
            f"credential={self.credential.value if self.credential else None})"
        )


class CardReadingFlow(FlowMachine[ReadStep, ReadOutcome]):
    """One reading at a time.

    Args:
        verifier: needed only for ``verify_card`` requests.
        card, user: the ports; ``journal``/``ejournal`` as in every flow.
        emit: receives every ``Event``.
    """

    flow: ClassVar[str] = FLOW
    steps = ReadStep

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
        super().__init__(
            card=card, user=user, journal=journal, emit=emit, ejournal=ejournal, timeouts=timeouts
        )
        self._verifier = verifier
        self._request = ReadRequest()
        self._op_id = ""
        self._credential: CredentialKind | None = None

    async def run(self, request: ReadRequest) -> ReadOutcome:
        """Run to the end; failures are events and the outcome, not exceptions.

        Raises:
            ValueError: ``verify_card`` without a verifier.
            JournalError: the journal cannot be written.
        """
        if request.verify_card and self._verifier is None:
            raise ValueError("verify_card needs a verifier")
        self._request, self._op_id = request, Journal.new_op_id()
        self._credential = None
        return await self.drive(self._op_id, self._steps(self._op_id, request))

    def _stopped(self, ending: Ending) -> ReadOutcome:
        kind = self._credential
        if ending.outcome is Outcome.REFUSED:
            return ReadOutcome(ending.outcome, self._op_id, reason=ending.reason, credential=kind)
        # The card-info PIN comes first; once a session is open, the auth PIN.
        proving = ReadStep.SESSION in self.history or not self._request.read_basic_four
        pin = PinKind.AUTH if proving else PinKind.TEXT
        return ReadOutcome(
            ending.outcome, self._op_id, reason=ending.reason, pin=pin, credential=kind
        )

    def _end_facts(self, outcome: ReadOutcome) -> Mapping[str, JsonValue]:
        kind = outcome.credential.value if outcome.credential else None
        return {"outcome": outcome.outcome.value, "reason": outcome.reason, CREDENTIAL_KIND: kind}

    async def _steps(self, op_id: str, request: ReadRequest) -> ReadOutcome:
        self._to(ReadStep.WAIT_CARD)
        await self._wait_card()
        credential = await present(self._ctx, self._card)
        self._credential = credential.kind
        if request.read_basic_four and not credential.basic_four and not request.verify_card:
            raise NotOnCredentialError("a smartphone carries no basic four items")
        basic_four = None
        if request.read_basic_four and credential.basic_four:
            info = await self._use_secret(
                pin=PinKind.TEXT,
                prompt=PromptKind.CARD_INFO_PIN,
                text="Enter the 4-digit PIN for the card's text items",
                action=self._read,
                working="reading the card",
                entering=ReadStep.ENTER_PIN,
            )
            basic_four = info.basic_four
        verdict = (
            await self._verify(op_id, credential.verification) if request.verify_card else None
        )
        self._remove_card()
        if verdict is not None and not verdict.accepted:
            self._ej_append(op_id, "CARD-REJECTED", reason=verdict.reason)
            # Like every other ending short of success: a failure event, named
            # as the completion names it (the verifier's reason).
            self._ctx.emit(FlowFailed(verdict.reason, "the verifier did not accept the card"))
            return ReadOutcome(
                Outcome.REFUSED,
                op_id,
                basic_four=basic_four,
                verdict=verdict,
                reason=verdict.reason,
                credential=credential.kind,
            )
        return ReadOutcome(
            Outcome.COMPLETED,
            op_id,
            basic_four=basic_four,
            verdict=verdict,
            credential=credential.kind,
        )

    async def _read(self, pin: Secret) -> CardInfo:
        self._to(ReadStep.READING)
        return await self._card.read_card_info(pin)

    async def _verify(self, op_id: str, verification: UserVerification) -> CardVerdict:
        verifier = self._verifier
        if verifier is None:  # run() checked it; keeps the type narrow
            raise ValueError("verify_card needs a verifier")
        self._to(ReadStep.SESSION)
        self._working("opening a verifier session")
        purpose = SessionPurpose.CARD_VERIFICATION
        session = await self._call(
            "open session", verifier.open_session(purpose, f"{op_id}.session")
        )
        digest = card_challenge_digest(purpose, verifier.terminal_id, session.nonce)
        proof: CardProof
        if verification is UserVerification.ON_DEVICE:
            proof = await approve_on_device(
                self._ctx,
                self._card,
                kind=KeyKind.AUTH,
                digest=digest,
                working="the phone is proving itself",
                on_prompt=lambda: self._to(ReadStep.APPROVE_ON_PHONE),
            )
        else:
            proof = await self._use_secret(
                pin=PinKind.AUTH,
                prompt=PromptKind.AUTH_PIN,
                text="Enter your 4-digit user-authentication PIN",
                action=lambda pin: self._card.prove(KeyKind.AUTH, digest, pin),
                working="the card is proving itself",
                entering=ReadStep.ENTER_AUTH_PIN,
            )
        self._to(ReadStep.VERIFYING)
        self._working("checking the card with the verifier")
        key = f"{op_id}.verify"
        kind: dict[str, JsonValue] = {CREDENTIAL_KIND: self._credential}
        self._record(op_id, Effect.CARD_VERIFY, Phase.INTENT, key=key, data=kind)
        verdict = await self._call(
            "verify card", verifier.verify_card(session.session_id, proof, key)
        )
        outcome: dict[str, JsonValue] = {
            "accepted": verdict.accepted,
            "reason": verdict.reason,
            "certificate_serial": verdict.certificate_serial,
        }
        self._record(op_id, Effect.CARD_VERIFY, Phase.OUTCOME, key=key, data=outcome)
        return verdict
