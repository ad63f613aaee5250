# SPDX-License-Identifier: Apache-2.0
"""The counter check (issue 21) through the terminal API, over a real gRPC socket.

Real TerminalServer on a Unix socket, the agent's runtime on the ``counter``
profile, the virtual card over ``sim://`` with the test PKI's issuer key.
Staff answer 照合番号B sealed to the prompt's key, as a kiosk PIN: a wrong
code re-prompts with one try fewer, the chip's face and photo reach the
comparison prompt and the completion, the AML file gets one record, and the
code appears in no event, log line, journal or AML byte.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import grpc.aio
import pytest

from host.api import AgentRuntime, Profile, TerminalServer
from host.api.touch_entry import seal
from host.cli import load_issuer_key
from host.client import VerifierClient
from host.flows.aml_record import JsonLinesAmlFile
from host.journal import ElectronicJournal, Journal
from host.transport.sim import sim_trust_dir
from hw_sim.card import get_profile
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from tests.flows_support import client_config
from tests.verifier_support import ServerThread, VerifierEnv, make_env

READER = "sim://default?persist=0"
PROFILE = get_profile("default")
CODE_B = PROFILE.verification_code_b
WRONG_B = CODE_B[:10] + ("0000" if CODE_B[10:] != "0000" else "1111")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("counter-api"))


@pytest.fixture(scope="module")
def verifier(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


@asynccontextmanager
async def desk(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path
) -> AsyncIterator[tpb_grpc.TerminalServiceStub]:
    """A counter-profile agent runtime served on a Unix socket, and a client stub."""
    key = load_issuer_key(sim_trust_dir(READER))
    async with VerifierClient(client_config(env, verifier, "desk-01")) as client:
        with Journal(tmp_path / "journal.db") as journal:
            runtime = AgentRuntime.for_reader(
                READER,
                profile=Profile.COUNTER,
                terminal_id="desk-01",
                verifier=client,
                journal=journal,
                ejournal=ElectronicJournal(tmp_path / "ej.txt", "desk-01"),
                issuer_key=key,
                aml_file=JsonLinesAmlFile(tmp_path / "aml.jsonl"),
            )
            address = f"unix:{tmp_path}/api.sock"
            async with (
                TerminalServer(runtime, address),
                grpc.aio.insecure_channel(address) as channel,
            ):
                yield tpb_grpc.TerminalServiceStub(channel)


async def check(
    stub: tpb_grpc.TerminalServiceStub,
    request_id: str,
    codes: list[str],
    *,
    same: bool,
    holder_pin: bool = False,
) -> list[tpb.ExecuteResponse]:
    """Run a counter check: each 照合番号B prompt gets the next code, sealed; photo: ``same``."""
    command = tpb.CounterCheckCommand(staff_id="staff-7", holder_pin=holder_pin)
    request = tpb.ExecuteRequest(request_id=request_id, counter_check=command)
    messages, left = [], list(codes)
    async for message in stub.Execute(request, timeout=30):
        messages.append(message)
        prompt = message.event.prompt
        if not prompt.prompt_id:
            continue
        reply = tpb.AnswerPromptRequest(request_id=request_id, prompt_id=prompt.prompt_id)
        if prompt.type == tpb.PROMPT_TYPE_VERIFICATION_CODE:
            code = left.pop(0).encode()
            reply.touch_entry.CopyFrom(
                seal(prompt.entry_public_key, request_id, prompt.prompt_id, code)
            )
        elif prompt.type == tpb.PROMPT_TYPE_AUTH_PIN:  # the holder types it on the screen
            pin = PROFILE.auth_pin.encode()
            reply.touch_entry.CopyFrom(
                seal(prompt.entry_public_key, request_id, prompt.prompt_id, pin)
            )
        else:
            assert prompt.type == tpb.PROMPT_TYPE_CONFIRM_PHOTO
            reply.confirmed = same
        assert (await stub.AnswerPrompt(reply, timeout=5)).accepted
    return messages


def code_prompts(messages: list[tpb.ExecuteResponse]) -> list[tpb.PromptEvent]:
    return [
        m.event.prompt for m in messages if m.event.prompt.type == tpb.PROMPT_TYPE_VERIFICATION_CODE
    ]


def assert_no_code(data: bytes) -> None:
    for code in (CODE_B, WRONG_B):
        assert code.encode() not in data
        assert code.encode("utf-16-le") not in data
        assert code.encode().hex().encode() not in data


def test_counter_check_end_to_end_with_a_wrong_code_first(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> list[tpb.ExecuteResponse]:
        async with desk(env, verifier, tmp_path) as stub:
            caps = await stub.GetCapabilities(tpb.GetCapabilitiesRequest(), timeout=5)
            assert caps.profile == tpb.TERMINAL_PROFILE_COUNTER
            assert caps.counter_check
            assert caps.touchscreen_secrets
            assert not caps.transfer
            assert not caps.pin_reset
            return await check(stub, "c-1", [WRONG_B, CODE_B], same=True)

    messages = asyncio.run(scenario())
    assert messages[0].acknowledgement.accepted
    first, second = code_prompts(messages)
    assert first.tries_left > 1
    assert second.tries_left == first.tries_left - 1  # the wrong code cost one try
    assert first.entry_public_key != second.entry_public_key
    assert first.message.key == "prompt.verification_code"
    done = messages[-1].completion
    assert done.code == tpb.COMPLETION_CODE_SUCCESS
    assert done.reason == tpb.COMPLETION_REASON_UNSPECIFIED
    result = done.counter_check
    assert result.verdict == tpb.FACE_VERDICT_GENUINE
    assert result.photo_compared
    assert result.card_face.name == PROFILE.person.name
    assert result.card_face.birth_date
    assert result.card_face.photo_png.startswith(PNG_MAGIC)
    photo_prompts = [m.event.prompt for m in messages if m.event.prompt.HasField("card_face")]
    assert len(photo_prompts) == 1
    assert photo_prompts[0].card_face.photo_png == result.card_face.photo_png
    aml = (tmp_path / "aml.jsonl").read_bytes()
    assert b'"staff_id": "staff-7"' in aml
    assert b'"verdict": "genuine"' in aml
    assert PROFILE.person.my_number.encode() not in aml
    # 照合番号B in no event, no log line, no journal, no AML record.
    for message in messages:
        assert_no_code(message.SerializeToString())
        assert_no_code(str(message).encode())
    assert_no_code(caplog.text.encode())
    assert_no_code(aml)
    for path in tmp_path.iterdir():
        if path.is_file():
            assert_no_code(path.read_bytes())


def test_photo_mismatch_refuses_the_check(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path
) -> None:
    async def scenario() -> list[tpb.ExecuteResponse]:
        async with desk(env, verifier, tmp_path) as stub:
            return await check(stub, "c-2", [CODE_B], same=False)

    messages = asyncio.run(scenario())
    done = messages[-1].completion
    assert done.code == tpb.COMPLETION_CODE_COMMAND_ERROR
    assert done.reason == tpb.COMPLETION_REASON_PHOTO_MISMATCH
    assert done.message.key == "result.photo_mismatch"
    assert done.message.ja
    assert not done.counter_check.photo_compared
    assert b'"photo_compared": false' in (tmp_path / "aml.jsonl").read_bytes()


def test_holder_pin_has_the_verifier_check_the_certificate(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> list[tpb.ExecuteResponse]:
        async with desk(env, verifier, tmp_path) as stub:
            return await check(stub, "c-3", [CODE_B], same=True, holder_pin=True)

    messages = asyncio.run(scenario())
    types = [m.event.prompt.type for m in messages if m.event.HasField("prompt")]
    assert tpb.PROMPT_TYPE_AUTH_PIN in types
    done = messages[-1].completion
    assert done.code == tpb.COMPLETION_CODE_SUCCESS
    assert done.counter_check.verdict == tpb.FACE_VERDICT_GENUINE
    for message in messages:
        assert PROFILE.auth_pin.encode() not in message.SerializeToString()
    assert_no_code(caplog.text.encode())


def test_wrong_codes_until_the_lock_out_end_with_the_code_blocked(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path
) -> None:
    async def scenario() -> list[tpb.ExecuteResponse]:
        async with desk(env, verifier, tmp_path) as stub:
            return await check(stub, "c-4", [WRONG_B] * 20, same=True)

    messages = asyncio.run(scenario())
    prompts = code_prompts(messages)
    assert [p.tries_left for p in prompts] == list(range(prompts[0].tries_left, 0, -1))
    assert prompts[-1].last_try
    assert any(m.event.last_try_warning.type == tpb.PROMPT_TYPE_VERIFICATION_CODE for m in messages)
    done = messages[-1].completion
    assert done.code == tpb.COMPLETION_CODE_USER_ERROR
    assert done.reason == tpb.COMPLETION_REASON_VERIFICATION_CODE_BLOCKED
    assert "照合番号B" in done.message.ja
    assert not (tmp_path / "aml.jsonl").exists()  # nothing was read: nothing to record


def test_the_face_leaves_the_agent_once_delivered(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path
) -> None:
    """Finished commands are kept for Attach and GetCommandOutcome, without the card face.

    The stream that ran the check got the face; afterwards the agent answers
    with the verdict and the check id only, and no message it keeps holds
    the name, the address or the photo.
    """

    async def scenario() -> tuple[list[tpb.ExecuteResponse], ...]:
        async with desk(env, verifier, tmp_path) as stub:
            streamed = await check(stub, "c-5", [CODE_B], same=True)
            outcome = await stub.GetCommandOutcome(
                tpb.GetCommandOutcomeRequest(request_id="c-5"), timeout=5
            )
            attached = [
                m async for m in stub.Attach(tpb.AttachRequest(request_id="c-5"), timeout=5)
            ]
            return streamed, [tpb.ExecuteResponse(completion=outcome.completion)], attached

    streamed, asked, attached = asyncio.run(scenario())
    assert streamed[-1].completion.counter_check.card_face.name == PROFILE.person.name
    assert any(m.event.prompt.HasField("card_face") for m in streamed)
    assert len(attached) == len(streamed)  # the whole log replays, face excepted
    for message in (*asked, *attached):
        data = message.SerializeToString()
        assert PROFILE.person.name.encode() not in data
        assert PNG_MAGIC not in data
        assert not message.event.prompt.HasField("card_face")
    for done in (asked[0].completion, attached[-1].completion):
        result = done.counter_check
        assert done.code == tpb.COMPLETION_CODE_SUCCESS
        assert result.verdict == tpb.FACE_VERDICT_GENUINE
        assert result.check_id == streamed[-1].completion.counter_check.check_id
        assert not result.HasField("card_face")
