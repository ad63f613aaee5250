# SPDX-License-Identifier: Apache-2.0
"""The terminal API end to end: a client on a Unix socket drives the flows as the apps would.

Real TerminalServer (grpc.aio, Unix socket), real verifier over mTLS, the
virtual card over sim://. Covers the XFS4IoT shape: acknowledgement, events,
one completion with a typed code; refusals (busy, unsupported, invalid,
duplicate); cancel by request id; timeout; capabilities; status events.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import grpc.aio
import pytest

from host.api import AgentRuntime, Profile, TerminalServer
from host.api.touch_entry import seal
from host.client import VerifierClient
from host.flows import Prompt, StepTimeouts
from host.journal import Journal
from host.secret import Secret
from hw_sim.card import get_profile
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from myna.edge.v1 import verifier_pb2 as vpb
from myna_edge.chaos.atm import transfer_command
from tests.flows_support import client_config
from tests.verifier_support import ServerThread, VerifierEnv, make_env

Answer = Callable[[tpb.PromptEvent], tpb.AnswerPromptRequest | None]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("flows-api"))


@pytest.fixture(scope="module")
def verifier(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


@asynccontextmanager
async def terminal(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path, profile: Profile, **kw: object
) -> AsyncIterator[tuple[tpb_grpc.TerminalServiceStub, TerminalServer]]:
    async def secure_entry(prompt: Prompt) -> Secret:  # stands in for the PIN pad
        return Secret.from_text(get_profile("default").sign_password)

    terminal_id = "atm-01" if profile is Profile.ATM else "kiosk-01"
    async with VerifierClient(client_config(env, verifier, terminal_id)) as client:
        with Journal(tmp_path / "journal.db") as journal:
            runtime = AgentRuntime.for_reader(
                "sim://default?persist=0", profile=profile, terminal_id=terminal_id,
                verifier=client, journal=journal, secure_entry=secure_entry, **kw,
            )  # fmt: skip
            address = f"unix:{tmp_path}/api.sock"
            async with (
                TerminalServer(runtime, address) as server,
                grpc.aio.insecure_channel(address) as channel,
            ):
                yield tpb_grpc.TerminalServiceStub(channel), server


async def execute(
    stub: tpb_grpc.TerminalServiceStub, request: tpb.ExecuteRequest, answer: Answer
) -> list[tpb.ExecuteResponse]:
    messages = []
    async for message in stub.Execute(request, timeout=30):
        messages.append(message)
        if message.WhichOneof("message") == "event" and message.event.prompt.prompt_id:
            reply = answer(message.event.prompt)
            if reply is not None:
                reply.request_id = request.request_id
                reply.prompt_id = message.event.prompt.prompt_id
                assert (await stub.AnswerPrompt(reply, timeout=5)).accepted
    return messages


def yes(prompt: tpb.PromptEvent) -> tpb.AnswerPromptRequest:
    return tpb.AnswerPromptRequest(confirmed=True)


def transfer(request_id: str, amount: int = 250_000, timeout_ms: int = 0) -> tpb.ExecuteRequest:
    return tpb.ExecuteRequest(
        request_id=request_id, timeout_ms=timeout_ms, transfer=transfer_command(amount)
    )


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


def test_atm_transfer_through_the_api(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with terminal(env, verifier, tmp_path, Profile.ATM) as (stub, _):
            caps = await stub.GetCapabilities(tpb.GetCapabilitiesRequest(), timeout=5)
            assert caps.transfer
            assert not caps.pin_reset
            assert not caps.touchscreen_secrets
            messages = await execute(stub, transfer("t-1"), yes)
        kinds = [m.WhichOneof("message") for m in messages]
        assert kinds[0] == "acknowledgement"
        assert messages[0].acknowledgement.accepted
        assert kinds[-1] == "completion"
        assert kinds.count("completion") == 1
        done = messages[-1].completion
        assert done.code == tpb.COMPLETION_CODE_SUCCESS
        assert done.transfer.state == vpb.TRANSFER_STATE_COMMITTED
        assert done.transfer.identity_verified
        prompts = [m.event.prompt.type for m in messages if m.event.HasField("prompt")]
        assert tpb.PROMPT_TYPE_CONFIRM_STATEMENT in prompts
        assert tpb.PROMPT_TYPE_CONFIRM_MONEY_MOVED in prompts
        password = get_profile("default").sign_password
        assert all(password not in str(m) for m in messages)

    run(scenario)


def test_kiosk_reads_with_touchscreen_pins(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path
) -> None:
    profile = get_profile("default")

    def pins(prompt: tpb.PromptEvent) -> tpb.AnswerPromptRequest:
        value = (
            profile.text_pin if prompt.type == tpb.PROMPT_TYPE_CARD_INFO_PIN else profile.auth_pin
        )
        entry = seal(prompt.entry_public_key, "r-1", prompt.prompt_id, value.encode())
        return tpb.AnswerPromptRequest(touch_entry=entry)

    async def scenario() -> None:
        async with terminal(env, verifier, tmp_path, Profile.KIOSK) as (stub, _):
            request = tpb.ExecuteRequest(
                request_id="r-1",
                read_card=tpb.ReadCardCommand(read_basic_four=True, verify_card=True),
            )
            messages = await execute(stub, request, pins)
            done = messages[-1].completion
            assert done.code == tpb.COMPLETION_CODE_SUCCESS
            assert done.read_card.name == profile.person.name
            assert done.read_card.card_verified
            refused = await execute(stub, transfer("t-2"), yes)
            assert refused[0].acknowledgement.refusal == tpb.REFUSAL_REASON_UNSUPPORTED_COMMAND
            assert len(refused) == 1

    run(scenario)


def test_busy_duplicate_cancel_and_timeout(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path
) -> None:
    async def scenario() -> None:
        timeouts = StepTimeouts(prompt=30)
        async with terminal(env, verifier, tmp_path, Profile.ATM, timeouts=timeouts) as (stub, _):
            first = stub.Execute(transfer("t-3"), timeout=30)
            async for message in first:  # wait for the statement prompt
                if message.event.prompt.prompt_id:
                    break
            busy = await execute(stub, transfer("t-4"), yes)
            assert busy[0].acknowledgement.refusal == tpb.REFUSAL_REASON_BUSY
            duplicate = await execute(stub, transfer("t-3"), yes)
            assert duplicate[0].acknowledgement.refusal == tpb.REFUSAL_REASON_DUPLICATE_REQUEST_ID
            invalid = await execute(stub, tpb.ExecuteRequest(request_id="x"), yes)
            assert invalid[0].acknowledgement.refusal == tpb.REFUSAL_REASON_INVALID_MESSAGE
            cancelled = await stub.Cancel(tpb.CancelRequest(request_ids=["t-3", "nope"]), timeout=5)
            assert list(cancelled.cancelled) == ["t-3"]
            rest = [m async for m in first]
            assert rest[-1].completion.code == tpb.COMPLETION_CODE_CANCELED
            # timeout_ms bounds the whole command: nobody answers the prompt
            timed = await execute(stub, transfer("t-5", timeout_ms=200), lambda p: None)
            assert timed[-1].completion.code == tpb.COMPLETION_CODE_TIME_OUT

    run(scenario)


def test_status_events(env: VerifierEnv, verifier: ServerThread, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with terminal(env, verifier, tmp_path, Profile.KIOSK) as (stub, server):
            await server.servicer.set_status("reader", tpb.DEVICE_STATE_ONLINE)
            watch = stub.WatchStatus(tpb.WatchStatusRequest(), timeout=10)
            first = await watch.read()
            assert first.status.state == tpb.DEVICE_STATE_ONLINE
            await server.servicer.set_status("printer", tpb.DEVICE_STATE_NO_DEVICE)
            second = await watch.read()
            assert (second.status.device, second.status.state) == (
                "printer",
                tpb.DEVICE_STATE_NO_DEVICE,
            )
            watch.cancel()
            status = await stub.GetStatus(tpb.GetStatusRequest(), timeout=5)
            assert [d.device for d in status.devices] == ["printer", "reader"]

    run(scenario)


def test_kiosk_pin_reset_through_the_api(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path
) -> None:
    from tests.flows_support import book_reset

    book_reset(env, verifier, vpb.RESET_OPERATION_SIGNING_PASSWORD)
    answers = {
        tpb.PROMPT_TYPE_AUTH_PIN: get_profile("default").auth_pin,
        tpb.PROMPT_TYPE_NEW_SECRET: "NEWPASS77",
    }

    def touch(prompt: tpb.PromptEvent) -> tpb.AnswerPromptRequest:
        value = answers[prompt.type].encode()  # type: ignore[index]
        entry = seal(prompt.entry_public_key, "reset-1", prompt.prompt_id, value)
        return tpb.AnswerPromptRequest(touch_entry=entry)

    async def scenario() -> None:
        async with terminal(env, verifier, tmp_path, Profile.KIOSK) as (stub, _):
            request = tpb.ExecuteRequest(
                request_id="reset-1",
                pin_reset=tpb.PinResetCommand(operation=vpb.RESET_OPERATION_SIGNING_PASSWORD),
            )
            messages = await execute(stub, request, touch)
        done = messages[-1].completion
        assert done.code == tpb.COMPLETION_CODE_SUCCESS, done
        assert done.pin_reset.reservation_id
        types = [m.event.prompt.type for m in messages if m.event.prompt.prompt_id]
        assert types == [
            tpb.PROMPT_TYPE_AUTH_PIN, tpb.PROMPT_TYPE_NEW_SECRET, tpb.PROMPT_TYPE_NEW_SECRET
        ]  # fmt: skip
        assert all("NEWPASS77" not in str(m) for m in messages)

    run(scenario)
