# SPDX-License-Identifier: Apache-2.0
"""The transfer state machine over behavioural fakes: every failure path ends clean.

Cancel at each prompt, a timeout at a prompt, the card removed at each card
step, the last-try warning, a blocked password, the verifier down before and
after authorisation, the printer out of paper; each run ends with one
``FlowResult``, the password wiped, the card released, and no authorised
transfer left both unsettled and unjournaled.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from host.client import AccountType, TransferState
from host.errors import PaperOutError
from host.flows import (
    Event,
    FlowFailed,
    FlowResult,
    LastTryWarning,
    Outcome,
    Prompt,
    PromptKind,
    RemoveCard,
    StepTimeouts,
    TransferFlow,
    TransferOutcome,
    TransferRequest,
    TransferStep,
    Working,
    recover_transfers,
)
from host.flows.transfer import TransferFieldError
from host.journal import Effect, ElectronicJournal, Journal, Phase, TransferRecovery
from tests.unit.host.flow_fakes import FakeCard, FakePrinter, FakeTransferVerifier, FakeUser

REQUEST = TransferRequest(
    amount_yen=250_000,
    payee_bank_code="0001",
    payee_branch_code="123",
    payee_account_type=AccountType.ORDINARY,
    payee_account_number="1234567",
    payee_name="ヤマダ　ハナコ",
    remitter_name="ヤマダ　タロウ",
    remitter_phone="03-1234-5678",
)
FAST = StepTimeouts(prompt=5, insert_card=5, card=5, service=5, printer=5)


class Run:
    def __init__(self, tmp_path: Path, **kw: object) -> None:
        self.card: FakeCard = kw.pop("card", FakeCard())  # type: ignore[assignment]
        self.user: FakeUser = kw.pop("user", FakeUser(secrets=["ABCD1234"]))  # type: ignore[assignment]
        self.verifier: FakeTransferVerifier = kw.pop("verifier", FakeTransferVerifier())  # type: ignore[assignment]
        self.printer: FakePrinter | None = kw.pop("printer", None)  # type: ignore[assignment]
        self.events: list[Event] = []
        self.journal = Journal(tmp_path / "journal.db")
        self.ej = ElectronicJournal(tmp_path / "ej.txt", "atm-01")
        self.flow = TransferFlow(
            terminal_id="atm-01",
            verifier=self.verifier,
            card=self.card,
            user=self.user,
            journal=self.journal,
            emit=self.events.append,
            ejournal=self.ej,
            printer=self.printer,
            timeouts=kw.pop("timeouts", FAST),  # type: ignore[arg-type]
            cash_question=kw.pop("cash_question", None),  # type: ignore[arg-type]
        )

    def go(
        self, request: TransferRequest = REQUEST, cancel_at: PromptKind | None = None
    ) -> TransferOutcome:
        async def scenario() -> TransferOutcome:
            task = asyncio.ensure_future(self.flow.run(request))
            if cancel_at is not None:
                while not any(p.kind is cancel_at for p in self.user.prompts):
                    await asyncio.sleep(0.001)
                self.flow.cancel()
            return await task

        try:
            outcome = asyncio.run(scenario())
        finally:
            self.journal.close()
        assert isinstance(self.events[-1], FlowResult)
        assert sum(isinstance(e, FlowResult) for e in self.events) == 1
        assert self.card.released == 1
        assert all(s.wiped for s in self.user.handed_out)
        return outcome


def test_happy_path_events_steps_journal_and_receipt(tmp_path: Path) -> None:
    run = Run(tmp_path, printer=FakePrinter())
    outcome = run.go()
    assert outcome.outcome is Outcome.COMPLETED
    assert outcome.state is TransferState.COMMITTED
    assert outcome.receipt_printed
    assert run.verifier.states == {outcome.authorization_id: TransferState.COMMITTED}
    assert run.flow.history == [
        TransferStep.START,
        TransferStep.SESSION,
        TransferStep.CONFIRM_STATEMENT,
        TransferStep.WAIT_CARD,
        TransferStep.ENTER_PASSWORD,
        TransferStep.SIGNING,
        TransferStep.AUTHORIZING,
        TransferStep.CONFIRM_MONEY,
        TransferStep.COMMITTING,
        TransferStep.PRINTING,
        TransferStep.REMOVE_CARD,
        TransferStep.DONE,
    ]
    kinds = [type(e) for e in run.events]
    assert kinds.index(RemoveCard) < kinds.index(FlowResult)
    assert Working in kinds
    assert run.printer is not None
    assert f"REF {outcome.authorization_id}" in run.printer.printed[0]
    assert run.printer.qrs == [outcome.authorization_id]
    with Journal(tmp_path / "journal.db") as journal:
        pairs = [(e.effect, e.phase) for e in journal.entries()]
    assert pairs == [
        (Effect.TRANSFER_AUTHORIZE, Phase.INTENT),
        (Effect.TRANSFER_AUTHORIZE, Phase.OUTCOME),
        (Effect.TRANSFER_DECISION, Phase.DECISION),
        (Effect.TRANSFER_COMMIT, Phase.INTENT),
        (Effect.TRANSFER_COMMIT, Phase.OUTCOME),
        (Effect.RECEIPT_PRINT, Phase.INTENT),
        (Effect.RECEIPT_PRINT, Phase.OUTCOME),
    ]
    assert "ABCD1234" not in (tmp_path / "ej.txt").read_text()
    assert b"ABCD1234" not in (tmp_path / "journal.db").read_bytes()


def test_last_try_is_warned_before_the_prompt(tmp_path: Path) -> None:
    run = Run(tmp_path, card=FakeCard(tries=1))
    assert run.go().outcome is Outcome.COMPLETED
    warning = next(i for i, e in enumerate(run.events) if isinstance(e, LastTryWarning))
    prompt = next(
        i
        for i, e in enumerate(run.events)
        if isinstance(e, Prompt) and e.kind is PromptKind.SIGNING_PASSWORD
    )
    assert warning < prompt
    assert run.user.prompts[1].kind is PromptKind.SIGNING_PASSWORD
    assert run.user.prompts[1].last_try
    assert run.user.prompts[1].tries_left == 1


def test_wrong_passwords_until_blocked(tmp_path: Path) -> None:
    run = Run(tmp_path, card=FakeCard(tries=2), user=FakeUser(secrets=["WRONG111", "WRONG222"]))
    outcome = run.go()
    assert outcome.outcome is Outcome.FAILED
    assert outcome.reason == "pin_blocked"
    tries = [p.tries_left for p in run.user.prompts if p.kind is PromptKind.SIGNING_PASSWORD]
    assert tries == [2, 1]
    assert sum(isinstance(e, LastTryWarning) for e in run.events) == 1
    assert not [c for c in run.verifier.calls if c[0] == "authorize"]


def test_blocked_card_is_never_prompted(tmp_path: Path) -> None:
    run = Run(tmp_path, card=FakeCard(tries=0))
    outcome = run.go()
    assert outcome.reason == "pin_blocked"
    assert [p.kind for p in run.user.prompts] == [PromptKind.CONFIRM_STATEMENT]


def test_badly_formed_password_costs_no_try(tmp_path: Path) -> None:
    run = Run(tmp_path, user=FakeUser(secrets=["abc", "ABCD1234"]))
    assert run.go().outcome is Outcome.COMPLETED
    tries = [p.tries_left for p in run.user.prompts if p.kind is PromptKind.SIGNING_PASSWORD]
    assert tries == [5, 5]


@pytest.mark.parametrize("kind", [PromptKind.CONFIRM_STATEMENT, PromptKind.SIGNING_PASSWORD])
def test_cancel_at_each_prompt_before_authorisation(tmp_path: Path, kind: PromptKind) -> None:
    run = Run(tmp_path, user=FakeUser(secrets=["ABCD1234"], stall_at=kind))
    outcome = run.go(cancel_at=kind)
    assert outcome.outcome is Outcome.CANCELLED
    assert outcome.reason == "cancelled"
    assert run.verifier.states == {}
    with Journal(tmp_path / "journal.db") as journal:
        assert journal.unresolved_transfers() == []


def test_prompt_timeout_before_authorisation(tmp_path: Path) -> None:
    timeouts = StepTimeouts(prompt=0.05, insert_card=5, card=5, service=5, printer=5)
    user = FakeUser(secrets=["ABCD1234"], stall_at=PromptKind.CONFIRM_STATEMENT)
    outcome = Run(tmp_path, user=user, timeouts=timeouts).go()
    assert outcome.outcome is Outcome.FAILED
    assert outcome.reason == "timeout"


class Desk:
    """The recovery desk as the flow sees it: records each question, answers ``answer``."""

    def __init__(self, answer: bool | None) -> None:
        self.answer = answer
        self.asked: list[TransferRecovery] = []

    async def __call__(self, plan: TransferRecovery) -> bool | None:
        self.asked.append(plan)
        return self.answer


@pytest.mark.parametrize("how", ["cancel", "timeout"])
@pytest.mark.parametrize("answer", [True, False, None])
def test_no_cash_answer_goes_to_the_recovery_desk(
    tmp_path: Path, how: str, answer: bool | None
) -> None:
    # Issue 23.1: after the authorisation the flow never decides the cash
    # question itself; a cancel or a timeout at the prompt asks the desk.
    prompt = 0.05 if how == "timeout" else 5
    timeouts = StepTimeouts(prompt=prompt, insert_card=5, card=5, service=5, printer=5)
    desk = Desk(answer)
    user = FakeUser(secrets=["ABCD1234"], stall_at=PromptKind.CONFIRM_MONEY_MOVED)
    run = Run(tmp_path, user=user, timeouts=timeouts, cash_question=desk)
    outcome = run.go(cancel_at=PromptKind.CONFIRM_MONEY_MOVED if how == "cancel" else None)
    (plan,) = desk.asked
    assert plan.authorization_id == outcome.authorization_id
    assert plan.authorize_request["st_amount_yen"] == REQUEST.amount_yen
    want = TransferState.COMMITTED if answer else TransferState.REVERSED
    assert list(run.verifier.states.values()) == [want]
    assert outcome.state is want
    assert outcome.identity_verified  # the same whatever happened to the money
    if answer:
        assert outcome.outcome is Outcome.COMPLETED
    else:
        assert outcome.reason == ("reversed" if answer is False else "reversed_unanswered")
        failures = [e.code for e in run.events if isinstance(e, FlowFailed)]
        assert failures == [outcome.reason]  # the event and the outcome agree
    with Journal(tmp_path / "journal.db") as journal:
        assert journal.unresolved_transfers() == []
    assert "CASH-QUESTION-TO-RECOVERY" in (tmp_path / "ej.txt").read_text()


def test_no_cash_answer_without_a_desk_is_left_undecided(tmp_path: Path) -> None:
    run = Run(
        tmp_path, user=FakeUser(secrets=["ABCD1234"], stall_at=PromptKind.CONFIRM_MONEY_MOVED)
    )
    outcome = run.go(cancel_at=PromptKind.CONFIRM_MONEY_MOVED)
    assert outcome.reason == "cash_unconfirmed"
    assert not [c for c in run.verifier.calls if c[0] in ("reverse", "commit")]
    assert list(run.verifier.states.values()) == [TransferState.AUTHORIZED]
    with Journal(tmp_path / "journal.db") as journal:
        (plan,) = journal.unresolved_transfers()
    assert plan.decision is None  # the agent's recovery will ask the ATM application


def test_declined_cash_step_says_reversed(tmp_path: Path) -> None:
    user = FakeUser(secrets=["ABCD1234"], answers={PromptKind.CONFIRM_MONEY_MOVED: False})
    run = Run(tmp_path, user=user)
    outcome = run.go()
    assert (outcome.outcome, outcome.reason) == (Outcome.CANCELLED, "reversed")
    assert outcome.state is TransferState.REVERSED
    assert outcome.identity_verified


def test_no_card_presented_times_out(tmp_path: Path) -> None:
    timeouts = StepTimeouts(prompt=5, insert_card=0.05, card=5, service=5, printer=5)
    run = Run(tmp_path, card=FakeCard(present=False), timeouts=timeouts)
    assert run.go().reason == "timeout"


@pytest.mark.parametrize("where", ["wait_card", "tries_left", "prove"])
def test_card_removed_at_each_card_step(tmp_path: Path, where: str) -> None:
    run = Run(tmp_path, card=FakeCard(remove_at=where))
    outcome = run.go()
    assert outcome.outcome is Outcome.FAILED
    assert outcome.reason == "card_removed"
    failed = [e for e in run.events if isinstance(e, FlowFailed)]
    assert [f.code for f in failed] == ["card_removed"]
    assert not [c for c in run.verifier.calls if c[0] == "authorize"]


def test_refused_by_the_verifier(tmp_path: Path) -> None:
    run = Run(tmp_path, verifier=FakeTransferVerifier(accept=False))
    outcome = run.go()
    assert outcome.outcome is Outcome.REFUSED
    assert outcome.reason == "CERTIFICATE_REVOKED"
    assert "TRANSFER-REFUSED" in (tmp_path / "ej.txt").read_text()


def test_user_declines_the_statement(tmp_path: Path) -> None:
    user = FakeUser(answers={PromptKind.CONFIRM_STATEMENT: False})
    run = Run(tmp_path, user=user)
    assert run.go().outcome is Outcome.CANCELLED
    assert run.card.calls == []


def test_under_threshold_skips_the_card(tmp_path: Path) -> None:
    run = Run(tmp_path)
    request = dataclasses.replace(REQUEST, amount_yen=100_000)
    outcome = run.go(request)
    assert outcome.outcome is Outcome.COMPLETED
    assert run.card.calls == []
    assert not outcome.identity_verified


def test_verifier_down_at_authorisation_leaves_a_journaled_intent(tmp_path: Path) -> None:
    verifier = FakeTransferVerifier(down={"authorize"})
    run = Run(tmp_path, verifier=verifier)
    outcome = run.go()
    assert outcome.reason == "service_unavailable"
    with Journal(tmp_path / "journal.db") as journal:
        (plan,) = journal.unresolved_transfers()
        assert plan.authorization_id == ""
        verifier.down.clear()
        results = asyncio.run(recover_transfers(journal, verifier, _never_asked))
    assert [r.action for r in results] == ["reverse"]
    # the flow's own retry and the recovery's replay both used the journaled key
    keys = [k for m, k in verifier.calls if m == "authorize"]
    assert keys == [plan.authorize_key] * 3


async def _never_asked(plan: TransferRecovery) -> bool:
    raise AssertionError("the ATM must not be asked about an unknown authorisation")


def test_commit_unreachable_is_never_turned_into_a_reversal(tmp_path: Path) -> None:
    verifier = FakeTransferVerifier(down={"commit"})
    run = Run(tmp_path, verifier=verifier)
    outcome = run.go()
    assert outcome.outcome is Outcome.FAILED
    assert not [c for c in verifier.calls if c[0] == "reverse"]
    assert list(verifier.states.values()) == [TransferState.AUTHORIZED]
    verifier.down.clear()
    with Journal(tmp_path / "journal.db") as journal:
        results = asyncio.run(recover_transfers(journal, verifier, _never_asked))
        assert journal.unresolved_transfers() == []
    assert [(r.action, r.state) for r in results] == [("commit", TransferState.COMMITTED)]
    commit_keys = {k for m, k in verifier.calls if m == "commit"}
    assert len(commit_keys) == 1  # the same key before and after the failure


def test_printer_out_of_paper_keeps_the_commit(tmp_path: Path) -> None:
    run = Run(tmp_path, printer=FakePrinter(fail=PaperOutError("out of paper")))
    outcome = run.go()
    assert outcome.outcome is Outcome.COMPLETED
    assert outcome.state is TransferState.COMMITTED
    assert not outcome.receipt_printed
    assert "RECEIPT-FAILED" in (tmp_path / "ej.txt").read_text()


@pytest.mark.parametrize(
    "field_value",
    [
        {"amount_yen": 0},
        {"payee_bank_code": "001"},
        {"payee_branch_code": "12a"},
        {"payee_account_number": "１２３４５６７"},
        {"payee_name": ""},
        {"remitter_name": ""},
    ],
)
def test_bad_requests_are_refused_before_running(field_value: dict[str, object]) -> None:
    import dataclasses

    with pytest.raises(ValueError, match=next(iter(field_value)).split("_")[0]):
        dataclasses.replace(REQUEST, **field_value)  # type: ignore[arg-type]


def test_lost_authorisation_answer_is_learnt_and_reversed_at_once(tmp_path: Path) -> None:
    verifier = FakeTransferVerifier(lose_answers=1)
    run = Run(tmp_path, verifier=verifier)
    outcome = run.go()
    assert outcome.outcome is Outcome.FAILED
    assert outcome.reason == "service_unavailable"
    # the server had authorised it: the flow asked again with the same key and reversed it
    assert list(verifier.states.values()) == [TransferState.REVERSED]
    keys = [k for m, k in verifier.calls if m == "authorize"]
    assert len(keys) == 2
    assert len(set(keys)) == 1
    with Journal(tmp_path / "journal.db") as journal:
        assert journal.unresolved_transfers() == []


def test_a_card_without_a_signing_certificate_ends_before_the_password(tmp_path: Path) -> None:
    run = Run(tmp_path, card=FakeCard(sign_certificate=False))
    outcome = run.go()
    assert outcome.outcome is Outcome.FAILED
    assert outcome.reason == "no_signing_certificate"
    kinds = [p.kind for p in run.user.prompts]
    assert PromptKind.SIGNING_PASSWORD not in kinds
    assert "tries_left" not in run.card.calls
    assert "prove" not in run.card.calls
    assert run.card.counters == dict.fromkeys(run.card.counters, run.card.tries)
    assert not [c for c in run.verifier.calls if c[0] == "authorize"]
    failure = next(e for e in run.events if isinstance(e, FlowFailed))
    assert failure.code == "no_signing_certificate"


def test_the_statement_prompt_carries_both_languages(tmp_path: Path) -> None:
    run = Run(tmp_path)
    run.go()
    statement = run.user.prompts[0]
    assert statement.kind is PromptKind.CONFIRM_STATEMENT
    assert statement.message is not None
    assert statement.text == statement.message.en
    assert "金額: 250,000円" in statement.message.ja
    assert "振込先: ヤマダ　ハナコ" in statement.message.ja


def test_a_bound_request_is_the_golden_statement() -> None:
    # The verifier README's golden vector (tests/unit/host/test_client_canonical.py):
    # binding a request must not change a byte of what the card signs.
    statement = dataclasses.replace(REQUEST, amount_yen=300_000).bind(
        nonce=bytes(range(32)), terminal_id="atm-01"
    )
    assert statement.digest().hex() == (
        "43be1a752996a99671a7fca89c9228d3366ee922b1707284c7da1d75fe750d31"
    )


@pytest.mark.parametrize("amount", [0, 10**12])
def test_an_amount_out_of_range_names_its_field(amount: int) -> None:
    with pytest.raises(TransferFieldError) as refused:
        dataclasses.replace(REQUEST, amount_yen=amount)
    assert refused.value.field == "amount_yen"
