# SPDX-License-Identifier: Apache-2.0
"""ATM transfer with the signing password typed on the secure PIN pad (real firmware on a pty).

The controller firmware runs under the MicroPython unix port; the user
types the password by multi-tap on the simulated keypad; the agent gets an
encrypted block, opens it only for the card command, and the transfer is
signed, authorised and committed by the real verifier over mTLS.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.client import TransferState, VerifierClient
from host.flows import ControllerSecureEntry, Outcome, Prompt, ThreadedCard, TransferFlow
from host.journal import Journal
from host.peripherals import BoardKey, Controller
from host.secret import Secret
from hw_sim.card import get_profile
from tests.flows_support import client_config, transfer_request
from tests.integration.controller_support import in_background, running_sim
from tests.verifier_support import ServerThread, VerifierEnv, make_env


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("flows-secure-entry"))


@pytest.fixture
def server(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


class PadUser:
    """The ATM application: confirms on its screen, takes secrets only from the PIN pad."""

    def __init__(self, pad: ControllerSecureEntry) -> None:
        self.pad = pad
        self.handed_out: list[Secret] = []

    async def confirm(self, prompt: Prompt) -> bool:
        return True

    async def secret(self, prompt: Prompt) -> Secret:
        secret = await self.pad(prompt)
        self.handed_out.append(secret)
        return secret


def test_password_from_the_secure_pin_pad(
    env: VerifierEnv, server: ServerThread, tmp_path: Path
) -> None:
    password = get_profile("default").sign_password
    with running_sim() as sim, Controller(sim.url, key=BoardKey.generate()) as controller:
        assert controller.key is not None
        controller.inject_key(controller.key)
        mark = sim.display_mark()

        def user_types() -> None:
            sim.wait_display(0, "ENTER PASSWORD", timeout=15.0, since=mark)
            sim.enter_password(password)

        async def scenario() -> tuple[Outcome, TransferState, PadUser]:
            pad = ControllerSecureEntry(controller, entry_timeout=20)
            user = PadUser(pad)
            card = ThreadedCard("sim://default?persist=0")
            try:
                async with VerifierClient(client_config(env, server)) as client:
                    with Journal(tmp_path / "journal.db") as journal:
                        flow = TransferFlow(
                            terminal_id="atm-01", verifier=client, card=card, user=user,
                            journal=journal, emit=lambda e: None,
                        )  # fmt: skip
                        outcome = await flow.run(transfer_request(250_000))
            finally:
                await card.aclose()
                await pad.aclose()
            return outcome.outcome, outcome.state, user

        with in_background(user_types):
            result, state, user = asyncio.run(scenario())
    assert result is Outcome.COMPLETED
    assert state is TransferState.COMMITTED
    assert all(s.wiped for s in user.handed_out)
