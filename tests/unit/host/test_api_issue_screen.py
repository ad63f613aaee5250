# SPDX-License-Identifier: Apache-2.0
"""Issuance chosen on the kiosk screen: the CHOOSE_DOCUMENT prompt, its answers, the checks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from host.api.issue import ScreenChoice, offers_message
from host.api.prompts import ApiUser
from host.api.runtime import AgentRuntime, Profile, build_flow
from host.api.translate import completion_for, event_message
from host.client.issuance_models import DocumentKind, HouseholdScope
from host.errors import FlowRefusedError
from host.flows import Outcome
from host.flows.codes import IssueRefusal
from host.flows.events import PaymentInserted
from host.flows.issuance_ports import Escrow, PaymentProgress
from host.flows.issue import IssueFlow
from host.flows.issue_request import ChosenDocument, FixedChoice, IssueChoice, IssueOutcome
from host.journal import Journal
from myna.edge.v1 import municipal_pb2 as mpb
from myna.edge.v1 import terminal_pb2 as tpb
from tests.unit.host.flow_fakes import FakeCard, FakeUser
from tests.unit.host.issue_fakes import OFFERS, FakeCentre, FakeDocumentPrinter, FakePayment


def _choice(**kw: object) -> tpb.AnswerPromptRequest:
    fields: dict[str, object] = {
        "municipality_code": "131016",
        "kind": mpb.DOCUMENT_KIND_RESIDENT_RECORD,
        "options": mpb.DocumentOptions(household_scope=mpb.HOUSEHOLD_SCOPE_WHOLE_HOUSEHOLD),
    }
    fields.update(kw)
    return tpb.AnswerPromptRequest(document_choice=tpb.IssueCertificateCommand(**fields))  # type: ignore[arg-type]


def test_the_prompt_carries_every_offer_with_its_refusal() -> None:
    message = offers_message(OFFERS)
    assert message.type == tpb.PROMPT_TYPE_CHOOSE_DOCUMENT
    assert message.message.ja == "市区町村と証明書を選んでください"
    town, other = message.offers
    assert (town.municipality_code, town.municipality_name) == ("131016", "千代田区")
    assert [o.kind for o in town.offers] == [
        mpb.DOCUMENT_KIND_RESIDENT_RECORD,
        mpb.DOCUMENT_KIND_SEAL_REGISTRATION,
    ]
    assert town.offers[0].fee_yen_per_copy == OFFERS[0].offers[0].fee_yen_per_copy
    assert list(town.offers[0].household_scopes) == [
        mpb.HOUSEHOLD_SCOPE_SELF,
        mpb.HOUSEHOLD_SCOPE_WHOLE_HOUSEHOLD,
    ]
    assert town.offers[0].max_copies == 10
    assert other.refusal == mpb.MUNICIPAL_REFUSAL_NOT_A_RESIDENT
    assert not other.offers


async def _ask(answers: list[tpb.AnswerPromptRequest]) -> tuple[ChosenDocument | None, list[bool]]:
    """Run ScreenChoice; give ``answers`` in turn; returns its result and each answer's fate."""
    sent: list[tpb.FlowEvent] = []
    user = ApiUser(sent.append, touch_secrets=True, request_id="r-1")
    task = asyncio.ensure_future(ScreenChoice(user).choose(OFFERS))
    await asyncio.sleep(0)
    prompt = sent[0].prompt
    assert prompt.prompt_id
    assert not prompt.entry_public_key  # a choice is not a secret
    taken = [user.answer(prompt.prompt_id, answer) for answer in answers]
    return await task, taken


def test_a_choice_from_the_screen_is_matched_with_its_offer() -> None:
    # A yes, a malformed choice and a touch entry do not fit; the prompt keeps waiting.
    no_kind = _choice(kind=mpb.DOCUMENT_KIND_UNSPECIFIED)
    answers = [
        tpb.AnswerPromptRequest(confirmed=True),
        no_kind,
        tpb.AnswerPromptRequest(touch_entry=tpb.TouchEntry()),
        _choice(),
    ]
    chosen, taken = asyncio.run(_ask(answers))
    assert taken == [False, False, False, True]
    assert chosen is not None
    assert chosen.choice.kind is DocumentKind.RESIDENT_RECORD
    assert chosen.choice.options.household_scope is HouseholdScope.WHOLE_HOUSEHOLD
    assert chosen.municipality_name == "千代田区"


def test_eleven_copies_are_not_taken_and_the_prompt_keeps_waiting() -> None:
    async def scenario() -> None:
        sent: list[tpb.FlowEvent] = []
        user = ApiUser(sent.append, touch_secrets=True, request_id="r-1")
        task = asyncio.ensure_future(ScreenChoice(user).choose(OFFERS))
        await asyncio.sleep(0)
        prompt_id = sent[0].prompt.prompt_id
        eleven = _choice(options=mpb.DocumentOptions(copies=11))
        assert not user.answer(prompt_id, eleven)
        assert user.answer(prompt_id, _choice())  # still waiting: a good one is taken
        assert (await task) is not None

    asyncio.run(scenario())


