# SPDX-License-Identifier: Apache-2.0
"""A card without a signing certificate (holder under 15), through the terminal API.

Real TerminalServer on a Unix socket, real verifier over mTLS, the virtual
``minor`` card over sim://. The ATM transfer and the kiosk's reset both learn
from the card (EF 0008) that it has no signing certificate before asking for
any secret: no password prompt is sent, the card sees no VERIFY (no try is
spent), and the completion carries its own reason and a message in Japanese
and English saying what to do instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import grpc.aio
import pytest

from host.api import AgentRuntime, Profile, TerminalServer
from host.card import KeyKind, MynaCard, PinKind
from host.client import VerifierClient
from host.flows import Prompt, ThreadedCard
from host.journal import Journal
from host.secret import Secret
from host.transport import open_transport
from host.transport.sim import SimTransport
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from myna.edge.v1 import verifier_pb2 as vpb
from myna_edge.chaos.atm import transfer_command
from tests.flows_support import client_config
from tests.verifier_support import ServerThread, VerifierEnv, make_env

_INS_VERIFY = 0x20
_SECRET_PROMPTS = {
    tpb.PROMPT_TYPE_SIGNING_PASSWORD,
    tpb.PROMPT_TYPE_AUTH_PIN,
    tpb.PROMPT_TYPE_CARD_INFO_PIN,
    tpb.PROMPT_TYPE_NEW_SECRET,
    tpb.PROMPT_TYPE_ONE_TIME_PASSWORD,
}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("no-sign-cert"))


@pytest.fixture(scope="module")
def verifier(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


class LoggedCard(ThreadedCard):
    """The reader's card, keeping the instruction bytes the card received."""

    instructions: list[int]

    def _close(self) -> None:
        transport = self._transport
        if isinstance(transport, SimTransport):
            LoggedCard.instructions += [
                e.command[1] for e in transport.virtual_card.apdu_log.entries
            ]
        super()._close()


@asynccontextmanager
async def terminal(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path, profile: Profile
) -> AsyncIterator[tpb_grpc.TerminalServiceStub]:
    pad_asked: list[Prompt] = []

    async def secure_entry(prompt: Prompt) -> Secret:  # the PIN pad: must never be asked
        pad_asked.append(prompt)
        return Secret.from_text("ABC123")

    LoggedCard.instructions = []
    terminal_id = "atm-01" if profile is Profile.ATM else "kiosk-01"
    async with VerifierClient(client_config(env, verifier, terminal_id)) as client:
        with Journal(tmp_path / "journal.db") as journal:
            runtime = AgentRuntime(
                card_factory=lambda: LoggedCard("sim://minor?persist=0"), profile=profile,
                terminal_id=terminal_id, verifier=client, journal=journal,
                secure_entry=secure_entry,
            )  # fmt: skip
            address = f"unix:{tmp_path}/api.sock"
            async with (
                TerminalServer(runtime, address),
                grpc.aio.insecure_channel(address) as channel,
            ):
                yield tpb_grpc.TerminalServiceStub(channel)
    assert pad_asked == []


async def execute(
    stub: tpb_grpc.TerminalServiceStub, request: tpb.ExecuteRequest
) -> list[tpb.ExecuteResponse]:
    messages = []
    async for message in stub.Execute(request, timeout=30):
        messages.append(message)
        prompt = message.event.prompt
        if message.WhichOneof("message") == "event" and prompt.prompt_id:
            assert prompt.type not in _SECRET_PROMPTS, "no secret may be asked for"
            reply = tpb.AnswerPromptRequest(
                request_id=request.request_id, prompt_id=prompt.prompt_id, confirmed=True
            )
            assert (await stub.AnswerPrompt(reply, timeout=5)).accepted
    return messages


def check_refused_before_any_secret(messages: list[tpb.ExecuteResponse]) -> tpb.Completion:
    prompts = [m.event.prompt.type for m in messages if m.event.HasField("prompt")]
    assert not _SECRET_PROMPTS & set(prompts)
    assert tpb.PROMPT_TYPE_INSERT_CARD in prompts
    failures = [m.event.failure for m in messages if m.event.HasField("failure")]
    assert [f.code for f in failures] == ["no_signing_certificate"]
    done = messages[-1].completion
    assert done.reason == tpb.COMPLETION_REASON_NO_SIGNING_CERTIFICATE
    assert done.error_code == "no_signing_certificate"
    assert done.message.key == "result.no_signing_certificate"
    assert "署名用電子証明書がありません" in done.message.ja
    assert "no signing certificate" in done.message.en
    # The card saw SELECTs and READ BINARYs only: no VERIFY, so no try spent.
    assert LoggedCard.instructions
    assert _INS_VERIFY not in LoggedCard.instructions
    return done


def test_atm_transfer_with_a_card_without_a_signing_certificate(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path
) -> None:
    async def scenario() -> list[tpb.ExecuteResponse]:
        async with terminal(env, verifier, tmp_path, Profile.ATM) as stub:
            request = tpb.ExecuteRequest(request_id="t-minor", transfer=transfer_command(250_000))
            return await execute(stub, request)

    done = check_refused_before_any_secret(asyncio.run(scenario()))
    assert done.code == tpb.COMPLETION_CODE_COMMAND_ERROR
    assert not done.transfer.authorization_id  # the verifier was never asked to authorise


@pytest.mark.parametrize(
    "operation",
    [vpb.RESET_OPERATION_SIGNING_PASSWORD, vpb.RESET_OPERATION_AUTHENTICATION_PIN],
)
def test_kiosk_reset_with_a_card_without_a_signing_certificate(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path, operation: int
) -> None:
    async def scenario() -> list[tpb.ExecuteResponse]:
        async with terminal(env, verifier, tmp_path, Profile.KIOSK) as stub:
            command = tpb.PinResetCommand(operation=operation)  # type: ignore[arg-type]
            return await execute(stub, tpb.ExecuteRequest(request_id="r-minor", pin_reset=command))

    done = check_refused_before_any_secret(asyncio.run(scenario()))
    assert done.code == tpb.COMPLETION_CODE_COMMAND_ERROR


def test_the_minor_card_still_counts_its_signing_password() -> None:
    # The password object exists (OpenSC's bind queries it, hw_sim jpki_ap):
    # only the certificate and key are missing, so EF 0008 is what tells.
    with open_transport("sim://minor?persist=0") as transport:
        card = MynaCard(transport)
        assert card.tries_left(PinKind.SIGN) > 0
        assert not card.has_certificate(KeyKind.SIGN)
