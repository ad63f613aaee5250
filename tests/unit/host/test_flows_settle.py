# SPDX-License-Identifier: Apache-2.0
"""settle_transfer and recover_transfers over a fake verifier and a real journal file."""

from __future__ import annotations

import asyncio
from pathlib import Path

from host.client import AccountType, CardProof, TransferState, TransferStatement
from host.flows import recover_transfers, settle_transfer
from host.flows.settle import _request_from_data, authorize_request_data
from host.journal import Effect, Journal, Phase, TransferRecovery
from tests.unit.host.flow_fakes import FakeTransferVerifier

STATEMENT = TransferStatement(
    nonce=bytes(32),
    terminal_id="atm-01",
    amount_yen=250_000,
    payee_bank_code="0001",
    payee_branch_code="123",
    payee_account_type=AccountType.CURRENT,
    payee_account_number="1234567",
    payee_name="ハナコ",
    remitter_name="タロウ",
    remitter_phone="03-1234-5678",
)


def test_authorize_request_round_trips_without_secrets() -> None:
    proof = CardProof(b"\x30\x82", b"\x01" * 256)
    data = authorize_request_data("s-1", STATEMENT, proof)
    assert _request_from_data(dict(data)) == ("s-1", STATEMENT, proof)
    assert _request_from_data(dict(authorize_request_data("s", STATEMENT, None)))[2] is None


def test_settle_twice_the_other_way_records_the_refusal(tmp_path: Path) -> None:
    verifier = FakeTransferVerifier()
    verifier.states["a"] = TransferState.AUTHORIZED

    async def scenario() -> tuple[TransferState, TransferState]:
        with Journal(tmp_path / "j.db") as journal:
            first = await settle_transfer(
                journal, verifier, op_id="op", authorization_id="a", commit=True
            )
            second = await settle_transfer(
                journal, verifier, op_id="op", authorization_id="a", commit=False
            )
            outcomes = [e.data for e in journal.entries() if e.phase is Phase.OUTCOME]
        assert outcomes[-1]["error"] == "TRANSFER_COMMITTED"
        return first, second

    first, second = asyncio.run(scenario())
    assert first is TransferState.COMMITTED
    assert second is TransferState.UNSPECIFIED
    assert verifier.states["a"] is TransferState.COMMITTED


def test_recovery_asks_the_atm_only_for_undecided_authorisations(tmp_path: Path) -> None:
    verifier = FakeTransferVerifier()
    for auth in ("a1", "a2"):
        verifier.states[auth] = TransferState.AUTHORIZED
    asked: list[str] = []

    async def ask(plan: TransferRecovery) -> bool:
        asked.append(plan.op_id)
        return False

    with Journal(tmp_path / "j.db") as journal:
        for op, auth in (("op1", "a1"), ("op2", "a2")):
            journal.record(
                op,
                "transfer",
                Effect.TRANSFER_AUTHORIZE,
                Phase.INTENT,
                idempotency_key=f"{op}.authorize",
            )
            journal.record(
                op,
                "transfer",
                Effect.TRANSFER_AUTHORIZE,
                Phase.OUTCOME,
                data={"accepted": True, "authorization_id": auth},
            )
        journal.record(
            "op2",
            "transfer",
            Effect.TRANSFER_DECISION,
            Phase.DECISION,
            idempotency_key="op2.commit",
            data={"action": "commit"},
        )
        results = asyncio.run(recover_transfers(journal, verifier, ask))
        assert journal.unresolved_transfers() == []
        decisions = [e for e in journal.entries("op2") if e.effect is Effect.TRANSFER_DECISION]
    assert asked == ["op1"]
    assert {(r.op_id, r.action) for r in results} == {("op1", "reverse"), ("op2", "commit")}
    assert verifier.states == {"a1": TransferState.REVERSED, "a2": TransferState.COMMITTED}
    assert len(decisions) == 1  # the decision is not journaled twice