def test_declining_on_the_screen_chooses_nothing() -> None:
    chosen, taken = asyncio.run(_ask([tpb.AnswerPromptRequest(confirmed=False)]))
    assert taken == [True]
    assert chosen is None


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (_choice(municipality_code="261033"), IssueRefusal.NOT_A_RESIDENT),
        (_choice(kind=mpb.DOCUMENT_KIND_TAX), IssueRefusal.DOCUMENT_NOT_OFFERED),
    ],
    ids=["refused-town", "not-offered"],
)
def test_a_screen_choice_outside_the_offers_is_refused(
    answer: tpb.AnswerPromptRequest, reason: str
) -> None:
    with pytest.raises(FlowRefusedError) as caught:
        asyncio.run(_ask([answer]))
    assert caught.value.reason == reason


def test_choose_on_screen_needs_no_choice_in_the_command(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        runtime = AgentRuntime(
            profile=Profile.KIOSK,
            terminal_id="mfp-01",
            verifier=None,  # type: ignore[arg-type]
            journal=journal,
            card_factory=FakeCard,
            issuance=FakeCentre(),
            payment=FakePayment(),
            document_printer=FakeDocumentPrinter(),
        )
        command = tpb.IssueCertificateCommand(choose_on_screen=True)  # no kind: fine here
        request = tpb.ExecuteRequest(request_id="r-1", issue_certificate=command)
        user = ApiUser(lambda event: None, touch_secrets=True, request_id="r-1")
        flow, _ = build_flow(runtime, request, card=FakeCard(), user=user, emit=lambda e: None)
        assert isinstance(flow, IssueFlow)


def test_the_completion_says_what_was_inserted_and_the_change() -> None:
    outcome = IssueOutcome(
        Outcome.COMPLETED,
        "op",
        fee_yen=400,
        printed=True,
        charged=True,
        inserted_yen=1000,
        change_yen=600,
    )
    result = completion_for(outcome).issue_certificate
    assert (result.fee_yen, result.inserted_yen, result.change_yen) == (400, 1000, 600)


def test_a_printed_certificate_s_outcome_has_the_change_the_device_paid(tmp_path: Path) -> None:
    """The flow end to end on fakes: the change is what the payment device paid out."""
    with Journal(tmp_path / "j.db") as journal:
        payment = FakePayment()
        flow = IssueFlow(
            centre=FakeCentre(),
            card=FakeCard(),
            user=FakeUser(secrets=["1234"]),
            payment=payment,
            printer=FakeDocumentPrinter(),
            journal=journal,
            emit=lambda event: None,
        )
        choice = IssueChoice("131016", DocumentKind.RESIDENT_RECORD)
        outcome = asyncio.run(flow.run(FixedChoice(choice)))
    assert outcome.printed
    assert outcome.inserted_yen >= outcome.fee_yen
    assert outcome.change_yen == outcome.inserted_yen - outcome.fee_yen
    assert outcome.change_yen == payment.change


class _ReportingPayment(FakePayment):
    """A coin box that reports each coin (``PaymentProgress``): 100 yen, then the rest."""

    watcher: Callable[[int], None] | None = None
    watched: bool = False

    def watch(self, on_inserted: Callable[[int], None] | None) -> None:
        self.watched = self.watched or on_inserted is not None
        self.watcher = on_inserted

    async def collect(self, *, payment_id: str, fee_yen: int, timeout: float) -> Escrow:
        assert self.watcher is not None
        self.watcher(100)
        self.watcher(self.inserted)
        return await super().collect(payment_id=payment_id, fee_yen=fee_yen, timeout=timeout)


def test_money_going_in_is_an_event_while_the_fee_is_collected(tmp_path: Path) -> None:
    events: list[object] = []
    payment = _ReportingPayment()
    assert isinstance(payment, PaymentProgress)
    with Journal(tmp_path / "j.db") as journal:
        flow = IssueFlow(
            centre=FakeCentre(),
            card=FakeCard(),
            user=FakeUser(secrets=["1234"]),
            payment=payment,
            printer=FakeDocumentPrinter(),
            journal=journal,
            emit=events.append,
        )
        asyncio.run(flow.run(FixedChoice(IssueChoice("131016", DocumentKind.RESIDENT_RECORD))))
    paid = [e for e in events if isinstance(e, PaymentInserted)]
    assert paid == [PaymentInserted(200, 100), PaymentInserted(200, 500)]
    assert payment.watched
    assert payment.watcher is None  # stopped once collected
    wire = event_message(paid[0])
    assert wire is not None
    assert (wire.payment.fee_yen, wire.payment.inserted_yen) == (200, 100)
