# SPDX-License-Identifier: Apache-2.0
"""The counter check (対面確認) at a staffed desk as an explicit state machine.

From 2027-04-01 Japan's AML rules (犯罪収益移転防止法施行規則) make a business
that checks a My Number card in person read its IC chip and show what the
chip holds. States (``CounterStep``)::

    WAIT_CARD -> ENTER_CODE -> READING -> RESULT -> RECORDING -> REMOVE_CARD
              -> DONE                                          (any -> FAILED)

Staff type 照合番号B from the card face (``StaffPort.verification_code``;
the counter is read first and a blocked code is never sent, as with PINs);
the card-surface AP gives the signed face and photo, the card-info AP (same
code) the name and address as text; the face's signature is checked with the
issuer key and the two applications compared (``host.card.assess_face``).
The result screen (``CounterScreen``: photo, name, address, birth date, sex,
expiry, verdict) goes to the staff only, never into events or logs; staff
confirm they compared the person with the photo (``StaffPort.compare``).
What the card gave is dropped as soon as the screen is built (the raw photo
after the face matcher): the flow and the card port keep no reference to
the face, and the screen leaves with the outcome, for the caller to deliver.
Where the desk has a face-matching reader (``FaceMatcherPort``, configured
as ``[counter] face_matcher``), the device compares instead: MATCH stands
for the staff's confirmation, NO_MATCH refuses (``PHOTO_MISMATCH``), and
anything it cannot decide (no face, busy, error, the device gone) falls
back to the staff; the record's ``method`` says which compared.
Finally one ``AmlCheckRecord`` (``host.flows.aml_record``) goes to the
business's AML file: who, when, which items, the verdict and the comparison;
never the My Number (照合番号B does not even open it) and the photo only
when ``store_photo`` is set.

A forged face (signature fails) is recorded and refused without showing its
data; an expired or inconsistent card is shown, recorded and refused; a
genuine one, or one whose signature could not be checked (no issuer key:
verdict "not checked"), completes when staff confirm the photo. When the
holder also enters the 4-digit authentication PIN (``run(holder_pin=True)``,
a ``CardVerifier`` configured), the card proves itself to the verifier as in
the reading flow (journaled VerifyCard) and a refused certificate makes the
verdict "revoked" (or the verifier's reason).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, Final, Protocol, TypeVar

from cryptography.hazmat.primitives.asymmetric import rsa

from host.card import (
    CardInfo,
    CodeKind,
    FaceReading,
    FaceVerdict,
    KeyKind,
    PinKind,
    assess_face,
    decode_photo,
    face_differences,
)
from host.client import CardProof, CardVerdict, SessionPurpose, card_challenge_digest
from host.errors import IntegrityError, PinBlockedError, PinPolicyError, WrongPinError
from host.flows.aml_record import AmlCheckRecord, AmlFile
from host.flows.context import StepTimeouts
from host.flows.events import Event, FlowFailed, Outcome, PromptKind
from host.flows.machine import Ending, FlowMachine
from host.flows.ports import CardPort, CardVerifier, ThreadedCard, UserPort
from host.journal import Effect, ElectronicJournal, Journal, Phase
from host.journal.records import JsonValue
from host.secret import Secret

__all__ = [
    "CounterCardPort",
    "CounterCheckFlow",
    "CounterOutcome",
    "CounterReading",
    "CounterReason",
    "CounterScreen",
    "CounterStep",
    "FaceMatcherPort",
    "StaffPort",
    "ThreadedCounterCard",
]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

FLOW = "counter"
MAX_POLICY_RETRIES: Final = 3
#: The card items the chip read shows and the record names (never the My Number).
CHECKED_ITEMS: Final = ("name", "address", "birth_date", "sex", "expiry", "photo", "signature")


class CounterStep(StrEnum):
    """The states of the counter check."""

    START = "start"
    WAIT_CARD = "wait_card"
    ENTER_CODE = "enter_code"
    READING = "reading"
    ENTER_AUTH_PIN = "enter_auth_pin"
    VERIFYING = "verifying"
    RESULT = "result"
    RECORDING = "recording"
    REMOVE_CARD = "remove_card"
    DONE = "done"
    FAILED = "failed"


class CounterReason(StrEnum):
    """Why a counter check did not accept the card (``CounterOutcome.reason``)."""

    CARD_FORGED = "card_face_forged"
    CARD_EXPIRED = "card_expired"
    DATA_INCONSISTENT = "card_data_inconsistent"
    PHOTO_MISMATCH = "photo_mismatch"
    CERTIFICATE_REFUSED = "certificate_refused"  # the verifier's reason is in the record


@dataclass(frozen=True, repr=False)
class CounterReading:
    """What the card gave for 照合番号B: the face and the card-info AP's basic four."""

    face: FaceReading
    info: CardInfo

    def __repr__(self) -> str:
        return "CounterReading(<redacted>)"


