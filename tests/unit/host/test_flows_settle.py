# SPDX-License-Identifier: Apache-2.0
"""settle_transfer and recover_transfers over a fake verifier and a real journal file."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import pytest

from host.card import CredentialKind
from host.client import AccountType, CardProof, TransferState, TransferStatement
from host.client.wire import wire_proof
from host.flows import recover_transfers, settle_transfer
from host.flows.authorize_record import authorize_request_data, authorize_request_from_data
from host.journal import Effect, ElectronicJournal, Journal, Phase, TransferRecovery
from host.journal.records import JsonValue
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


def _journal_authorize_intent(journal: Journal, data: Mapping[str, JsonValue]) -> None:
    key = "op.authorize"
    journal.record("op", "transfer", Effect.TRANSFER_AUTHORIZE, Phase.INTENT,
                   idempotency_key=key, data=data)  # fmt: skip


@pytest.mark.parametrize("presented", [*CredentialKind, None])
def test_authorize_request_round_trips_through_the_journal(
    tmp_path: Path, presented: CredentialKind | None
) -> None:
    # Every field, the proof's claim of what was presented included: the
    # repeat must be the same request, or the verifier refuses the key as reused.
    proof = CardProof(b"\x30\x82", b"\x01" * 256, presented)
    with Journal(tmp_path / "j.db") as journal:
        _journal_authorize_intent(journal, authorize_request_data("s-1", STATEMENT, proof))
        (plan,) = journal.unresolved_transfers()
    session_id, statement, repeated = authorize_request_from_data(dict(plan.authorize_request))
    assert (session_id, statement, repeated) == ("s-1", STATEMENT, proof)
    assert repeated is not None
    assert wire_proof(repeated).SerializeToString(deterministic=True) == wire_proof(
        proof
    ).SerializeToString(deterministic=True)
    assert (
        authorize_request_from_data(dict(authorize_request_data("s", STATEMENT, None)))[2] is None
    )


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


def test_an_authorisation_the_journal_cannot_repeat_is_given_up_not_retried_for_ever(
    tmp_path: Path,
) -> None:
    # The verifier saw another request under this key (a journal written by a
    # version that kept less than it sent): no repeat will ever be answered.
    verifier = FakeTransferVerifier()
    sent = CardProof(b"\x30\x82", b"\x01" * 256, CredentialKind.ANDROID)
    asyncio.run(verifier.authorize_transfer("s-1", STATEMENT, sent, "op.authorize"))
    kept = authorize_request_data("s-1", STATEMENT, CardProof(sent.certificate_der, sent.signature))
    asked: list[str] = []

    async def ask(plan: TransferRecovery) -> bool:
        asked.append(plan.op_id)
        return True

    ejournal = ElectronicJournal(tmp_path / "ej.log", "atm-01")
    with Journal(tmp_path / "j.db") as journal:
        _journal_authorize_intent(journal, kept)
        results = asyncio.run(recover_transfers(journal, verifier, ask, ejournal=ejournal))
        assert journal.unresolved_transfers() == []  # the next start-up does not try again
        (outcome,) = [e for e in journal.entries("op") if e.phase is Phase.OUTCOME]
    assert outcome.data["reason"] == "IDEMPOTENCY_KEY_REUSED"
    assert outcome.data["accepted"] is False
    assert [(r.op_id, r.action) for r in results] == [("op", "none")]
    assert asked == []  # never a cash question for an answer the flow never had
    (auth_id,) = verifier.states
    assert verifier.states[auth_id] is TransferState.AUTHORIZED  # left for the expiry sweep
    assert [c for c in verifier.calls if c[0] in ("commit", "reverse")] == []
    (line,) = ejournal.lines()
    assert " op TRANSFER-UNREPEATABLE reason=IDEMPOTENCY_KEY_REUSED" in line
