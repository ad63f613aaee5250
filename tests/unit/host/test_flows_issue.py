# SPDX-License-Identifier: Apache-2.0
"""The certificate-issuance state machine over behavioural fakes: charged iff printed.

The money is checked from ``FakePayment``'s cash box and returns, the
prints from ``FakeDocumentPrinter``'s completed jobs and the centre's
decision from ``FakeCentre``'s request states, never from call counts.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from host.client.issuance_models import (
    DocumentKind,
    DocumentOptions,
    HouseholdScope,
    IssuanceRefusal,
    IssuanceState,
)
from host.errors import (
    PaymentCancelledError,
    PaymentDeviceError,
    PaymentTimeoutError,
    PrinterUnavailableError,
)
from host.flows import (
    Event,
    FailureCode,
    FlowFailed,
    FlowResult,
    LastTryWarning,
    Outcome,
    Prompt,
    PromptKind,
    RemoveCard,
    StepTimeouts,
)
from host.flows.codes import IssueRefusal
from host.flows.issuance_ports import PrintOutcome
from host.flows.issue import IssueFlow
from host.flows.issue_request import FixedChoice, IssueChoice, IssueOutcome, IssueStep
from host.flows.issue_settle import plan_issuances
from host.journal import Effect, ElectronicJournal, Journal, Phase
from tests.unit.host.flow_fakes import FakeCard, FakeUser
from tests.unit.host.issue_fakes import FakeCentre, FakeDocumentPrinter, FakePayment

FAST = StepTimeouts(prompt=5, insert_card=5, card=5, service=5, printer=5)
WHOLE = IssueChoice(
    "131016",
    DocumentKind.RESIDENT_RECORD,
    DocumentOptions(household_scope=HouseholdScope.WHOLE_HOUSEHOLD, copies=2),
)


class Parts:
    """One run's ports, journals and events."""

    def __init__(self, tmp_path: Path, **kw: object) -> None:
        self.tmp = tmp_path
        self.card: FakeCard = kw.pop("card", None) or FakeCard()  # type: ignore[assignment]
        self.user: FakeUser = kw.pop("user", None) or FakeUser(secrets=["1234"])  # type: ignore[assignment]
        self.centre: FakeCentre = kw.pop("centre", None) or FakeCentre()  # type: ignore[assignment]
        self.payment: FakePayment = kw.pop("payment", None) or FakePayment()  # type: ignore[assignment]
        self.printer: FakeDocumentPrinter = kw.pop("printer", None) or FakeDocumentPrinter()  # type: ignore[assignment]
        self.events: list[Event] = []
        self.ej = ElectronicJournal(tmp_path / "ej" / "ej.log", "mfp-01")

    def flow(self, journal: Journal) -> IssueFlow:
        return IssueFlow(
            centre=self.centre,
            card=self.card,
            user=self.user,
            payment=self.payment,
            printer=self.printer,
            journal=journal,
            emit=self.events.append,
            ejournal=self.ej,
            timeouts=FAST,
            payment_timeout=5,
            print_timeout=5,
        )

    def run(self, choice: IssueChoice = WHOLE) -> tuple[IssueOutcome, IssueFlow]:
        async def scenario() -> tuple[IssueOutcome, IssueFlow]:
            with Journal(self.tmp / "j.db") as journal:
                flow = self.flow(journal)
                return await flow.run(FixedChoice(choice)), flow

        outcome, flow = asyncio.run(scenario())
        assert sum(isinstance(e, FlowResult) for e in self.events) == 1
        assert all(s.wiped for s in self.user.handed_out)
        return outcome, flow

    def open_plans(self) -> list[object]:
        with Journal(self.tmp / "j.db") as journal:
            return list(plan_issuances(journal.entries()))

    def kinds(self) -> list[object]:
        return [
            e.kind if isinstance(e, Prompt) else type(e).__name__
            for e in self.events
            if isinstance(e, Prompt | RemoveCard)
        ]


