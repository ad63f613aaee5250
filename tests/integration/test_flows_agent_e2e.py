# SPDX-License-Identifier: Apache-2.0
"""The agent process's start-up: recovery before the API, then serving on a Unix socket.

A journal left by a crash holds an authorised, undecided transfer (really
authorised at the verifier); the agent reverses it before accepting
commands, serves TerminalService, and the CLI refuses a bad config with
status 2. Real verifier over mTLS, real grpc.aio server.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import grpc.aio
import pytest

from host.agent import Agent, load_agent_config
from host.agent.cli import run_agent
from host.card import CredentialKind, KeyKind
from host.client import CardProof, SessionPurpose, VerifierClient
from host.flows import RecoveryResult, recover_transfers
from host.flows.authorize_record import authorize_request_data
from host.journal import Effect, Journal, Phase, TransferRecovery
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from myna.edge.v1 import verifier_pb2 as vpb
from tests.flows_support import client_config, transfer_request, transfer_rows
from tests.verifier_support import (
    ServerThread,
    VerifierEnv,
    card_certificate,
    card_sign,
    make_env,
)
from verifier.tls import issue_terminal_certificate


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("flows-agent"))


@pytest.fixture
def server(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


def terminal_toml(env: VerifierEnv, server: ServerThread, tmp_path: Path) -> Path:
    issued = issue_terminal_certificate(env.tls, "atm-01")
    for name, data in (("ca.pem", issued.ca_pem), ("t.pem", issued.certificate_pem),
                       ("t.key", issued.key_pem)):  # fmt: skip
        (tmp_path / name).write_bytes(data)
    path = tmp_path / "terminal.toml"
    path.write_text(
        f'profile = "atm"\nterminal_id = "atm-01"\nreader = "sim://default?persist=0"\n'
        f'listen = "unix:{tmp_path}/agent.sock"\njournal = "journal.sqlite"\n'
        f'electronic_journal = "ej.txt"\n\n[verifier]\ntarget = "127.0.0.1:{server.port}"\n'
        f'ca = "ca.pem"\ncertificate = "t.pem"\nkey = "t.key"\n',
        encoding="utf-8",
    )
    return path


async def leave_an_authorised_transfer(
    env: VerifierEnv, server: ServerThread, journal_path: Path
) -> str:
    """What a crash right after AuthorizeTransfer's journaled outcome leaves behind."""
    async with VerifierClient(client_config(env, server)) as client:
        session = await client.open_session(SessionPurpose.TRANSFER, "crash.session")
        r = transfer_request(50_000)
        statement = r.bind(nonce=session.nonce, terminal_id="atm-01")
        auth = await client.authorize_transfer(
            session.session_id, statement, None, "crash.authorize"
        )
    with Journal(journal_path) as journal:
        data = authorize_request_data(session.session_id, statement, None)
        journal.record("crash", "transfer", Effect.TRANSFER_AUTHORIZE, Phase.INTENT,
                       idempotency_key="crash.authorize", data=data)  # fmt: skip
        outcome = {"accepted": True, "authorization_id": auth.authorization_id}
        journal.record("crash", "transfer", Effect.TRANSFER_AUTHORIZE, Phase.OUTCOME,
                       idempotency_key="crash.authorize", data=outcome)  # fmt: skip
    return auth.authorization_id


