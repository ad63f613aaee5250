# SPDX-License-Identifier: Apache-2.0
"""SIGKILL the agent mid-transfer at each journaled step; recovery settles it exactly once.

A child process runs the real transfer flow (verifier over mTLS, virtual
card) and freezes right after the chosen journal write; the test kills it
with SIGKILL by PID, then runs start-up recovery against the same journal
and checks the verifier's own records: one transfer, committed or reversed,
never both, and a second recovery finds nothing left to do.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.client import VerifierClient
from host.flows import recover_transfers
from host.journal import Effect, Journal, Phase, TransferRecovery
from myna.edge.v1 import verifier_pb2 as pb
from tests.flows_support import audit_actions, client_config, transfer_rows
from tests.verifier_support import ServerThread, VerifierEnv, make_env
from verifier.tls import issue_terminal_certificate

ROOT = Path(__file__).resolve().parents[2]
COMMITTED, REVERSED = pb.TRANSFER_STATE_COMMITTED, pb.TRANSFER_STATE_REVERSED


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("flows-crash"))


@pytest.fixture
def server(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


@pytest.fixture
def child_procs() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:  # stop by PID whatever happened in the test
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


def run_child_until(
    procs: list[subprocess.Popen[str]], args: list[str], timeout: float = 30.0
) -> str:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.flows_crash_child", *args],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    procs.append(proc)
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        assert sel.select(timeout), "the child never reached its step"
    line = proc.stdout.readline().strip()
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=10) in (-signal.SIGKILL, 0)
    return line


@pytest.mark.parametrize(
    ("effect", "phase", "money_moved", "expected"),
    [
        (Effect.TRANSFER_AUTHORIZE, Phase.INTENT, True, REVERSED),  # the ATM was never asked
        (Effect.TRANSFER_AUTHORIZE, Phase.OUTCOME, True, COMMITTED),
        (Effect.TRANSFER_AUTHORIZE, Phase.OUTCOME, False, REVERSED),
        (Effect.TRANSFER_DECISION, Phase.DECISION, False, COMMITTED),  # decision wins
        (Effect.TRANSFER_COMMIT, Phase.INTENT, False, COMMITTED),
        (Effect.TRANSFER_COMMIT, Phase.OUTCOME, False, COMMITTED),
    ],
)
def test_killed_transfer_is_settled_exactly_once(
    env: VerifierEnv,
    server: ServerThread,
    tmp_path: Path,
    child_procs: list[subprocess.Popen[str]],
    effect: Effect,
    phase: Phase,
    money_moved: bool,
    expected: int,
) -> None:
    issued = issue_terminal_certificate(env.tls, "atm-01")
    files = {"ca": issued.ca_pem, "cert": issued.certificate_pem, "key": issued.key_pem}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    journal_path = tmp_path / "journal.db"
    line = run_child_until(
        child_procs,
        [str(journal_path), str(server.port), *(str(tmp_path / n) for n in files),
         effect.value, phase.value],
    )  # fmt: skip
    assert line.startswith("AT "), line
    asked: list[TransferRecovery] = []

    async def ask(plan: TransferRecovery) -> bool:
        asked.append(plan)
        return money_moved

    async def recover() -> tuple[int, int]:
        with Journal(journal_path) as journal:
            async with VerifierClient(client_config(env, server)) as client:
                first = await recover_transfers(journal, client, ask)
                second = await recover_transfers(journal, client, ask)
        return len(first), len(second)

    first, second = asyncio.run(recover())
    assert second == 0
    assert first == (0 if (effect, phase) == (Effect.TRANSFER_COMMIT, Phase.OUTCOME) else 1)
    assert len(asked) == (1 if (effect, phase) == (Effect.TRANSFER_AUTHORIZE, Phase.OUTCOME) else 0)
    rows = transfer_rows(server)
    assert list(rows.values()) == [expected]
    (auth_id,) = rows
    actions = audit_actions(server, auth_id)
    assert actions.count("COMMIT_TRANSFER") + actions.count("REVERSE_TRANSFER") == 1


@pytest.mark.parametrize(("phase", "card_took_it"), [(Phase.INTENT, False), (Phase.OUTCOME, True)])
def test_killed_reset_is_confirmed_once(
    env: VerifierEnv,
    server: ServerThread,
    tmp_path: Path,
    child_procs: list[subprocess.Popen[str]],
    phase: Phase,
    card_took_it: bool,
) -> None:
    from host.flows import recover_resets
    from tests.flows_support import book_reset

    booking = book_reset(env, server, pb.RESET_OPERATION_SIGNING_PASSWORD)
    issued = issue_terminal_certificate(env.tls, "kiosk-01")
    files = {"ca": issued.ca_pem, "cert": issued.certificate_pem, "key": issued.key_pem}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    journal_path = tmp_path / "journal.db"
    line = run_child_until(
        child_procs,
        [str(journal_path), str(server.port), *(str(tmp_path / n) for n in files),
         Effect.RESET_CARD.value, phase.value, "reset"],
    )  # fmt: skip
    assert line.startswith("AT "), line

    async def recover() -> tuple[int, int]:
        with Journal(journal_path) as journal:
            async with VerifierClient(client_config(env, server, "kiosk-01")) as client:
                first = await recover_resets(journal, client)
                second = await recover_resets(journal, client)
        assert [r.card_outcome for r in first] == [True if card_took_it else None]
        return len(first), len(second)

    assert asyncio.run(recover()) == (1, 0)
    actions = audit_actions(server, booking.reservation_id)
    assert actions.count("CONFIRM_RESET") == 1