@dataclass(frozen=True, repr=False)
class CounterScreen:
    """The result screen for the staff: personal data, shown, never logged.

    ``photo_png`` is the chip's photo as PNG; name and address come from the
    card-info AP (the face holds them only as images).
    """

    verdict: FaceVerdict
    name: str
    address: str
    birth_date: dt.date
    sex: str
    expiry: dt.date
    photo_png: bytes
    differences: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"CounterScreen(verdict={self.verdict.value}, <redacted>)"


class StaffPort(UserPort, Protocol):
    """The staff's screen at the desk."""

    async def verification_code(self, *, tries_left: int, last_try: bool) -> Secret:
        """照合番号B as typed from the card face; the flow wipes it after use."""

    async def compare(self, screen: CounterScreen) -> bool:
        """Show ``screen``; True when staff confirm the person matches the photo."""


class FaceMatcherPort(Protocol):
    """A face-matching reader at the desk: the device compares the holder with the photo."""

    async def compare_face(self, photo: bytes) -> bool | None:
        """True: the device matched ``photo`` (the chip's); False: it did not;
        None: it could not decide, so staff compare."""


class CounterCardPort(CardPort, Protocol):
    """The card as the counter check needs it."""

    async def code_tries_left(self) -> int:
        """Tries left for 照合番号B on the card-surface AP, without spending one."""

    async def read_counter(self, code: Secret) -> CounterReading:
        """The face (signature checked when a key is set) and the basic four, with ``code``."""


class ThreadedCounterCard(ThreadedCard):
    """A ``CounterCardPort`` over a reader URL (see ``ThreadedCard``).

    Args:
        url: the reader URL.
        issuer_key: the card-data issuer's public key (configuration); None
            leaves the face's signature unchecked (verdict "not checked").
    """

    def __init__(
        self, url: str, *, issuer_key: rsa.RSAPublicKey | None, poll_interval: float = 0.1
    ) -> None:
        super().__init__(url, poll_interval=poll_interval)
        self._issuer_key = issuer_key
        # The last card call read 照合番号B's tries (non-zero): its EF is still
        # selected, so the face's VERIFY goes at once (as ``prove`` with PINs).
        self._code_read = False

    async def _run(self, fn: Callable[[], _T]) -> _T:
        self._code_read = False  # any card call may change what is selected
        return await super()._run(fn)

    async def code_tries_left(self) -> int:
        """Tries left for 照合番号B (surface AP); never spends one.

        Raises:
            NoCardError: no session; CardError, TransportError from the card.
        """
        card = self._require()
        tries = await self._run(lambda: card.code_tries_left(CodeKind.B))
        self._code_read = tries > 0
        return tries

    async def read_counter(self, code: Secret) -> CounterReading:
        """Read and check the face, then the basic four, with 照合番号B.

        Raises:
            PinPolicyError, WrongPinError, PinBlockedError: the code was refused.
            IntegrityError: the face or the basic four fails its signature.
            DataFormatError, CardError, TransportError: the card failed.
        """
        card, key, counter_read = self._require(), self._issuer_key, self._code_read

        def work() -> CounterReading:
            face = card.read_card_face(CodeKind.B, code, issuer_key=key, counter_read=counter_read)
            return CounterReading(face, card.read_card_info_with_code_b(code, issuer_key=key))

        return await self._run(work)


@dataclass(frozen=True)
class CounterOutcome:
    """How a counter check ended; ``screen`` and ``record`` hold personal data."""

    outcome: Outcome
    op_id: str
    verdict: FaceVerdict | None = None
    screen: CounterScreen | None = field(default=None, repr=False)
    record: AmlCheckRecord | None = field(default=None, repr=False)
    reason: str = ""
    #: The holder's PIN a ``pin_blocked`` ending concerns; None: 照合番号B itself.
    pin: PinKind | None = None

    @property
    def reference(self) -> str:
        """The operation id (also the record's check id)."""
        return self.op_id