def test_agent_recovers_then_serves(env: VerifierEnv, server: ServerThread, tmp_path: Path) -> None:
    # nobody watches WatchRecovery: only recovery_answer_seconds (short here)
    # reverses the undecided transfer unasked
    config = dataclasses.replace(
        load_agent_config(terminal_toml(env, server, tmp_path)), recovery_answer_seconds=0.2
    )

    async def scenario() -> str:
        auth_id = await leave_an_authorised_transfer(env, server, config.journal)
        agent = Agent(config)
        address = await agent.start()
        try:
            assert transfer_rows(server)[auth_id] == vpb.TRANSFER_STATE_REVERSED  # before serving
            async with grpc.aio.insecure_channel(address) as channel:
                stub = tpb_grpc.TerminalServiceStub(channel)
                caps = await stub.GetCapabilities(tpb.GetCapabilitiesRequest(), timeout=5)
                status = await stub.GetStatus(tpb.GetStatusRequest(), timeout=5)
            assert caps.profile == tpb.TERMINAL_PROFILE_ATM
            states = {d.device: d.state for d in status.devices}
            assert states["verifier"] == tpb.DEVICE_STATE_ONLINE
            assert states["printer"] == tpb.DEVICE_STATE_NO_DEVICE
        finally:
            await agent.stop()
            await agent.stop()  # harmless twice
        return auth_id

    asyncio.run(scenario())
    ej = (tmp_path / "ej.txt").read_text(encoding="utf-8")
    assert "AGENT-START" in ej
    assert "TRANSFER-REVERSE" in ej
    assert "AGENT-STOP" in ej


def test_verifier_down_at_start_is_reported_and_retried(
    env: VerifierEnv, server: ServerThread, tmp_path: Path
) -> None:
    config = load_agent_config(terminal_toml(env, server, tmp_path))

    async def scenario() -> None:
        auth_id = await leave_an_authorised_transfer(env, server, config.journal)
        server.stop()
        agent = Agent(config, retry_interval=0.05)
        address = await agent.start()
        try:
            async with grpc.aio.insecure_channel(address) as channel:
                stub = tpb_grpc.TerminalServiceStub(channel)
                status = await stub.GetStatus(tpb.GetStatusRequest(), timeout=5)
            states = {d.device: d.state for d in status.devices}
            assert states["verifier"] == tpb.DEVICE_STATE_OFFLINE
            assert agent.journal is not None
            (plan,) = agent.journal.unresolved_transfers()
            assert plan.authorization_id == auth_id
            # Regression (hung for recovery_answer_seconds): the cash question
            # is not put while the verifier cannot act on the answer, and an
            # unanswered one is not decided "reverse" meanwhile.
            assert not agent.desk.waiting
            assert plan.decision is None
        finally:
            await agent.stop()

    asyncio.run(scenario())


def test_verifier_back_after_an_empty_start_is_reported_online(
    env: VerifierEnv, server: ServerThread, tmp_path: Path
) -> None:
    # Regression (crash campaign): an agent started during a verifier outage
    # with nothing to recover said "offline" for a whole recovery interval.
    config = load_agent_config(terminal_toml(env, server, tmp_path))
    port = server.port
    server.stop()
    back = ServerThread(dataclasses.replace(server.config, listen=f"127.0.0.1:{port}"))

    async def scenario() -> list[int]:
        agent = Agent(config, retry_interval=0.05, recovery_interval=300.0)
        address = await agent.start()
        seen = []
        try:
            async with grpc.aio.insecure_channel(address) as channel:
                stub = tpb_grpc.TerminalServiceStub(channel)
                for step in range(101):  # bounded: 5 s after the verifier is back
                    status = await stub.GetStatus(tpb.GetStatusRequest(), timeout=5)
                    state = {d.device: d.state for d in status.devices}["verifier"]
                    if step == 0:
                        seen.append(state)
                        await asyncio.to_thread(back.start)
                    elif state == tpb.DEVICE_STATE_ONLINE:
                        break
                    await asyncio.sleep(0.05)
                seen.append(state)
        finally:
            await agent.stop()
            await asyncio.to_thread(back.stop)
        return seen

    assert asyncio.run(scenario()) == [tpb.DEVICE_STATE_OFFLINE, tpb.DEVICE_STATE_ONLINE]


def test_cli_refuses_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "terminal.toml"
    path.write_text('profile = "bank"\n', encoding="utf-8")
    assert run_agent(argparse.Namespace(config=path)) == 2
    assert "profile" in capsys.readouterr().err


