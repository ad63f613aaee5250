# SPDX-License-Identifier: Apache-2.0
"""The one consistency checker: each way the three records can disagree is caught.

The ledger is a real verifier database written through its storage
interface (and read back by ``read_ledger``), the journal the real
``host.journal.Journal`` written as the transfer flow writes it, and the
ATM record the application's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from host.journal import Effect, Journal, Phase
from myna.edge.v1 import terminal_pb2 as tpb
from myna_edge.chaos import ChaosInvariantError
from myna_edge.chaos.atm import AtmApplication, TransferAttempt
from myna_edge.chaos.consistency import (
    check_consistency,
    check_receipts,
    check_transfers,
    open_ledger,
)
from verifier.codes import RevocationSource, TransferState
from verifier.storage import AuditEntry, Transfer, open_storage

AUTHORIZED, COMMITTED, REVERSED, _ = TransferState  # EXPIRED unused here


class World:
    """Three records under construction."""

    def __init__(self, root: Path) -> None:
        self.url, self.journal_path = f"sqlite:///{root / 'v.sqlite'}", root / "j.sqlite"
        self.atm = AtmApplication(cast(Any, None), None, "")
        self.attempts: list[TransferAttempt] = []
        self._audited = 0

    def ledger_row(self, auth: str, amount: int, state: TransferState, *actions: str) -> None:
        transfer = Transfer(
            authorization_id=auth,
            terminal_id="atm-01",
            amount_yen=amount,
            statement_digest=b"d" * 32,
            state=state,
            identity_verified=True,
            certificate_serial="1A",
            revocation_source=RevocationSource.OCSP,
            created_us=len(self.attempts),
            expires_us=10**15,
        )
        with open_storage(self.url) as storage, storage.transaction() as tx:
            tx.insert_transfer(transfer)
            for action in ("AUTHORIZE_TRANSFER", *actions):
                self._audited += 1
                entry = AuditEntry(self._audited, "atm-01", action, "ACCEPTED", "OK", "1A", auth)
                tx.append_audit(entry)

    def journal(self, op: str, rid: str, auth: str | None, *settle: Effect) -> None:
        with Journal(self.journal_path) as j:
            j.record(op, "transfer", Effect.TRANSFER_AUTHORIZE, Phase.INTENT,
                     idempotency_key=f"{op}.authorize", data={"request_id": rid})  # fmt: skip
            if auth is not None:
                data = {"accepted": bool(auth), "authorization_id": auth}
                j.record(op, "transfer", Effect.TRANSFER_AUTHORIZE, Phase.OUTCOME, data=data)
            for effect in settle:
                data = {"authorization_id": auth, "state": "x", "error": ""}
                j.record(op, "transfer", effect, Phase.INTENT, data=data)
                j.record(op, "transfer", effect, Phase.OUTCOME, data=data)

    def attempt(self, rid: str, amount: int, dispensed: bool | None, **kw: Any) -> None:
        self.attempts.append(TransferAttempt(rid, amount, **kw))
        if dispensed is not None:
            self.atm.record(rid, dispensed)

    def check(self) -> dict[str, object]:
        return check_consistency(open_ledger(self.url), self.journal_path, self.atm, self.attempts)


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path)
    w.ledger_row("aut-1", 150_000, COMMITTED, "COMMIT_TRANSFER")
    w.journal("op-1", "r-1", "aut-1", Effect.TRANSFER_COMMIT)
    w.attempt("r-1", 150_000, True, completion=tpb.COMPLETION_CODE_SUCCESS,
              authorization_id="aut-1")  # fmt: skip
    w.ledger_row("aut-2", 5_000, REVERSED, "REVERSE_TRANSFER")
    w.journal("op-2", "r-2", "aut-2", Effect.TRANSFER_REVERSE)
    w.attempt("r-2", 5_000, False, interrupted="UNAVAILABLE")
    w.journal("op-3", "r-3", "")  # refused: nothing at the verifier
    w.attempt("r-3", 7_000, None)
    w.attempt("r-4", 8_000, None, interrupted="UNAVAILABLE")  # killed before anything
    return w


def test_agreeing_records_give_the_figures(world: World) -> None:
    figures = world.check()
    assert figures["committed"] == 1
    assert figures["reversed"] == 1
    assert figures["not_authorised"] == 2
    assert figures["ledger_rows"] == 2
    assert set(open_ledger(world.url)) == {"aut-1", "aut-2"}
    assert set(open_ledger(world.url, terminal_id="atm-02")) == set()


def test_cash_dispensed_for_a_reversed_transfer(world: World) -> None:
    world.atm.record("r-2", True)
    with pytest.raises(
        ChaosInvariantError, match="r-2: the ATM dispensed but the ledger says reversed"
    ):
        world.check()


def test_cash_kept_for_a_committed_transfer(world: World) -> None:
    world.atm.record("r-1", False)
    with pytest.raises(ChaosInvariantError, match="r-1: the ATM did not dispense"):
        world.check()


def test_an_authorisation_left_open(world: World) -> None:
    world.ledger_row("aut-5", 200_000, AUTHORIZED)
    world.journal("op-5", "r-5", "aut-5", Effect.TRANSFER_REVERSE)
    world.attempt("r-5", 200_000, False)
    with pytest.raises(ChaosInvariantError, match="aut-5 left in state"):
        world.check()


def test_a_ledger_row_no_journal_knows(world: World) -> None:
    world.ledger_row("aut-9", 1_000, REVERSED, "REVERSE_TRANSFER")
    with pytest.raises(ChaosInvariantError, match=r"no journaled operation knows.*aut-9"):
        world.check()


def test_a_journaled_authorisation_missing_from_the_ledger(world: World) -> None:
    world.journal("op-6", "r-6", "aut-6", Effect.TRANSFER_REVERSE)
    world.attempt("r-6", 1_000, False)
    with pytest.raises(ChaosInvariantError, match=r"aut-6 .* is missing"):
        world.check()


def test_settled_both_ways_in_the_journal(world: World) -> None:
    world.ledger_row("aut-7", 300_000, COMMITTED, "COMMIT_TRANSFER")
    world.journal("op-7", "r-7", "aut-7", Effect.TRANSFER_COMMIT, Effect.TRANSFER_REVERSE)
    world.attempt("r-7", 300_000, True)
    with pytest.raises(ChaosInvariantError, match=r"aut-7 .* has 2 settlements"):
        world.check()


def test_committed_twice_in_the_audit(world: World) -> None:
    world.ledger_row("aut-8", 300_000, COMMITTED, "COMMIT_TRANSFER", "COMMIT_TRANSFER")
    world.journal("op-8", "r-8", "aut-8", Effect.TRANSFER_COMMIT)
    world.attempt("r-8", 300_000, True)
    with pytest.raises(ChaosInvariantError, match="aut-8 is committed but audited"):
        world.check()


def test_settled_by_the_expiry_sweep(world: World) -> None:
    world.ledger_row("aut-10", 300_000, REVERSED, "EXPIRE_TRANSFER")
    world.journal("op-10", "r-10", "aut-10", Effect.TRANSFER_REVERSE)
    world.attempt("r-10", 300_000, False)
    with pytest.raises(ChaosInvariantError, match="aut-10 expired before the terminal settled it"):
        world.check()


def test_unresolved_in_the_journal(world: World) -> None:
    world.journal("op-11", "r-11", "aut-11")  # authorised, never settled
    world.attempt("r-11", 300_000, None)
    with pytest.raises(ChaosInvariantError, match="unresolved after recovery: op-11"):
        world.check()


def test_an_authorisation_recovery_gave_up_on(world: World) -> None:
    world.journal("op-14", "r-14", None)
    with Journal(world.journal_path) as j:
        data = {"accepted": False, "reason": "IDEMPOTENCY_KEY_REUSED", "unrepeatable": True}
        j.record("op-14", "transfer", Effect.TRANSFER_AUTHORIZE, Phase.OUTCOME, data=data)
    world.attempt("r-14", 300_000, None)
    with pytest.raises(ChaosInvariantError, match="operation op-14 could not be repeated"):
        world.check()


def test_one_request_authorised_by_two_operations(world: World) -> None:
    world.ledger_row("aut-12", 150_000, REVERSED, "REVERSE_TRANSFER")
    world.journal("op-12", "r-1", "aut-12", Effect.TRANSFER_REVERSE)
    with pytest.raises(ChaosInvariantError, match="request r-1 authorised by two operations"):
        world.check()


def test_one_operation_authorised_twice(world: World) -> None:
    world.journal("op-1", "r-1", "aut-13")  # a second accepted outcome, another id
    with pytest.raises(ChaosInvariantError, match="op-1 was authorised twice"):
        world.check()


def test_a_success_reported_for_a_reversed_transfer(world: World) -> None:
    world.attempts[1].completion = tpb.COMPLETION_CODE_SUCCESS
    with pytest.raises(ChaosInvariantError, match="r-2: reported a success"):
        world.check()


def test_an_amount_that_changed(world: World) -> None:
    world.attempts[0].amount_yen = 150_001
    with pytest.raises(ChaosInvariantError, match="aut-1: ledger amount 150000"):
        world.check()


def test_an_operation_for_a_request_never_sent(world: World) -> None:
    world.journal("op-14", "r-ghost", "")
    with pytest.raises(ChaosInvariantError, match="r-ghost"):
        world.check()


def _receipt(folder: Path, name: str, ref: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(f"MYNA-EDGE TRANSFER\nREF {ref}\nSTATE COMMITTED\n")


def test_receipts_for_committed_transfers_once(world: World, tmp_path: Path) -> None:
    _receipt(tmp_path / "paper", "receipt-0001.txt", "aut-1")
    figures = check_consistency(
        open_ledger(world.url), world.journal_path, world.atm, world.attempts, tmp_path / "paper"
    )
    assert figures["receipts_printed"] == 1


def test_two_originals_for_one_transfer(tmp_path: Path) -> None:
    _receipt(tmp_path, "receipt-0001.txt", "aut-1")
    _receipt(tmp_path, "receipt-0002.txt", "aut-1")
    with pytest.raises(ChaosInvariantError, match="two originals for \\['aut-1'\\]"):
        check_receipts(tmp_path, {"aut-1"})


def test_a_reprint_after_the_original_is_allowed(tmp_path: Path) -> None:
    # Issue 12.7: a crash left unknown whether the original came out; the copy says so.
    _receipt(tmp_path, "receipt-0001.txt", "aut-1")
    (tmp_path / "receipt-0002.txt").write_text(
        "MYNA-EDGE TRANSFER\n再発行 REPRINT\nREF aut-1\nSTATE COMMITTED\n", encoding="utf-8"
    )
    assert check_receipts(tmp_path, {"aut-1"}) == (2, 1)


def test_a_committed_transfer_without_a_receipt(tmp_path: Path) -> None:
    # Issue 12.7: "79 committed, 78 receipts printed" is now a failed campaign.
    _receipt(tmp_path, "receipt-0001.txt", "aut-1")
    with pytest.raises(ChaosInvariantError, match="without a receipt: \\['aut-3'\\]"):
        check_receipts(tmp_path, {"aut-1", "aut-3"})


def test_a_receipt_for_a_reversed_transfer(tmp_path: Path) -> None:
    _receipt(tmp_path, "receipt-0001.txt", "aut-2")
    with pytest.raises(ChaosInvariantError, match="not committed: \\['aut-2'\\]"):
        check_receipts(tmp_path, {"aut-1"})


# -- check_transfers on its own (the part every scenario shares) ---------------------------


def test_the_journal_and_the_ledger_disagree_on_the_state(world: World) -> None:
    world.ledger_row("aut-15", 300_000, REVERSED, "REVERSE_TRANSFER")
    world.journal("op-15", "r-15", "aut-15", Effect.TRANSFER_COMMIT)
    world.attempt("r-15", 300_000, True)
    with pytest.raises(
        ChaosInvariantError, match=r"aut-15: journal says .*commit.*ledger REVERSED"
    ):
        world.check()


def test_a_settlement_that_failed_is_not_a_settlement(world: World) -> None:
    # Settle outcomes with an error mean someone else (the expiry sweep) settled it.
    world.ledger_row("aut-16", 300_000, REVERSED, "REVERSE_TRANSFER")
    world.journal("op-16", "r-16", "aut-16")
    with Journal(world.journal_path) as j:
        data = {"authorization_id": "aut-16", "state": "", "error": "AUTHORIZATION_EXPIRED"}
        j.record("op-16", "transfer", Effect.TRANSFER_REVERSE, Phase.OUTCOME, data=data)
    world.attempt("r-16", 300_000, False)
    with pytest.raises(ChaosInvariantError, match="aut-16 settled with error"):
        world.check()


def test_every_terminal_journal_is_checked_against_one_ledger(world: World, tmp_path: Path) -> None:
    world.ledger_row("aut-20", 1_000, COMMITTED, "COMMIT_TRANSFER")
    second = tmp_path / "second.sqlite"
    with Journal(second) as j:
        asked = {"request_id": "q-20"}
        key = "op-20.authorize"
        j.record(
            "op-20",
            "transfer",
            Effect.TRANSFER_AUTHORIZE,
            Phase.INTENT,
            idempotency_key=key,
            data=asked,
        )
        accepted = {"accepted": True, "authorization_id": "aut-20"}
        j.record("op-20", "transfer", Effect.TRANSFER_AUTHORIZE, Phase.OUTCOME, data=accepted)
        settled = {"authorization_id": "aut-20", "state": "COMMITTED", "error": ""}
        j.record("op-20", "transfer", Effect.TRANSFER_COMMIT, Phase.OUTCOME, data=settled)
    ledger = open_ledger(world.url)
    with Journal(world.journal_path) as first, Journal(second) as other:
        verdict = check_transfers(ledger, {"atm-01": first, "atm-02": other})
        with pytest.raises(
            ChaosInvariantError, match=r"no journaled operation knows: \['aut-20'\]"
        ):
            check_transfers(ledger, {"atm-01": first})  # the second terminal's is missing
    assert verdict.committed() == {"aut-1", "aut-20"}
    assert {(op.journal, op.authorization_id) for op in verdict.operations} >= {
        ("atm-01", "aut-1"),
        ("atm-02", "aut-20"),
    }
    with Journal(second) as j:  # the second terminal authorises again, never settles
        asked = {"request_id": "q-21"}
        key = "op-21.authorize"
        j.record(
            "op-21",
            "transfer",
            Effect.TRANSFER_AUTHORIZE,
            Phase.INTENT,
            idempotency_key=key,
            data=asked,
        )
    with (
        Journal(world.journal_path) as first,
        Journal(second) as other,
        pytest.raises(ChaosInvariantError, match=r"journal atm-02: .*unresolved.*op-21"),
    ):
        check_transfers(ledger, {"atm-01": first, "atm-02": other})
