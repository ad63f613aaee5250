# SPDX-License-Identifier: Apache-2.0
"""The PIN-reset flow end to end: a booking from the phone, then the kiosk flow.

Real verifier over mTLS (deployed reservation-only policy and the 2020 OTP
policy), the virtual card over sim://; the kiosk relays the issuer
authorisation to the card and the test checks, on the same card session,
that the new secret now verifies. The OTP is asked only under the OTP policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.card import PinKind
from host.client import ResetOperation, VerifierClient
from host.errors import WrongPinError
from host.flows import Outcome, PinResetFlow, PromptKind, ResetOutcome, ThreadedCard
from host.journal import Journal
from host.secret import Secret
from hw_sim.card import get_profile
from myna.edge.v1 import verifier_pb2 as pb
from tests.flows_support import ScriptedUser, book_reset, client_config
from tests.verifier_support import ServerThread, VerifierEnv, make_env

NEW_PASSWORD = "NEWPASS2026"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("flows-reset"))


class CheckingCard(ThreadedCard):
    """Before releasing, checks on the same card session that ``new`` verifies."""

    def __init__(self, url: str, kind: PinKind, new: str) -> None:
        super().__init__(url)
        self.kind, self.new, self.new_verifies = kind, new, False

    async def release(self) -> None:
        card = self._card
        if card is not None:

            def check() -> bool:
                with Secret.from_text(self.new) as secret:
                    try:
                        card.verify(self.kind, secret)
                    except WrongPinError:
                        return False
                return True

            try:
                self.new_verifies = await self._run(check)
            finally:
                await super().release()
        else:
            await super().release()


def run_kiosk(
    env: VerifierEnv, server: ServerThread, tmp_path: Path, user: ScriptedUser,
    operation: ResetOperation, new_kind: PinKind, new: str,
) -> tuple[ResetOutcome, CheckingCard]:  # fmt: skip
    async def scenario() -> tuple[ResetOutcome, CheckingCard]:
        card = CheckingCard("sim://default?persist=0", new_kind, new)
        try:
            async with VerifierClient(client_config(env, server, "kiosk-01")) as client:
                with Journal(tmp_path / "journal.db") as journal:
                    flow = PinResetFlow(
                        verifier=client, card=card, user=user, journal=journal,
                        emit=lambda e: None,
                    )  # fmt: skip
                    outcome = await flow.run(operation)
                    assert journal.unknown_resets() == []
                    return outcome, card
        finally:
            await card.aclose()

    return asyncio.run(scenario())


@pytest.fixture
def deployed(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config(reset_policy="reservation_only")).start()
    yield thread
    thread.stop()


@pytest.fixture
def plan2020(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config(reset_policy="otp")).start()
    yield thread
    thread.stop()


def test_new_signing_password_with_the_pin(
    env: VerifierEnv, deployed: ServerThread, tmp_path: Path
) -> None:
    assert (
        book_reset(env, deployed, pb.RESET_OPERATION_SIGNING_PASSWORD).verdict
        == pb.VERDICT_ACCEPTED
    )
    profile = get_profile("default")
    user = ScriptedUser(secrets=[profile.auth_pin, NEW_PASSWORD, NEW_PASSWORD])
    outcome, card = run_kiosk(
        env, deployed, tmp_path, user, ResetOperation.SIGNING_PASSWORD, PinKind.SIGN, NEW_PASSWORD
    )
    assert outcome.outcome is Outcome.COMPLETED, outcome
    assert outcome.confirmed
    assert card.new_verifies
    assert PromptKind.ONE_TIME_PASSWORD not in [p.kind for p in user.prompts]
    assert all(s.wiped for s in user.handed_out)


def test_new_pin_with_the_password(
    env: VerifierEnv, deployed: ServerThread, tmp_path: Path
) -> None:
    book_reset(env, deployed, pb.RESET_OPERATION_AUTHENTICATION_PIN)
    profile = get_profile("default")
    user = ScriptedUser(secrets=[profile.sign_password, "9753", "9753"])
    outcome, card = run_kiosk(
        env, deployed, tmp_path, user, ResetOperation.AUTHENTICATION_PIN, PinKind.AUTH, "9753"
    )
    assert outcome.outcome is Outcome.COMPLETED, outcome
    assert card.new_verifies


def test_otp_is_asked_when_the_policy_needs_it(
    env: VerifierEnv, plan2020: ServerThread, tmp_path: Path
) -> None:
    booking = book_reset(env, plan2020, pb.RESET_OPERATION_SIGNING_PASSWORD)
    assert booking.one_time_password
    pin = get_profile("default").auth_pin
    user = ScriptedUser(secrets=[pin, booking.one_time_password, pin, NEW_PASSWORD, NEW_PASSWORD])
    outcome, card = run_kiosk(
        env, plan2020, tmp_path, user, ResetOperation.SIGNING_PASSWORD, PinKind.SIGN, NEW_PASSWORD
    )
    assert outcome.outcome is Outcome.COMPLETED, outcome
    assert card.new_verifies
    assert [p.kind for p in user.prompts].count(PromptKind.ONE_TIME_PASSWORD) == 1


def test_no_booking_is_refused(env: VerifierEnv, deployed: ServerThread, tmp_path: Path) -> None:
    user = ScriptedUser(secrets=[get_profile("default").auth_pin])
    outcome, card = run_kiosk(
        env, deployed, tmp_path, user, ResetOperation.SIGNING_PASSWORD, PinKind.SIGN, NEW_PASSWORD
    )
    assert not card.new_verifies
    assert outcome.outcome is Outcome.REFUSED
    assert outcome.reason == "RESERVATION_NOT_FOUND"
