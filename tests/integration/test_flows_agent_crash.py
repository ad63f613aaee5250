# SPDX-License-Identifier: Apache-2.0
"""SIGKILL the whole ``myna-edge agent`` process at every journaled transfer step, restart it.

A real agent process (terminal.toml: sim card reader, sim receipt printer,
real verifier on 127.0.0.1 over mTLS) is driven only through its terminal
gRPC API by a small "ATM application" that records whether it dispensed
cash before it answers "did the cash move?". The test crash hook
(``MYNA_EDGE_TEST_KILL_AT``) makes the agent SIGKILL itself right after
the chosen journal write; the next agent process is started on the same
journal (armed at the next step) and recovers the previous transfer before
it serves, asking the ATM application "did the cash move?" through
WatchRecovery/AnswerRecovery for an authorised, undecided one. At the end
the verifier's records, the agent's journal and the ATM application's
record must agree for every transfer: committed exactly once when (and only
when) the cash moved, reversed otherwise, never both, never lost.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from host.journal import Effect, Journal, Phase
from hw_sim.devices import SimPrinter
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from myna.edge.v1 import verifier_pb2 as vpb
from myna_edge.chaos.atm import AtmApplication, RecoveryAnswerer
from myna_edge.chaos.consistency import check_receipts, read_ledger
from tests.flows_support import audit_actions
from tests.verifier_support import ServerThread, VerifierEnv, make_env
from verifier.tls import issue_terminal_certificate

ROOT = Path(__file__).resolve().parents[2]
COMMITTED, REVERSED = vpb.TRANSFER_STATE_COMMITTED, vpb.TRANSFER_STATE_REVERSED

# (kill after this journal write, the ATM application's answer, expected state)
STEPS = [
    (Effect.TRANSFER_AUTHORIZE, Phase.INTENT, True, REVERSED),  # never asked to dispense
    (Effect.TRANSFER_AUTHORIZE, Phase.OUTCOME, True, REVERSED),  # never asked to dispense
    (Effect.TRANSFER_DECISION, Phase.DECISION, True, COMMITTED),
    (Effect.TRANSFER_COMMIT, Phase.INTENT, True, COMMITTED),
    (Effect.TRANSFER_COMMIT, Phase.OUTCOME, True, COMMITTED),
    (Effect.RECEIPT_PRINT, Phase.INTENT, True, COMMITTED),
    (Effect.RECEIPT_PRINT, Phase.OUTCOME, True, COMMITTED),
    (Effect.TRANSFER_DECISION, Phase.DECISION, False, REVERSED),
    (Effect.TRANSFER_REVERSE, Phase.INTENT, False, REVERSED),
    (Effect.TRANSFER_REVERSE, Phase.OUTCOME, False, REVERSED),
]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("flows-agent-crash"))


@pytest.fixture
def server(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


@pytest.fixture
def agents() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:  # stop by PID whatever happened in the test
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def write_config(
    env: VerifierEnv, server: ServerThread, folder: Path, printer: str, answer_seconds: float = 10
) -> Path:
    issued = issue_terminal_certificate(env.tls, "atm-01")
    for name, data in (("ca.pem", issued.ca_pem), ("t.pem", issued.certificate_pem),
                       ("t.key", issued.key_pem)):  # fmt: skip
        (folder / name).write_bytes(data)
    path = folder / "terminal.toml"
    path.write_text(
        f'profile = "atm"\nterminal_id = "atm-01"\nreader = "sim://default?persist=0"\n'
        f'printer = "{printer}"\nlisten = "unix:{folder}/agent.sock"\n'
        f'journal = "journal.sqlite"\nelectronic_journal = "ej.txt"\n'
        f"recovery_answer_seconds = {answer_seconds}\n\n"
        f'[verifier]\ntarget = "127.0.0.1:{server.port}"\nca = "ca.pem"\n'
        f'certificate = "t.pem"\nkey = "t.key"\n',
        encoding="utf-8",
    )
    return path


def start_agent(
    procs: list[subprocess.Popen[bytes]], config: Path, kill_at: str = ""
) -> subprocess.Popen[bytes]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    environ.pop("MYNA_EDGE_TEST_KILL_AT", None)
    if kill_at:
        environ["MYNA_EDGE_TEST_KILL_AT"] = kill_at
    proc = subprocess.Popen(
        [sys.executable, "-m", "myna_edge", "agent", "--config", str(config)],
        cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    procs.append(proc)
    return proc


def wait_ready(stub: tpb_grpc.TerminalServiceStub, proc: subprocess.Popen[bytes]) -> None:
    """Until the API answers with the verifier online (recovery ran before serving)."""
    for _ in range(300):  # bounded: 30 s
        assert proc.poll() is None, "the agent exited during start-up"
        try:
            status = stub.GetStatus(tpb.GetStatusRequest(), timeout=1)
        except grpc.RpcError:
            time.sleep(0.1)
            continue
        if {d.device: d.state for d in status.devices}.get("verifier") == tpb.DEVICE_STATE_ONLINE:
            return
        time.sleep(0.1)
    raise AssertionError("the agent never became ready")


def verifier_rows(server: ServerThread) -> dict[str, tuple[int, int]]:
    """authorization_id -> (amount, state) at the verifier, read through its storage."""
    ledger = read_ledger(server.core.storage)
    return {auth: (row.amount_yen, int(row.state)) for auth, row in ledger.items()}


def test_agent_killed_at_every_journaled_step_settles_each_transfer_once(
    env: VerifierEnv, server: ServerThread, tmp_path: Path, agents: list[subprocess.Popen[bytes]]
) -> None:
    with SimPrinter(tmp_path / "paper") as printer:
        config = write_config(env, server, tmp_path, printer.url)
        with grpc.insecure_channel(f"unix:{tmp_path}/agent.sock") as channel:
            stub = tpb_grpc.TerminalServiceStub(channel)
            atm = AtmApplication(stub, None, "")  # keeps the record of dispensed cash
            dispensed = atm.dispensed  # request id -> the ATM application dispensed cash
            answerer = RecoveryAnswerer(stub, atm).__enter__()
            for i, (effect, phase, moved, _) in enumerate(STEPS):
                proc = start_agent(agents, config, f"{effect.value}:{phase.value}")
                wait_ready(stub, proc)
                amount = 10_000 + i  # under the signature threshold; tells transfers apart
                attempt = atm.transfer(f"t-{i}", amount, moved, timeout=20)
                # the stream broke off: the agent was killed at the step
                assert attempt.interrupted == "UNAVAILABLE", (effect.value, phase.value, attempt)
                assert proc.wait(timeout=10) == -signal.SIGKILL
            final = start_agent(agents, config)  # unarmed: recovers the last one
            wait_ready(stub, final)
            last = atm.transfer("t-last", 20_000, True, timeout=20)
            assert last.completion == tpb.COMPLETION_CODE_SUCCESS  # still serves
            answerer.__exit__()
            os.kill(final.pid, signal.SIGTERM)
            assert final.wait(timeout=10) == 0
            # issue 12.7: one receipt per committed transfer (5 steps + t-last),
            # recovery printing those a kill left without one
            receipts = printer.wait_receipts(6)
    # asked exactly for the one authorised, undecided transfer (killed at its
    # authorisation's outcome), and the application said no cash moved
    assert [p.request_id for p in answerer.asked] == ["t-1"]
    assert answerer.asked[0].amount_yen == 10_001

    rows = verifier_rows(server)
    by_amount = {amount: (auth, state) for auth, (amount, state) in rows.items()}
    assert len(by_amount) == len(rows) == len(STEPS) + 1  # one transfer each, none lost
    for i, (effect, phase, _, expected) in enumerate(STEPS):
        auth, state = by_amount[10_000 + i]
        assert state == expected, (effect.value, phase.value)
        # the ATM application's record agrees with the verifier
        assert dispensed.get(f"t-{i}", False) == (state == COMMITTED), (effect.value, phase.value)
        actions = audit_actions(server, auth)
        assert actions.count("COMMIT_TRANSFER") + actions.count("REVERSE_TRANSFER") == 1, actions
    assert by_amount[20_000][1] == COMMITTED
    assert dispensed["t-last"]

    with Journal(tmp_path / "journal.sqlite") as journal:
        assert journal.unresolved_transfers() == []
        settled: dict[str, str] = {}
        for entry in journal.entries():
            if entry.phase is Phase.OUTCOME and entry.effect in (
                Effect.TRANSFER_COMMIT, Effect.TRANSFER_REVERSE
            ):  # fmt: skip
                auth = str(entry.data["authorization_id"])
                assert auth not in settled, "settled twice in the journal"
                settled[auth] = entry.effect.value
    for auth, (_, state) in rows.items():
        want = Effect.TRANSFER_COMMIT if state == COMMITTED else Effect.TRANSFER_REVERSE
        assert settled[auth] == want.value

    # Receipts: at least one per committed transfer, never two originals, none
    # for a reversed one; killed right after the print intent, the one recovery
    # prints says 再発行 (it is unknown whether the original came out).
    committed = {auth for auth, (_, state) in rows.items() if state == COMMITTED}
    assert len(receipts) == len(committed) == 6
    printed, reprinted = check_receipts(tmp_path / "paper", committed)
    assert (printed, reprinted) == (6, 1)
    by_amount_auth = {amount: auth for auth, (amount, _) in rows.items()}
    intent_step = next(
        i for i, s in enumerate(STEPS) if s[:2] == (Effect.RECEIPT_PRINT, Phase.INTENT)
    )
    reprint = next(r.text() for r in receipts if "REPRINT" in r.text())
    assert f"REF {by_amount_auth[10_000 + intent_step]}" in reprint


async def leave_an_authorised_transfer(
    env: VerifierEnv, server: ServerThread, journal_path: Path, request_id: str
) -> str:
    """What a crash between the authorisation's outcome and the decision leaves behind."""
    from host.client import SessionPurpose, VerifierClient
    from host.flows.authorize_record import authorize_request_data
    from tests.flows_support import client_config, transfer_request

    async with VerifierClient(client_config(env, server)) as client:
        session = await client.open_session(SessionPurpose.TRANSFER, f"{request_id}.session")
        r = transfer_request(70_000)
        statement = r.bind(nonce=session.nonce, terminal_id="atm-01")
        auth = await client.authorize_transfer(
            session.session_id, statement, None, f"{request_id}.authorize"
        )
    with Journal(journal_path) as journal:
        data = authorize_request_data(session.session_id, statement, None)
        data["request_id"] = request_id
        journal.record("op-7", "transfer", Effect.TRANSFER_AUTHORIZE, Phase.INTENT,
                       idempotency_key=f"{request_id}.authorize", data=data)  # fmt: skip
        outcome = {"accepted": True, "authorization_id": auth.authorization_id}
        journal.record("op-7", "transfer", Effect.TRANSFER_AUTHORIZE, Phase.OUTCOME,
                       idempotency_key=f"{request_id}.authorize", data=outcome)  # fmt: skip
    return auth.authorization_id