class CounterCheckFlow(FlowMachine[CounterStep, CounterOutcome]):
    """One counter check at a time.

    Args:
        card: the card port; ``staff``: the desk's screen.
        aml_file: where the check record goes.
        terminal_id, staff_id: recorded as where and who.
        store_photo: also store the photo in the record (operator's config).
        journal, ejournal, emit, timeouts: as in every flow.
        clock: the current time (UTC); the verdict uses its date in JST.
        verifier: needed only for ``run(holder_pin=True)``.
        face_matcher: the desk's face-matching reader (None: staff compare).
    """

    flow: ClassVar[str] = FLOW
    steps = CounterStep

    def __init__(
        self,
        *,
        card: CounterCardPort,
        staff: StaffPort,
        aml_file: AmlFile,
        terminal_id: str,
        staff_id: str,
        journal: Journal,
        emit: Callable[[Event], None],
        store_photo: bool = False,
        ejournal: ElectronicJournal | None = None,
        timeouts: StepTimeouts | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        verifier: CardVerifier | None = None,
        face_matcher: FaceMatcherPort | None = None,
    ) -> None:
        super().__init__(
            card=card, user=staff, journal=journal, emit=emit, ejournal=ejournal, timeouts=timeouts
        )
        self._counter_card, self._staff, self._aml = card, staff, aml_file
        self._terminal_id, self._staff_id, self._store_photo = terminal_id, staff_id, store_photo
        self._clock, self._verifier, self._matcher = clock, verifier, face_matcher
        self._op_id = ""
        self._holder_pin = False
        self._code_open = False  # 照合番号B was accepted: a later block is the holder's PIN

    async def run(self, *, holder_pin: bool = False) -> CounterOutcome:
        """Run to the end; failures are events and the outcome, not exceptions.

        Args:
            holder_pin: the holder also enters the authentication PIN, so the
                verifier checks the certificate (revocation).

        Raises:
            ValueError: ``holder_pin`` without a verifier.
            JournalError: the journal cannot be written.
        """
        if holder_pin and self._verifier is None:
            raise ValueError("holder_pin needs a verifier")
        self._op_id, self._holder_pin = Journal.new_op_id(), holder_pin
        self._code_open = False
        return await self.drive(self._op_id, self._steps(self._op_id))

    def _stopped(self, ending: Ending) -> CounterOutcome:
        pin = PinKind.AUTH if self._code_open else None
        return CounterOutcome(ending.outcome, self._op_id, reason=ending.reason, pin=pin)

    def _end_facts(self, outcome: CounterOutcome) -> Mapping[str, JsonValue]:
        verdict = outcome.verdict.value if outcome.verdict else None
        return {"outcome": outcome.outcome.value, "reason": outcome.reason, "verdict": verdict}

    async def _steps(self, op_id: str) -> CounterOutcome:
        self._to(CounterStep.WAIT_CARD)
        await self._wait_card()
        now = self._clock()
        try:
            reading = await self._read_with_code()
        except IntegrityError:
            # Forged (or altered) chip data: nothing of it is shown or kept.
            record = self._record_check(op_id, now, FaceVerdict.FORGED, None, None)
            self._remove_card()
            return self._refuse(op_id, FaceVerdict.FORGED, CounterReason.CARD_FORGED, None, record)
        screen = self._screen(reading, now)
        # The card face (photo, name and address images, dates) is personal
        # data: once the screen is built only the photo stays, for the face
        # matcher, and goes after it; the screen itself leaves with the outcome.
        photo = reading.face.face.photo
        del reading
        refused_by = ""
        if self._holder_pin:
            card_verdict = await self._verify(op_id)
            if not card_verdict.accepted:
                refused_by = card_verdict.reason
                screen = dataclasses.replace(screen, verdict=FaceVerdict.REVOKED)
        self._to(CounterStep.RESULT)
        by_device = await self._device_compare(photo)
        del photo
        compared = by_device
        if compared is None:
            compared = await self._ctx.step(
                "photo comparison", self._staff.compare(screen), self._ctx.timeouts.prompt
            )
        method = _METHOD_DEVICE if by_device is not None else _METHOD
        record = self._record_check(op_id, now, screen.verdict, screen, compared, method=method)
        self._remove_card()
        reason = _REFUSALS.get(screen.verdict)
        if refused_by:
            self._ej_append(op_id, "CARD-REJECTED", reason=refused_by)
        if reason is None and not compared:
            reason = CounterReason.PHOTO_MISMATCH
        if reason is not None:
            return self._refuse(op_id, screen.verdict, reason, screen, record)
        self._ej_append(op_id, "COUNTER-CHECK", verdict=screen.verdict.value, compared=True)
        return CounterOutcome(
            Outcome.COMPLETED, op_id, verdict=screen.verdict, screen=screen, record=record
        )

    async def _device_compare(self, photo: bytes) -> bool | None:
        """The face matcher's verdict, or None (no matcher, or it could not decide)."""
        if self._matcher is None:
            return None
        self._working("the face matcher is comparing")
        return await self._ctx.step(
            "face matcher", self._matcher.compare_face(photo), self._ctx.timeouts.prompt
        )

    async def _read_with_code(self) -> CounterReading:
        """Ask for 照合番号B until the card opens; read counter first, never send a blocked code."""
        policy_errors = 0
        card, t = self._counter_card, self._ctx.timeouts
        while True:
            tries = await self._ctx.step("code status", card.code_tries_left(), t.card)
            if tries == 0:
                raise PinBlockedError(0x6984, "VERIFY", "照合番号B is blocked")
            self._to(CounterStep.ENTER_CODE)
            ask = self._staff.verification_code(tries_left=tries, last_try=tries == 1)
            code = await self._ctx.step("verification code", ask, t.prompt)
            with code:
                self._to(CounterStep.READING)
                self._working("reading the card face")
                try:
                    reading = await self._ctx.step("card face", card.read_counter(code), t.card)
                except WrongPinError:
                    continue
                except PinPolicyError:
                    policy_errors += 1
                    if policy_errors >= MAX_POLICY_RETRIES:
                        raise
                else:
                    self._code_open = True
                    return reading

    async def _verify(self, op_id: str) -> CardVerdict:
        """The card proves itself with the holder's PIN; the verifier checks the certificate."""
        verifier = self._verifier
        if verifier is None:  # run() checked it; keeps the type narrow
            raise ValueError("holder_pin needs a verifier")
        self._to(CounterStep.VERIFYING)
        purpose = SessionPurpose.CARD_VERIFICATION
        session = await self._call(
            "open session", verifier.open_session(purpose, f"{op_id}.session")
        )
        digest = card_challenge_digest(purpose, verifier.terminal_id, session.nonce)
        proof: CardProof = await self._use_secret(
            pin=PinKind.AUTH,
            prompt=PromptKind.AUTH_PIN,
            text="Enter your 4-digit user-authentication PIN",
            action=lambda pin: self._card.prove(KeyKind.AUTH, digest, pin),
            working="the card is proving itself",
            entering=CounterStep.ENTER_AUTH_PIN,
        )
        self._to(CounterStep.VERIFYING)
        key = f"{op_id}.verify"
        self._record(op_id, Effect.CARD_VERIFY, Phase.INTENT, key=key)
        verdict = await self._call(
            "verify card", verifier.verify_card(session.session_id, proof, key)
        )
        outcome: dict[str, JsonValue] = {"accepted": verdict.accepted, "reason": verdict.reason}
        self._record(op_id, Effect.CARD_VERIFY, Phase.OUTCOME, key=key, data=outcome)
        return verdict

    def _screen(self, reading: CounterReading, now: dt.datetime) -> CounterScreen:
        face, basic = reading.face.face, reading.info.basic_four
        differences = face_differences(face, basic)
        today = now.astimezone(_JST).date()  # the card's dates are Japanese dates
        verdict = assess_face(reading.face, today=today, differences=differences)
        return CounterScreen(
            verdict=verdict,
            name=basic.name,
            address=basic.address,
            birth_date=face.birth_date,
            sex=face.sex,
            expiry=face.expiry,
            photo_png=decode_photo(face.photo).png,
            differences=differences,
        )

    def _record_check(
        self,
        op_id: str,
        now: dt.datetime,
        verdict: FaceVerdict,
        screen: CounterScreen | None,
        compared: bool | None,
        *,
        method: str = "",
    ) -> AmlCheckRecord:
        self._to(CounterStep.RECORDING)
        record = AmlCheckRecord(
            check_id=op_id,
            checked_at=now,
            terminal_id=self._terminal_id,
            staff_id=self._staff_id,
            method=method or _METHOD,
            items=CHECKED_ITEMS if screen is not None else ("signature",),
            verdict=verdict,
            photo_compared=compared,
            name=screen.name if screen else "",
            address=screen.address if screen else "",
            birth_date=screen.birth_date if screen else None,
            photo_png=screen.photo_png if screen and self._store_photo else None,
        )
        self._aml.append(record)
        _log.info("counter check %s recorded: %s", op_id, verdict.value)
        return record

    def _refuse(
        self,
        op_id: str,
        verdict: FaceVerdict,
        reason: CounterReason,
        screen: CounterScreen | None,
        record: AmlCheckRecord,
    ) -> CounterOutcome:
        self._ej_append(op_id, "COUNTER-CHECK", verdict=verdict.value, reason=reason.value)
        self._ctx.emit(FlowFailed(reason.value, "the card was not accepted"))
        return CounterOutcome(
            Outcome.REFUSED, op_id, verdict=verdict, screen=screen, record=record, reason=reason
        )


_JST: Final = dt.timezone(dt.timedelta(hours=9), "JST")
#: How the identity was checked (``AmlCheckRecord.method``): staff compared the photo ...
_METHOD: Final = "ic-chip/card-surface-ap/verification-code-b"
#: ... or the desk's face-matching reader did.
_METHOD_DEVICE: Final = _METHOD + "/face-matcher"
#: Verdicts that refuse the card whatever staff see (FORGED is handled before the screen).
_REFUSALS: Final = {
    FaceVerdict.EXPIRED: CounterReason.CARD_EXPIRED,
    FaceVerdict.INCONSISTENT: CounterReason.DATA_INCONSISTENT,
    FaceVerdict.REVOKED: CounterReason.CERTIFICATE_REFUSED,
}