def test_happy_path_prints_once_and_keeps_exactly_the_fee(tmp_path: Path) -> None:
    parts = Parts(tmp_path)
    outcome, flow = parts.run()
    assert outcome.outcome is Outcome.COMPLETED
    assert outcome.printed
    assert outcome.charged
    assert not outcome.refunded
    assert outcome.fee_yen == 400  # 2 copies at 200 yen
    assert parts.payment.box == 400
    assert parts.payment.change == 100
    assert parts.payment.returned == 0
    (request,) = parts.centre.requests.values()
    assert parts.printer.jobs == [request.pdf]
    assert parts.printer.titles == [request.serial]  # the job's name: the serial only
    assert request.state is IssuanceState.CHARGED
    assert outcome.reference == request.request_id
    # The card goes back before the choice, the fee and the print (取り忘れ対策).
    assert parts.kinds() == [
        PromptKind.INSERT_CARD,
        PromptKind.AUTH_PIN,
        "RemoveCard",
        PromptKind.CONFIRM_FEE,
        PromptKind.INSERT_PAYMENT,
        PromptKind.TAKE_DOCUMENT,
    ]
    assert flow.history[-1] is IssueStep.DONE
    fee_prompt = next(p for p in parts.user.prompts if p.kind is PromptKind.CONFIRM_FEE)
    assert fee_prompt.message is not None
    assert "400円" in fee_prompt.message.ja
    assert parts.open_plans() == []
    (end,) = [line for line in parts.ej.lines() if "ISSUE-END" in line]
    assert f"serial={request.serial}" in end
    assert "kind=RESIDENT_RECORD" in end
    assert "fee_yen=400" in end
    assert "outcome=completed" in end


def test_wrong_pin_then_right_with_tries_left_and_a_last_try_warning(tmp_path: Path) -> None:
    parts = Parts(tmp_path, card=FakeCard(tries=2), user=FakeUser(secrets=["9999", "1234"]))
    outcome, _ = parts.run()
    assert outcome.outcome is Outcome.COMPLETED
    pin_prompts = [p for p in parts.user.prompts if p.kind is PromptKind.AUTH_PIN]
    assert [p.tries_left for p in pin_prompts] == [2, 1]
    assert pin_prompts[1].last_try
    warning = next(i for i, e in enumerate(parts.events) if isinstance(e, LastTryWarning))
    second = parts.events.index(pin_prompts[1])
    assert warning < second


def test_a_blocked_pin_fails_before_any_payment(tmp_path: Path) -> None:
    parts = Parts(tmp_path, card=FakeCard(tries=1), user=FakeUser(secrets=["9999"]))
    outcome, _ = parts.run()
    assert outcome.outcome is Outcome.FAILED
    assert outcome.reason == FailureCode.PIN_BLOCKED
    assert "request_document" not in parts.centre.calls
    assert parts.payment.escrows == {}


def _assert_voided(parts: Parts) -> None:
    """The document requested while the resident paid was voided, and the operator told."""
    (request,) = parts.centre.requests.values()
    assert request.state is IssuanceState.REFUNDED
    (line,) = [line for line in parts.ej.lines() if "ISSUE-VOIDED" in line]
    assert f"serial={request.serial}" in line


def _cancel_at(parts: Parts, step: IssueStep) -> IssueOutcome:
    async def scenario() -> IssueOutcome:
        with Journal(parts.tmp / "j.db") as journal:
            flow = parts.flow(journal)
            task = asyncio.create_task(flow.run(FixedChoice(WHOLE)))
            while flow.step is not step and not task.done():
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)  # the step is waiting now
            flow.cancel()
            return await task

    return asyncio.run(scenario())


@pytest.mark.parametrize(
    ("step", "kw"),
    [
        (IssueStep.WAIT_CARD, {"card": FakeCard(present=False)}),
        (IssueStep.ENTER_PIN, {"user": FakeUser(secrets=["1234"], stall_at=PromptKind.AUTH_PIN)}),
        (
            IssueStep.CONFIRM_FEE,
            {"user": FakeUser(secrets=["1234"], stall_at=PromptKind.CONFIRM_FEE)},
        ),
        (IssueStep.PAYING, {"payment": FakePayment(stall=True)}),
    ],
    ids=["card", "pin", "fee", "payment"],
)
def test_cancel_at_each_prompt_charges_nothing_and_prints_nothing(
    tmp_path: Path, step: IssueStep, kw: dict[str, object]
) -> None:
    parts = Parts(tmp_path, **kw)
    outcome = _cancel_at(parts, step)
    assert outcome.outcome is Outcome.CANCELLED
    assert outcome.reason == FailureCode.CANCELLED
    assert parts.printer.jobs == []
    assert parts.payment.box == 0
    if step is IssueStep.PAYING:
        assert parts.payment.returned == 100  # the coin already in went back
        _assert_voided(parts)  # requested while paying: voided, not charged
    else:
        assert parts.centre.requests == {}
    assert parts.open_plans() == []