def test_absent_controller_is_reported_and_the_agent_serves(
    env: VerifierEnv, server: ServerThread, tmp_path: Path
) -> None:
    path = terminal_toml(env, server, tmp_path)
    (tmp_path / "board.key").write_text("11" * 32)
    text = path.read_text(encoding="utf-8").replace(
        'reader = "sim://default?persist=0"',
        'reader = "sim://default?persist=0"\ncontroller = "/dev/nonexistent-board"\n'
        'controller_key = "board.key"',
    )
    path.write_text(text, encoding="utf-8")
    config = load_agent_config(path)

    async def scenario() -> None:
        agent = Agent(config)
        address = await agent.start()
        try:
            async with grpc.aio.insecure_channel(address) as channel:
                stub = tpb_grpc.TerminalServiceStub(channel)
                status = await stub.GetStatus(tpb.GetStatusRequest(), timeout=5)
            states = {d.device: d.state for d in status.devices}
            assert states["controller"] == tpb.DEVICE_STATE_NO_DEVICE
            assert states["reader"] == tpb.DEVICE_STATE_ONLINE
        finally:
            await agent.stop()

    asyncio.run(scenario())


def test_idle_agent_resolves_leftovers(
    env: VerifierEnv, server: ServerThread, tmp_path: Path
) -> None:
    # nobody watches WatchRecovery: the question goes unanswered for
    # recovery_answer_seconds (short here), the only thing that reverses unasked
    config = dataclasses.replace(
        load_agent_config(terminal_toml(env, server, tmp_path)), recovery_answer_seconds=0.2
    )

    async def scenario() -> None:
        agent = Agent(config, recovery_interval=0.05)
        await agent.start()
        try:
            # a flow that failed while the verifier was unreachable left this
            auth_id = await leave_an_authorised_transfer(env, server, config.journal)
            for _ in range(100):
                if transfer_rows(server).get(auth_id) == vpb.TRANSFER_STATE_REVERSED:
                    break
                await asyncio.sleep(0.05)
            assert transfer_rows(server)[auth_id] == vpb.TRANSFER_STATE_REVERSED
        finally:
            await agent.stop()

    asyncio.run(scenario())


def test_transfer_through_the_agent_with_a_printer(
    env: VerifierEnv, server: ServerThread, tmp_path: Path
) -> None:
    from host.flows import Prompt
    from host.secret import Secret
    from hw_sim.card import get_profile
    from hw_sim.devices import SimPrinter

    with SimPrinter(tmp_path / "out") as sim:
        path = terminal_toml(env, server, tmp_path)
        text = path.read_text(encoding="utf-8")
        path.write_text(f'printer = "{sim.url}"\n' + text, encoding="utf-8")
        config = load_agent_config(path)

        async def pad(prompt: Prompt) -> Secret:  # stands in for the secure PIN pad
            return Secret.from_text(get_profile("default").sign_password)

        async def scenario() -> tuple[tpb.Completion, dict[str, int]]:
            agent = Agent(config, secure_entry=pad)
            address = await agent.start()
            try:
                async with grpc.aio.insecure_channel(address) as channel:
                    stub = tpb_grpc.TerminalServiceStub(channel)
                    request = tpb.ExecuteRequest(
                        request_id="t-1",
                        transfer=tpb.TransferCommand(
                            amount_yen=250_000, payee_bank_code="0001", payee_branch_code="123",
                            payee_account_type=vpb.ACCOUNT_TYPE_ORDINARY,
                            payee_account_number="1234567", payee_name="ヤマダ　ハナコ",
                            remitter_name="ヤマダ　タロウ", remitter_phone="03-1234-5678",
                        ),
                    )  # fmt: skip
                    done = tpb.Completion()
                    async for message in stub.Execute(request, timeout=30):
                        prompt = message.event.prompt
                        if prompt.prompt_id:
                            answer = tpb.AnswerPromptRequest(
                                request_id="t-1", prompt_id=prompt.prompt_id, confirmed=True
                            )
                            await stub.AnswerPrompt(answer, timeout=5)
                        if message.HasField("completion"):
                            done = message.completion
                    status = await stub.GetStatus(tpb.GetStatusRequest(), timeout=5)
            finally:
                await agent.stop()
            return done, {d.device: d.state for d in status.devices}

        done, states = asyncio.run(scenario())
        (receipt,) = sim.wait_receipts(1)
    assert done.code == tpb.COMPLETION_CODE_SUCCESS
    assert done.transfer.receipt_printed
    assert f"REF {done.transfer.authorization_id}" in receipt.text()
    assert states["printer"] == tpb.DEVICE_STATE_ONLINE


