# SPDX-License-Identifier: Apache-2.0
"""The transfer flow over a real PC/SC path: pyscard -> pcscd -> vpcd -> virtual card.

The same flow code as over sim://, now through a private pcscd (stopped by
PID when the module ends): the happy path, and the card pulled from the
reader while the user types the password — the flow fails cleanly with
``card_removed``, nothing is authorised, and the card session is released.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from host.client import TransferState, VerifierClient
from host.flows import Outcome, Prompt, ThreadedCard, TransferFlow, TransferOutcome
from host.journal import Journal
from host.secret import Secret
from hw_sim.card import get_profile
from hw_sim.home import sim_home
from hw_sim.readers.pcscd import PcscdBusyError
from hw_sim.readers.stack import PcscRig
from tests.flows_support import ScriptedUser, client_config, transfer_request, transfer_rows
from tests.integration.reader_stack import BUSY_WAIT_S, PCSC_URL, require
from tests.verifier_support import ServerThread, VerifierEnv, make_env


@pytest.fixture(scope="module")
def pcsc_stack() -> Iterator[PcscRig]:
    """A private pcscd + vpcd whose cards come from the session's simulator home.

    The shared ``reader_stack`` rig issues cards from a private PKI; the
    verifier here trusts the session's, so the rig uses that home.
    """
    require(shutil.which("pcscd") is not None, "pcscd is not installed")
    require(importlib.util.find_spec("smartcard") is not None, "pyscard is not installed")
    rig = PcscRig(home=sim_home(), busy_wait=BUSY_WAIT_S)
    try:
        rig.start()
    except PcscdBusyError as error:
        require(False, str(error))
    try:
        yield rig
    finally:
        rig.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("flows-pcsc"))


@pytest.fixture
def server(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


class PullingUser(ScriptedUser):
    """Pulls the card from the reader while typing the password."""

    def __init__(self, pull: Callable[[], None], secrets: list[str]) -> None:
        super().__init__(secrets=secrets)
        self.pull = pull

    async def secret(self, prompt: Prompt) -> Secret:
        self.pull()
        return await super().secret(prompt)


def run(
    env: VerifierEnv, server: ServerThread, tmp_path: Path, user: ScriptedUser
) -> TransferOutcome:
    async def scenario() -> TransferOutcome:
        card = ThreadedCard(PCSC_URL)
        try:
            async with VerifierClient(client_config(env, server)) as client:
                with Journal(tmp_path / "journal.db") as journal:
                    flow = TransferFlow(
                        terminal_id="atm-01", verifier=client, card=card, user=user,
                        journal=journal, emit=lambda e: None,
                    )  # fmt: skip
                    return await flow.run(transfer_request(250_000))
        finally:
            await card.aclose()

    return asyncio.run(scenario())


def test_transfer_over_pcsc(
    env: VerifierEnv, server: ServerThread, tmp_path: Path, pcsc_stack: PcscRig
) -> None:
    user = ScriptedUser(secrets=[get_profile("default").sign_password])
    with pcsc_stack.card("default"):
        outcome = run(env, server, tmp_path, user)
    assert outcome.outcome is Outcome.COMPLETED
    assert outcome.state is TransferState.COMMITTED
    assert outcome.identity_verified


def test_card_pulled_at_the_password_prompt(
    env: VerifierEnv, server: ServerThread, tmp_path: Path, pcsc_stack: PcscRig
) -> None:
    inserted = pcsc_stack.card("default")
    inserted.__enter__()
    pulled: list[bool] = []

    def pull() -> None:
        if not pulled:
            pulled.append(True)
            inserted.__exit__(None, None, None)

    try:
        user = PullingUser(pull, [get_profile("default").sign_password])
        outcome = run(env, server, tmp_path, user)
    finally:
        if not pulled:
            inserted.__exit__(None, None, None)
    assert outcome.outcome is Outcome.FAILED
    assert outcome.reason == "card_removed"
    assert transfer_rows(server) == {}
    assert all(s.wiped for s in user.handed_out)
