# SPDX-License-Identifier: Apache-2.0
"""The ATM transfer flow end to end: real verifier over mTLS, virtual card over sim://.

Happy path over and under the ¥100,000 threshold, a wrong password, a
revoked card, the ATM declining the money movement (reversal), the verifier
down; each checks the verifier's own records, the journal and the operator's
electronic journal, and that the password appears in none of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.client import TransferState, VerifierClient
from host.flows import (
    Event,
    FlowResult,
    LastTryWarning,
    Outcome,
    Prompt,
    PromptKind,
    RemoveCard,
    ThreadedCard,
    TransferFlow,
    TransferOutcome,
)
from host.journal import ElectronicJournal, Journal
from hw_sim.card import get_profile
from hw_sim.devices.escpos_parse import QrBlock
from myna.edge.v1 import verifier_pb2 as pb
from tests.flows_support import (
    ScriptedUser,
    audit_actions,
    client_config,
    transfer_request,
    transfer_rows,
)
from tests.verifier_support import ServerThread, VerifierEnv, make_env


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("flows-transfer"))


@pytest.fixture
def server(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


def run_transfer(
    env: VerifierEnv,
    server: ServerThread,
    tmp_path: Path,
    user: ScriptedUser,
    amount: int,
    profile: str = "default",
) -> tuple[TransferOutcome, list[Event], Journal]:
    events: list[Event] = []

    async def scenario() -> TransferOutcome:
        card = ThreadedCard(f"sim://{profile}?persist=0")
        try:
            async with VerifierClient(client_config(env, server)) as client:
                flow = TransferFlow(
                    terminal_id="atm-01", verifier=client, card=card, user=user,
                    journal=journal, emit=events.append,
                    ejournal=ElectronicJournal(tmp_path / "ej.txt", "atm-01"),
                )  # fmt: skip
                return await flow.run(transfer_request(amount))
        finally:
            await card.aclose()

    journal = Journal(tmp_path / "journal.db")
    try:
        return asyncio.run(scenario()), events, journal
    finally:
        journal.close()


def assert_no_secret(tmp_path: Path, secret: str, caplog: pytest.LogCaptureFixture) -> None:
    for path in tmp_path.iterdir():
        assert secret.encode() not in path.read_bytes(), path
    assert secret not in caplog.text


def test_transfer_over_threshold_is_signed_authorised_and_committed_once(
    env: VerifierEnv, server: ServerThread, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    password = get_profile("default").sign_password
    user = ScriptedUser(secrets=[password])
    with caplog.at_level(logging.DEBUG):
        outcome, events, _journal = run_transfer(env, server, tmp_path, user, 250_000)
    assert outcome.outcome is Outcome.COMPLETED
    assert outcome.state is TransferState.COMMITTED
    assert outcome.identity_verified
    assert transfer_rows(server) == {outcome.authorization_id: pb.TRANSFER_STATE_COMMITTED}
    assert audit_actions(server, outcome.authorization_id).count("COMMIT_TRANSFER") == 1
    kinds = [p.kind for p in user.prompts]
    assert kinds == [
        PromptKind.CONFIRM_STATEMENT,
        PromptKind.SIGNING_PASSWORD,
        PromptKind.CONFIRM_MONEY_MOVED,
    ]
    assert "250,000" in user.prompts[0].text
    assert user.prompts[1].tries_left == 5
    assert all(s.wiped for s in user.handed_out)
    assert isinstance(events[-1], FlowResult)
    assert events[-1].reference == outcome.authorization_id
    assert any(isinstance(e, RemoveCard) for e in events)
    with Journal(tmp_path / "journal.db") as again:
        assert again.unresolved_transfers() == []
    ej = (tmp_path / "ej.txt").read_text()
    assert "TRANSFER-AUTHORIZED" in ej
    assert "TRANSFER-COMMIT" in ej
    assert_no_secret(tmp_path, password, caplog)


def test_under_threshold_needs_no_card(
    env: VerifierEnv, server: ServerThread, tmp_path: Path
) -> None:
    user = ScriptedUser()
    outcome, _, _ = run_transfer(env, server, tmp_path, user, 100_000)
    assert outcome.outcome is Outcome.COMPLETED
    assert not outcome.identity_verified
    assert [p.kind for p in user.prompts] == [PromptKind.CONFIRM_MONEY_MOVED]


def test_wrong_password_reprompts_with_fewer_tries(
    env: VerifierEnv, server: ServerThread, tmp_path: Path
) -> None:
    password = get_profile("default").sign_password
    user = ScriptedUser(secrets=["WRONG999", password])
    outcome, events, _ = run_transfer(env, server, tmp_path, user, 200_000)
    assert outcome.outcome is Outcome.COMPLETED
    tries = [p.tries_left for p in user.prompts if p.kind is PromptKind.SIGNING_PASSWORD]
    assert tries == [5, 4]
    assert not any(isinstance(e, LastTryWarning) for e in events)


def test_revoked_card_is_refused_and_nothing_to_recover(
    env: VerifierEnv, server: ServerThread, tmp_path: Path
) -> None:
    user = ScriptedUser(secrets=[get_profile("revoked").sign_password])
    outcome, events, _ = run_transfer(env, server, tmp_path, user, 300_000, profile="revoked")
    assert outcome.outcome is Outcome.REFUSED
    assert outcome.reason == "CERTIFICATE_REVOKED"
    assert transfer_rows(server) == {}
    assert isinstance(events[-1], FlowResult)
    assert events[-1].outcome is Outcome.REFUSED
    with Journal(tmp_path / "journal.db") as again:
        assert again.unresolved_transfers() == []


def test_atm_declining_the_money_movement_reverses(
    env: VerifierEnv, server: ServerThread, tmp_path: Path
) -> None:
    user = ScriptedUser(
        secrets=[get_profile("default").sign_password],
        confirm_answers={PromptKind.CONFIRM_MONEY_MOVED: False},
    )
    outcome, _, _ = run_transfer(env, server, tmp_path, user, 150_000)
    assert outcome.outcome is Outcome.CANCELLED
    assert outcome.state is TransferState.REVERSED
    assert transfer_rows(server) == {outcome.authorization_id: pb.TRANSFER_STATE_REVERSED}
    actions = audit_actions(server, outcome.authorization_id)
    assert "COMMIT_TRANSFER" not in actions
    assert actions.count("REVERSE_TRANSFER") == 1


def test_verifier_down_fails_cleanly(
    env: VerifierEnv, server: ServerThread, tmp_path: Path
) -> None:
    server.stop()
    user = ScriptedUser(secrets=["ABCD1234"])
    outcome, events, _ = run_transfer(env, server, tmp_path, user, 250_000)
    assert outcome.outcome is Outcome.FAILED
    assert outcome.reason == "service_unavailable"
    assert user.prompts == []  # nothing asked of the user before the session existed
    assert not isinstance(events[0], Prompt)
    with Journal(tmp_path / "journal.db") as again:
        assert again.unresolved_transfers() == []


def test_receipt_on_the_simulated_printer_and_paper_out(
    env: VerifierEnv, server: ServerThread, tmp_path: Path
) -> None:
    from host.flows import ThreadedPrinter
    from hw_sim.devices import SimPrinter

    password = get_profile("default").sign_password
    states: list[str] = []

    async def report(state: str) -> None:
        states.append(state)

    async def scenario(printer_url: str) -> TransferOutcome:
        card = ThreadedCard("sim://default?persist=0")
        printer = ThreadedPrinter(printer_url, on_status=report)
        try:
            async with VerifierClient(client_config(env, server)) as client:
                with Journal(tmp_path / "journal.db") as journal:
                    flow = TransferFlow(
                        terminal_id="atm-01", verifier=client, card=card, journal=journal,
                        user=ScriptedUser(secrets=[password]), emit=lambda e: None,
                        printer=printer,
                    )  # fmt: skip
                    return await flow.run(transfer_request(250_000))
        finally:
            await card.aclose()
            await printer.aclose()

    with SimPrinter(tmp_path / "out") as sim:
        printed = asyncio.run(scenario(sim.url))
        (receipt,) = sim.wait_receipts(1)
        sim.set_paper_out(True)
        unprinted = asyncio.run(scenario(sim.url))
    assert printed.receipt_printed
    assert f"REF {printed.authorization_id}" in receipt.text()
    # The reference is also on the paper as a QR code the emulator parsed.
    qrs = [b for b in receipt.blocks if isinstance(b, QrBlock)]
    assert [q.data for q in qrs] == [printed.authorization_id]
    assert f"[QR {printed.authorization_id}]" in receipt.text()
    assert "AMOUNT JPY 250,000" in receipt.text()
    assert unprinted.outcome is Outcome.COMPLETED
    assert unprinted.state is TransferState.COMMITTED
    assert not unprinted.receipt_printed
    assert states == ["online", "paper_out"]