@pytest.mark.parametrize("answer", [True, False, None])  # None: nobody answers in time
def test_recovery_asks_the_atm_application_through_the_api(
    env: VerifierEnv, server: ServerThread, tmp_path: Path, answer: bool | None
) -> None:
    import asyncio

    import grpc.aio

    from host.agent import Agent, load_agent_config

    seconds = 10 if answer is not None else 0.3
    config = load_agent_config(write_config(env, server, tmp_path, "", seconds))
    config = dataclasses.replace(config, printer=None)

    async def scenario() -> tuple[str, list[tpb.RecoveryPrompt], int, bool]:
        auth_id = await leave_an_authorised_transfer(env, server, config.journal, "atm-req-7")
        agent = Agent(config)
        starting = asyncio.ensure_future(agent.start())
        asked: list[tpb.RecoveryPrompt] = []
        refusal, again = 0, False
        try:
            async with grpc.aio.insecure_channel(f"unix:{tmp_path}/agent.sock") as channel:
                stub = tpb_grpc.TerminalServiceStub(channel)
                if answer is not None:
                    for _ in range(100):  # bounded: until the API is up
                        try:
                            watch = stub.WatchRecovery(tpb.WatchRecoveryRequest())
                            asked.append(await watch.read())  # type: ignore[arg-type]
                            break
                        except grpc.aio.AioRpcError:
                            await asyncio.sleep(0.05)
                    busy = stub.Execute(tpb.ExecuteRequest(request_id="new-1", read_card=
                                        tpb.ReadCardCommand(read_basic_four=True)))  # fmt: skip
                    refusal = (await busy.read()).acknowledgement.refusal  # type: ignore[union-attr]
                    reply = tpb.AnswerRecoveryRequest(
                        recovery_id=asked[0].recovery_id, cash_moved=answer
                    )
                    assert (await stub.AnswerRecovery(reply, timeout=5)).accepted
                    again = (await stub.AnswerRecovery(reply, timeout=5)).accepted
                    watch.cancel()
                await asyncio.wait_for(starting, 30)
        finally:
            if not starting.done():
                starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            await agent.stop()
        return auth_id, asked, refusal, again

    auth_id, asked, refusal, again = asyncio.run(scenario())
    state = verifier_rows(server)[auth_id][1]
    assert state == (COMMITTED if answer else REVERSED)
    if answer is not None:
        assert [(p.request_id, p.authorization_id, p.amount_yen) for p in asked] == [
            ("atm-req-7", auth_id, 70_000)
        ]
        assert refusal == tpb.REFUSAL_REASON_BUSY  # no new command while it waits
        assert not again  # answered once
    actions = audit_actions(server, auth_id)
    assert actions.count("COMMIT_TRANSFER") + actions.count("REVERSE_TRANSFER") == 1
