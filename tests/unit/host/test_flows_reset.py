# SPDX-License-Identifier: Apache-2.0
"""The PIN-reset state machine over behavioural fakes: OTP rounds, new-secret checks, failures."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from host.client import CardProof, Redemption, ResetOperation, SessionPurpose, VerifierSession
from host.flows import (
    Event,
    FlowResult,
    Outcome,
    PinResetFlow,
    PromptKind,
    ResetOutcome,
    ResetStep,
    StepTimeouts,
)
from host.journal import Effect, Journal, Phase
from host.secret import Secret
from tests.unit.host.flow_fakes import FakeCard, FakeUser

FAST = StepTimeouts(prompt=5, insert_card=5, card=5, service=5, printer=5)


@dataclass
class FakeResetVerifier:
    terminal_id: str = "kiosk-01"
    otp: str = ""  # the booking's OTP under the OTP policy, "" = reservation only
    booked: bool = True
    attempts: int = 3
    confirmed: list[tuple[str, bool]] = field(default_factory=list)
    otps_seen: list[str] = field(default_factory=list)

    async def open_session(
        self, purpose: SessionPurpose, idempotency_key: str, *, timeout: float | None = None
    ) -> VerifierSession:
        return VerifierSession(idempotency_key, b"\x03" * 32, None)

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
    ) -> Redemption:
        typed = one_time_password.reveal().decode() if one_time_password else ""
        self.otps_seen.append(typed)
        if not self.booked:
            return Redemption(False, "RESERVATION_NOT_FOUND", "", b"", 0)
        if self.otp and not typed:
            return Redemption(False, "OTP_REQUIRED", "", b"", self.attempts)
        if self.otp and typed != self.otp:
            self.attempts -= 1
            reason = "OTP_WRONG" if self.attempts else "TOO_MANY_ATTEMPTS"
            return Redemption(False, reason, "", b"", self.attempts)
        return Redemption(True, "OK", "res-1", b"\xaa" * 16, self.attempts)

    async def confirm_reset(
        self,
        reservation_id: str,
        succeeded: bool,
        idempotency_key: str,
        *,
        timeout: float | None = None,
    ) -> bool:
        self.confirmed.append((reservation_id, succeeded))
        return True


def run(
    tmp_path: Path,
    user: FakeUser,
    verifier: FakeResetVerifier,
    card: FakeCard | None = None,
    operation: ResetOperation = ResetOperation.SIGNING_PASSWORD,
    **kw: object,
) -> tuple[ResetOutcome, FakeCard, list[Event], PinResetFlow]:
    card = card or FakeCard()
    events: list[Event] = []

    async def scenario() -> tuple[ResetOutcome, PinResetFlow]:
        with Journal(tmp_path / "j.db") as journal:
            flow = PinResetFlow(
                verifier=verifier,
                card=card,
                user=user,
                journal=journal,
                emit=events.append,
                timeouts=FAST,
                **kw,  # type: ignore[arg-type]
            )
            return await flow.run(operation), flow

    outcome, flow = asyncio.run(scenario())
    assert sum(isinstance(e, FlowResult) for e in events) == 1
    assert card.released == 1
    assert all(s.wiped for s in user.handed_out)
    return outcome, card, events, flow


def test_reset_signing_password_with_the_pin(tmp_path: Path) -> None:
    user = FakeUser(secrets=["1234", "NEWPASS1", "NEWPASS1"])
    verifier = FakeResetVerifier()
    outcome, card, _, flow = run(tmp_path, user, verifier)
    assert outcome.outcome is Outcome.COMPLETED
    assert card.password == b"NEWPASS1"
    assert verifier.confirmed == [("res-1", True)]
    assert ResetStep.RESETTING in flow.history
    assert PromptKind.ONE_TIME_PASSWORD not in [p.kind for p in user.prompts]
    with Journal(tmp_path / "j.db") as journal:
        assert journal.unknown_resets() == []
        effects = [(e.effect, e.phase) for e in journal.entries()]
    assert (Effect.RESET_CARD, Phase.INTENT) in effects
    assert b"NEWPASS1" not in (tmp_path / "j.db").read_bytes()


def test_reset_pin_with_the_password(tmp_path: Path) -> None:
    user = FakeUser(secrets=["ABCD1234", "4321", "4321"])
    outcome, card, _, _ = run(
        tmp_path, user, FakeResetVerifier(), operation=ResetOperation.AUTHENTICATION_PIN
    )
    assert outcome.outcome is Outcome.COMPLETED
    assert card.auth_pin == b"4321"
    assert user.prompts[0].kind is PromptKind.SIGNING_PASSWORD


def test_otp_required_then_wrong_then_right(tmp_path: Path) -> None:
    user = FakeUser(
        secrets=["1234", "11111111", "1234", "87654321", "1234", "NEWPASS1", "NEWPASS1"]
    )
    verifier = FakeResetVerifier(otp="87654321")
    outcome, _, _, _ = run(tmp_path, user, verifier)
    assert outcome.outcome is Outcome.COMPLETED
    assert verifier.otps_seen == ["", "11111111", "87654321"]
    otp_prompts = [p for p in user.prompts if p.kind is PromptKind.ONE_TIME_PASSWORD]
    # Asked after OTP_REQUIRED with no count; after OTP_WRONG with the attempts left.
    assert [p.tries_left for p in otp_prompts] == [None, verifier.attempts]


def test_otp_first_saves_a_round(tmp_path: Path) -> None:
    user = FakeUser(secrets=["87654321", "1234", "NEWPASS1", "NEWPASS1"])
    verifier = FakeResetVerifier(otp="87654321")
    outcome, _, _, _ = run(tmp_path, user, verifier, ask_otp_first=True)
    assert outcome.outcome is Outcome.COMPLETED
    assert verifier.otps_seen == ["87654321"]


def test_too_many_wrong_otps_is_refused(tmp_path: Path) -> None:
    user = FakeUser(secrets=["1234", "1", "1234", "2", "1234", "3", "1234"])
    verifier = FakeResetVerifier(otp="87654321", attempts=2)
    outcome, _, _, _ = run(tmp_path, user, verifier)
    assert outcome.outcome is Outcome.REFUSED
    assert outcome.reason == "TOO_MANY_ATTEMPTS"


def test_new_secret_must_match_and_follow_the_rule(tmp_path: Path) -> None:
    user = FakeUser(secrets=["1234", "NEWPASS1", "NEWPASS2", "bad", "bad", "NEWPASS3", "NEWPASS3"])
    outcome, card, _, _ = run(tmp_path, user, FakeResetVerifier())
    assert outcome.outcome is Outcome.COMPLETED
    assert card.password == b"NEWPASS3"


def test_card_refusing_the_reset_is_confirmed_as_failed(tmp_path: Path) -> None:
    class RefusingVerifier(FakeResetVerifier):
        async def redeem_reset(self, *a: object, **kw: object) -> Redemption:
            answer = await super().redeem_reset(*a, **kw)  # type: ignore[arg-type]
            return Redemption(True, "OK", "res-1", b"\xbb" * 16, answer.attempts_left)

    verifier = RefusingVerifier()
    user = FakeUser(secrets=["1234", "NEWPASS1", "NEWPASS1"])
    outcome, card, _, _ = run(tmp_path, user, verifier)
    assert outcome.outcome is Outcome.FAILED
    assert verifier.confirmed == [("res-1", False)]
    assert card.password == b"ABCD1234"


@pytest.mark.parametrize("where", ["card_id", "get_challenge", "prove"])
def test_card_removed(tmp_path: Path, where: str) -> None:
    verifier = FakeResetVerifier()
    outcome, _, _, _ = run(
        tmp_path, FakeUser(secrets=["1234"]), verifier, FakeCard(remove_at=where)
    )
    assert outcome.reason == "card_removed"
    assert verifier.confirmed == []


def test_no_booking(tmp_path: Path) -> None:
    outcome, _, _, _ = run(tmp_path, FakeUser(secrets=["1234"]), FakeResetVerifier(booked=False))
    assert outcome.outcome is Outcome.REFUSED
    assert outcome.reason == "RESERVATION_NOT_FOUND"


@pytest.mark.parametrize(
    ("now", "hours", "open_"),
    [
        ("12:00", ("06:00", "23:00"), True),
        ("05:59", ("06:00", "23:00"), False),
        ("23:00", ("06:00", "23:00"), False),
        ("01:00", ("22:00", "02:00"), True),
        ("03:00", ("22:00", "02:00"), False),
    ],
)
def test_kiosk_hours(tmp_path: Path, now: str, hours: tuple[str, str], open_: bool) -> None:
    import datetime as dt

    def at(text: str) -> dt.time:
        return dt.time.fromisoformat(text)

    user = FakeUser(secrets=["1234", "NEWPASS1", "NEWPASS1"])
    outcome, card, _, _ = run(
        tmp_path,
        user,
        FakeResetVerifier(),
        hours=(at(hours[0]), at(hours[1])),
        clock=lambda: dt.datetime.combine(dt.date(2026, 11, 27), at(now)),
    )
    if open_:
        assert outcome.outcome is Outcome.COMPLETED
    else:
        assert outcome.outcome is Outcome.REFUSED
        assert outcome.reason == "OUTSIDE_KIOSK_HOURS"
        assert card.calls == []


@pytest.mark.parametrize(
    "operation", [ResetOperation.SIGNING_PASSWORD, ResetOperation.AUTHENTICATION_PIN]
)
def test_a_card_without_a_signing_certificate_is_refused_before_any_prompt(
    tmp_path: Path, operation: ResetOperation
) -> None:
    # Holders under 15 have no signing key pair: neither direction can work,
    # and the card says so (EF 0008) before the other secret is asked for.
    user = FakeUser(secrets=["1234", "NEWPASS1", "NEWPASS1"])
    verifier = FakeResetVerifier()
    card = FakeCard(sign_certificate=False)
    outcome, card, _events, flow = run(tmp_path, user, verifier, card, operation=operation)
    assert outcome.outcome is Outcome.FAILED
    assert outcome.reason == "no_signing_certificate"
    assert [p.kind for p in user.prompts] == []
    assert "tries_left" not in card.calls
    assert "prove" not in card.calls
    assert card.counters == dict.fromkeys(card.counters, card.tries)
    assert verifier.otps_seen == []  # the verifier was never asked
    assert ResetStep.SESSION not in flow.history


def test_a_new_secret_that_keeps_breaking_the_rules_says_so(tmp_path: Path) -> None:
    user = FakeUser(secrets=["1234", "ab", "ab", "ab", "ab", "ab", "ab"])
    outcome, _, _, _ = run(tmp_path, user, FakeResetVerifier())
    assert outcome.outcome is Outcome.FAILED
    assert outcome.reason == "pin_policy"