def test_a_stop_during_the_start_up_question_is_honoured_at_once(
    env: VerifierEnv, server: ServerThread, tmp_path: Path
) -> None:
    # Start-up recovery may wait recovery_answer_seconds (120 s by default) for
    # the ATM application; SIGTERM meanwhile used to wait it out. Stopped, the
    # question stays undecided in the journal (asked again at the next start).
    config = load_agent_config(terminal_toml(env, server, tmp_path))
    assert config.recovery_answer_seconds == 120.0

    async def scenario() -> tuple[str, bool, str | None]:
        auth_id = await leave_an_authorised_transfer(env, server, config.journal)
        agent = Agent(config)
        running = asyncio.ensure_future(agent.run())
        for _ in range(200):  # bounded: 10 s, until the question is put
            if agent.desk.waiting:
                break
            await asyncio.sleep(0.05)
        asked = agent.desk.waiting
        agent.request_stop()
        await asyncio.wait_for(running, 30)  # a hang detector, far below the 120 s
        with Journal(config.journal) as journal:
            (plan,) = journal.unresolved_transfers()
        assert plan.authorization_id == auth_id
        return auth_id, asked, plan.decision

    auth_id, asked, decision = asyncio.run(scenario())
    assert asked
    assert decision is None  # neither reversed nor committed: nobody answered
    assert transfer_rows(server)[auth_id] == vpb.TRANSFER_STATE_AUTHORIZED


@pytest.mark.parametrize("presented", [CredentialKind.CARD, CredentialKind.ANDROID, None])
def test_a_lost_signed_authorisation_is_learnt_from_the_real_verifier(
    env: VerifierEnv, server: ServerThread, tmp_path: Path, presented: CredentialKind | None
) -> None:
    # The agent died after the signed AuthorizeTransfer reached the verifier and
    # before its answer was journaled: recovery repeats it from the journal, and
    # the verifier must see the same request under the key (the proof's claim of
    # what was presented included), or it refuses it as IDEMPOTENCY_KEY_REUSED.
    async def scenario() -> tuple[str, list[RecoveryResult]]:
        async with VerifierClient(client_config(env, server)) as client:
            session = await client.open_session(SessionPurpose.TRANSFER, "lost.session")
            statement = transfer_request(250_000).bind(nonce=session.nonce, terminal_id="atm-01")
            signature = card_sign("default", KeyKind.SIGN, statement.digest())
            proof = CardProof(card_certificate("default", KeyKind.SIGN), signature, presented)
            data = authorize_request_data(session.session_id, statement, proof)
            with Journal(tmp_path / "journal.sqlite") as journal:
                journal.record("lost", "transfer", Effect.TRANSFER_AUTHORIZE, Phase.INTENT,
                               idempotency_key="lost.authorize", data=data)  # fmt: skip
                first = await client.authorize_transfer(
                    session.session_id, statement, proof, "lost.authorize"
                )  # the answer the crash lost
                results = await recover_transfers(journal, client, _never_asked)
                assert journal.unresolved_transfers() == []
        assert first.accepted
        assert first.identity_verified
        return first.authorization_id, results

    auth_id, results = asyncio.run(scenario())
    assert [(r.authorization_id, r.action) for r in results] == [(auth_id, "reverse")]
    assert transfer_rows(server)[auth_id] == vpb.TRANSFER_STATE_REVERSED


async def _never_asked(plan: TransferRecovery) -> bool:
    raise AssertionError("an authorisation whose answer was lost is reversed unasked")
