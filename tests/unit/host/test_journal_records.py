# SPDX-License-Identifier: Apache-2.0
"""Recovery planning from journal entries, and the secret guard (pure, no I/O)."""

from __future__ import annotations

import pytest

from host.errors import JournalSecretError
from host.journal import Effect, JournalEntry, Phase, check_no_secrets, plan_resets, plan_transfers
from host.secret import Secret


def entry(op: str, effect: Effect, phase: Phase, key: str = "", **data: object) -> JournalEntry:
    return JournalEntry(0, op, effect.value.split(".")[0], effect, phase, key, data, 0.0)  # type: ignore[arg-type]


def tx(op: str, effect: Effect, phase: Phase, key: str = "", **data: object) -> JournalEntry:
    e = entry(op, effect, phase, key, **data)
    return JournalEntry(e.seq, op, "transfer", effect, phase, key, e.data, 0.0)


def test_authorize_intent_only_is_unknown_outcome() -> None:
    (plan,) = plan_transfers(
        [tx("a", Effect.TRANSFER_AUTHORIZE, Phase.INTENT, "a.auth", amount_yen=5)]
    )
    assert plan.authorization_id == ""
    assert plan.decision is None
    assert plan.authorize_key == "a.auth"
    assert plan.authorize_request["amount_yen"] == 5


def test_authorised_then_decided_keeps_the_decision_and_key() -> None:
    entries = [
        tx("a", Effect.TRANSFER_AUTHORIZE, Phase.INTENT, "a.auth"),
        tx(
            "a",
            Effect.TRANSFER_AUTHORIZE,
            Phase.OUTCOME,
            "a.auth",
            accepted=True,
            authorization_id="z",
        ),
        tx("a", Effect.TRANSFER_DECISION, Phase.DECISION, "a.commit", action="commit"),
        tx("a", Effect.TRANSFER_COMMIT, Phase.INTENT, "a.commit"),
    ]
    (plan,) = plan_transfers(entries)
    assert (plan.authorization_id, plan.decision, plan.action_key) == ("z", "commit", "a.commit")


@pytest.mark.parametrize(
    "last",
    [
        tx("a", Effect.TRANSFER_COMMIT, Phase.OUTCOME, "a.commit", state="COMMITTED"),
        tx("a", Effect.TRANSFER_REVERSE, Phase.OUTCOME, "a.reverse", state="REVERSED"),
    ],
)
def test_committed_or_reversed_is_resolved(last: JournalEntry) -> None:
    entries = [
        tx("a", Effect.TRANSFER_AUTHORIZE, Phase.INTENT, "a.auth"),
        tx(
            "a",
            Effect.TRANSFER_AUTHORIZE,
            Phase.OUTCOME,
            "a.auth",
            accepted=True,
            authorization_id="z",
        ),
        last,
    ]
    assert plan_transfers(entries) == []


def test_refused_or_never_sent_needs_nothing() -> None:
    refused = [
        tx("a", Effect.TRANSFER_AUTHORIZE, Phase.INTENT, "a.auth"),
        tx("a", Effect.TRANSFER_AUTHORIZE, Phase.OUTCOME, "a.auth", accepted=False),
    ]
    assert plan_transfers(refused) == []
    assert plan_transfers([tx("b", Effect.RECEIPT_PRINT, Phase.INTENT)]) == []


def test_resets_with_unknown_card_outcome_or_unconfirmed() -> None:
    def rs(op: str, effect: Effect, phase: Phase, key: str = "", **data: object) -> JournalEntry:
        return JournalEntry(0, op, "reset", effect, phase, key, data, 0.0)  # type: ignore[arg-type]

    entries = [
        rs("r1", Effect.RESET_CARD, Phase.INTENT, reservation_id="res-1"),
        rs("r2", Effect.RESET_CARD, Phase.INTENT, reservation_id="res-2"),
        rs("r2", Effect.RESET_CARD, Phase.OUTCOME, succeeded=True),
        rs("r2", Effect.RESET_CONFIRM, Phase.INTENT, "r2.confirm"),
        rs("r3", Effect.RESET_CARD, Phase.INTENT, reservation_id="res-3"),
        rs("r3", Effect.RESET_CARD, Phase.OUTCOME, succeeded=True),
        rs("r3", Effect.RESET_CONFIRM, Phase.OUTCOME, recorded=True),
    ]
    plans = {p.op_id: p for p in plan_resets(entries)}
    assert set(plans) == {"r1", "r2"}
    assert plans["r1"].card_outcome is None
    assert plans["r1"].reservation_id == "res-1"
    assert plans["r2"].card_outcome is True
    assert plans["r2"].confirm_key == "r2.confirm"


@pytest.mark.parametrize(
    "data",
    [
        {"pin": "1234"},
        {"signing_password": "x"},
        {"OTP": "1"},
        {"one_time_password": "1"},
        {"note": Secret(b"1234")},
        {"blob": b"\x00"},
    ],
)
def test_secrets_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(JournalSecretError):
        check_no_secrets(data)


def test_non_scalars_are_refused_and_plain_facts_pass() -> None:
    with pytest.raises(TypeError):
        check_no_secrets({"list": [1]})
    check_no_secrets({"amount_yen": 1, "payee_name": "ヤマダ", "ok": True, "none": None})
