# SPDX-License-Identifier: Apache-2.0
"""The card-reading flow end to end: virtual card over sim://, real verifier over mTLS."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.client import VerifierClient
from host.flows import CardReadingFlow, Event, Outcome, ReadOutcome, ReadRequest, ThreadedCard
from host.journal import Journal
from hw_sim.card import get_profile
from tests.flows_support import ScriptedUser, client_config
from tests.verifier_support import ServerThread, VerifierEnv, make_env


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("flows-reading"))


@pytest.fixture(scope="module")
def server(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


def read(
    env: VerifierEnv, server: ServerThread, tmp_path: Path, profile: str, request: ReadRequest
) -> tuple[ReadOutcome, ScriptedUser]:
    card_profile = get_profile(profile)
    secrets = [card_profile.text_pin] if request.read_basic_four else []
    secrets += [card_profile.auth_pin] if request.verify_card else []
    user = ScriptedUser(secrets=secrets)
    events: list[Event] = []

    async def scenario() -> ReadOutcome:
        card = ThreadedCard(f"sim://{profile}?persist=0")
        try:
            async with VerifierClient(client_config(env, server, "kiosk-01")) as client:
                with Journal(tmp_path / "journal.db") as journal:
                    flow = CardReadingFlow(
                        card=card, user=user, journal=journal, emit=events.append, verifier=client
                    )
                    return await flow.run(request)
        finally:
            await card.aclose()

    return asyncio.run(scenario()), user


def test_read_and_verify_a_good_card(
    env: VerifierEnv, server: ServerThread, tmp_path: Path
) -> None:
    outcome, user = read(env, server, tmp_path, "default", ReadRequest(verify_card=True))
    assert outcome.outcome is Outcome.COMPLETED
    assert outcome.basic_four is not None
    assert outcome.basic_four.name == get_profile("default").person.name
    assert outcome.verdict is not None
    assert outcome.verdict.accepted
    assert all(s.wiped for s in user.handed_out)


def test_revoked_card_is_refused(env: VerifierEnv, server: ServerThread, tmp_path: Path) -> None:
    request = ReadRequest(read_basic_four=False, verify_card=True)
    outcome, _ = read(env, server, tmp_path, "revoked", request)
    assert outcome.outcome is Outcome.REFUSED
    assert outcome.reason == "CERTIFICATE_REVOKED"