def test_declining_the_fee_cancels(tmp_path: Path) -> None:
    user = FakeUser(secrets=["1234"], answers={PromptKind.CONFIRM_FEE: False})
    parts = Parts(tmp_path, user=user)
    outcome, _ = parts.run()
    assert outcome.outcome is Outcome.CANCELLED
    assert parts.payment.escrows == {}
    assert parts.centre.requests == {}


def test_cancel_on_the_payment_device_is_a_cancel(tmp_path: Path) -> None:
    parts = Parts(tmp_path, payment=FakePayment(fail=PaymentCancelledError("button")))
    outcome, _ = parts.run()
    assert outcome.outcome is Outcome.CANCELLED
    _assert_voided(parts)
    assert parts.printer.jobs == []
    assert parts.open_plans() == []


def test_card_pulled_while_proving_fails_before_any_payment(tmp_path: Path) -> None:
    parts = Parts(tmp_path, card=FakeCard(remove_at="prove"))
    outcome, _ = parts.run()
    assert outcome.outcome is Outcome.FAILED
    assert outcome.reason == FailureCode.CARD_REMOVED
    assert "prove_card" not in parts.centre.calls
    assert parts.payment.escrows == {}


def test_payment_timeout_voids_the_request(tmp_path: Path) -> None:
    parts = Parts(tmp_path, payment=FakePayment(fail=PaymentTimeoutError("no coins")))
    outcome, _ = parts.run()
    assert outcome.outcome is Outcome.FAILED
    assert outcome.reason == FailureCode.PAYMENT_TIMEOUT
    failed = next(e for e in parts.events if isinstance(e, FlowFailed))
    assert failed.code == FailureCode.PAYMENT_TIMEOUT  # the event and the outcome agree
    _assert_voided(parts)
    assert parts.printer.jobs == []
    with Journal(tmp_path / "j.db") as journal:
        collect = [e for e in journal.entries() if e.effect is Effect.ISSUE_COLLECT]
    assert [e.phase for e in collect] == [Phase.INTENT, Phase.OUTCOME]
    assert collect[1].data["collected"] is False
    assert parts.open_plans() == []


def test_payment_device_fault_gives_back_what_it_holds(tmp_path: Path) -> None:
    parts = Parts(tmp_path, payment=FakePayment(fail=PaymentDeviceError("jam")))
    outcome, _ = parts.run()
    assert outcome.outcome is Outcome.FAILED
    assert outcome.reason == FailureCode.DEVICE_ERROR
    assert parts.payment.returned == 100
    assert parts.payment.box == 0
    _assert_voided(parts)


@pytest.mark.parametrize(
    ("printer", "failure"),
    [
        (FakeDocumentPrinter(outcome=PrintOutcome.ABORTED), "CANCELLED"),
        (FakeDocumentPrinter(outcome=PrintOutcome.TIMED_OUT), "TIMEOUT"),
        (FakeDocumentPrinter(fail=PrinterUnavailableError("jam", state="media-jam")), "JAM"),
    ],
    ids=["aborted", "timed-out", "jam-before-job"],
)
def test_printer_fault_refunds_voids_and_tells_the_operator(
    tmp_path: Path, printer: FakeDocumentPrinter, failure: str
) -> None:
    parts = Parts(tmp_path, printer=printer)
    outcome, _ = parts.run()
    assert outcome.outcome is Outcome.FAILED
    assert outcome.reason == FailureCode.PRINT_FAILED
    assert outcome.refunded
    assert not outcome.charged
    assert parts.payment.box == 0
    assert parts.payment.returned == 500
    (request,) = parts.centre.requests.values()
    assert request.state is IssuanceState.REFUNDED
    (line,) = [line for line in parts.ej.lines() if "ISSUE-PRINT-FAILED" in line]
    assert f"serial={request.serial}" in line
    assert f"failure={failure}" in line
    assert parts.open_plans() == []


@pytest.mark.parametrize("method", ["open_session", "prove_card", "list_documents"])
def test_centre_down_before_payment_fails_with_nothing_taken(tmp_path: Path, method: str) -> None:
    parts = Parts(tmp_path, centre=FakeCentre(down={method}))
    outcome, _ = parts.run()
    assert outcome.outcome is Outcome.FAILED
    assert outcome.reason == FailureCode.SERVICE_UNAVAILABLE
    assert parts.payment.escrows == {}


def test_centre_down_at_the_request_refunds_at_once(tmp_path: Path) -> None:
    parts = Parts(tmp_path, centre=FakeCentre(down={"request_document"}))
    outcome, _ = parts.run()
    assert outcome.outcome is Outcome.FAILED
    assert outcome.reason == FailureCode.SERVICE_UNAVAILABLE
    assert outcome.refunded
    assert parts.payment.returned == 500
    assert parts.payment.box == 0
    assert parts.printer.jobs == []
    # The request's fate is unknown: recovery must ask the centre again.
    (plan,) = parts.open_plans()
    assert plan.money_done
    assert not plan.centre_done


def test_municipality_unavailable_is_refused_and_refunded(tmp_path: Path) -> None:
    centre = FakeCentre(request_refusal=IssuanceRefusal.MUNICIPALITY_UNAVAILABLE)
    parts = Parts(tmp_path, centre=centre)
    outcome, _ = parts.run()
    assert outcome.outcome is Outcome.REFUSED
    assert outcome.reason == IssueRefusal.MUNICIPALITY_UNAVAILABLE
    assert parts.payment.returned == 500
    assert parts.payment.box == 0
    assert parts.open_plans() == []


def test_a_card_the_centre_rejects_is_named_by_its_reason(tmp_path: Path) -> None:
    centre = FakeCentre(
        card_refusal=IssuanceRefusal.CARD_REJECTED, card_reason="CERTIFICATE_REVOKED"
    )
    parts = Parts(tmp_path, centre=centre)
    outcome, _ = parts.run()
    assert outcome.outcome is Outcome.REFUSED
    assert outcome.reason == "CERTIFICATE_REVOKED"
    assert parts.payment.escrows == {}


@pytest.mark.parametrize(
    ("choice", "reason"),
    [
        (IssueChoice("261033", DocumentKind.FAMILY_REGISTER), IssueRefusal.NOT_A_RESIDENT),
        (IssueChoice("999999", DocumentKind.RESIDENT_RECORD), IssueRefusal.NOT_A_RESIDENT),
        (IssueChoice("131016", DocumentKind.TAX), IssueRefusal.DOCUMENT_NOT_OFFERED),
        (
            IssueChoice("131016", DocumentKind.SEAL_REGISTRATION, DocumentOptions(copies=2)),
            IssueRefusal.OPTIONS_INVALID,
        ),
    ],
    ids=["refuses-resident", "unknown-town", "not-offered", "too-many-copies"],
)
def test_a_choice_not_offered_is_refused_before_payment(
    tmp_path: Path, choice: IssueChoice, reason: str
) -> None:
    parts = Parts(tmp_path)
    outcome, _ = parts.run(choice)
    assert outcome.outcome is Outcome.REFUSED
    assert outcome.reason == reason
    assert parts.payment.escrows == {}


def test_the_pin_never_reaches_logs_journals_or_events(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pin = "7391"
    card = FakeCard(auth_pin=pin.encode())
    parts = Parts(tmp_path, card=card, user=FakeUser(secrets=["1111", pin]))
    outcome, _flow = parts.run()
    assert outcome.outcome is Outcome.COMPLETED
    assert pin not in caplog.text
    assert pin.encode() not in (tmp_path / "j.db").read_bytes()
    assert pin not in "\n".join(parts.ej.lines())
    assert pin not in repr(parts.events)
    assert pin not in repr(outcome)
    (request,) = parts.centre.requests.values()
    assert request.pdf not in repr(parts.events).encode()
