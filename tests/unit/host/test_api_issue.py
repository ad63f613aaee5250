# SPDX-License-Identifier: Apache-2.0
"""The terminal API's certificate-issuance command: its choice, offer rules, events, completion."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.api.commands import CommandKind
from host.api.prompts import ApiUser
from host.api.runtime import AgentRuntime, Profile, build_flow
from host.api.translate import completion_for, event_message, issue_choice
from host.card import PinKind
from host.client.issuance_models import DocumentKind, HouseholdScope
from host.flows import FailureCode, Outcome, Prompt, PromptKind
from host.flows.codes import IssueRefusal
from host.flows.issue import IssueFlow
from host.flows.issue_request import IssueOutcome
from host.journal import Journal
from myna.edge.v1 import municipal_pb2 as mpb
from myna.edge.v1 import terminal_pb2 as tpb
from tests.unit.host.flow_fakes import FakeCard
from tests.unit.host.issue_fakes import FakeCentre, FakeDocumentPrinter, FakePayment


def _command(**kw: object) -> tpb.IssueCertificateCommand:
    fields: dict[str, object] = {
        "municipality_code": "131016",
        "kind": mpb.DOCUMENT_KIND_RESIDENT_RECORD,
        "options": mpb.DocumentOptions(household_scope=mpb.HOUSEHOLD_SCOPE_SELF),
    }
    fields.update(kw)
    return tpb.IssueCertificateCommand(**fields)  # type: ignore[arg-type]


def test_the_command_becomes_the_flow_s_choice() -> None:
    choice = issue_choice(_command())
    assert choice.municipality_code == "131016"
    assert choice.kind is DocumentKind.RESIDENT_RECORD
    assert choice.options.household_scope is HouseholdScope.SELF
    assert choice.options.copies == 1  # 0 on the wire is one copy


@pytest.mark.parametrize(
    "command",
    [
        _command(kind=mpb.DOCUMENT_KIND_UNSPECIFIED),
        _command(municipality_code=""),
        _command(municipality_code="13101６"),
        _command(options=mpb.DocumentOptions(copies=11)),
    ],
    ids=["no-kind", "no-town", "full-width-digit", "eleven-copies"],
)
def test_a_malformed_choice_is_refused_at_acknowledgement(
    command: tpb.IssueCertificateCommand,
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - Refusal.invalid_command takes any ValueError
        issue_choice(command)


def _runtime(journal: Journal, profile: Profile, *, parts: bool) -> AgentRuntime:
    return AgentRuntime(
        profile=profile,
        terminal_id="mfp-01",
        verifier=None,  # type: ignore[arg-type]
        journal=journal,
        card_factory=FakeCard,
        issuance=FakeCentre() if parts else None,
        payment=FakePayment() if parts else None,
        document_printer=FakeDocumentPrinter() if parts else None,
    )


@pytest.mark.parametrize(
    ("profile", "parts", "offered"),
    [
        (Profile.KIOSK, True, True),
        (Profile.KIOSK, False, False),  # no payment device or printer: not offered
        (Profile.ATM, True, False),
        (Profile.COUNTER, True, False),
    ],
)
def test_only_a_kiosk_with_its_parts_offers_issuance(
    tmp_path: Path, profile: Profile, parts: bool, offered: bool
) -> None:
    with Journal(tmp_path / "j.db") as journal:
        runtime = _runtime(journal, profile, parts=parts)
        assert runtime.offers(CommandKind.ISSUE_CERTIFICATE) is offered
        assert runtime.capabilities().issue_certificate is offered


def test_build_flow_gives_an_issue_flow(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        runtime = _runtime(journal, Profile.KIOSK, parts=True)
        request = tpb.ExecuteRequest(request_id="r-1", issue_certificate=_command())
        user = ApiUser(lambda event: None, touch_secrets=True, request_id="r-1")
        flow, _ = build_flow(runtime, request, card=FakeCard(), user=user, emit=lambda e: None)
        assert isinstance(flow, IssueFlow)


@pytest.mark.parametrize(
    "kind", [PromptKind.INSERT_PAYMENT, PromptKind.TAKE_DOCUMENT, PromptKind.INSERT_CARD]
)
def test_display_only_prompts_are_events_with_both_languages(kind: PromptKind) -> None:
    message = event_message(Prompt(kind, "text"))
    assert message is not None
    assert message.prompt.type == tpb.PromptType.Value(f"PROMPT_TYPE_{kind.value.upper()}")
    assert message.prompt.prompt_id == ""  # nobody answers it through the API
    assert message.prompt.message.ja


def test_the_fee_prompt_is_answered_not_broadcast() -> None:
    assert event_message(Prompt(PromptKind.CONFIRM_FEE, "fee")) is None


def test_a_completed_issuance_carries_the_operator_facts() -> None:
    outcome = IssueOutcome(
        Outcome.COMPLETED,
        "op",
        request_id="req-1",
        serial="131016-000001",
        kind=DocumentKind.RESIDENT_RECORD,
        fee_yen=400,
        printed=True,
        charged=True,
    )
    done = completion_for(outcome)
    assert done.code == tpb.COMPLETION_CODE_SUCCESS
    result = done.issue_certificate
    assert (result.request_id, result.serial, result.fee_yen) == ("req-1", "131016-000001", 400)
    assert result.kind == mpb.DOCUMENT_KIND_RESIDENT_RECORD
    assert result.printed
    assert result.charged
    assert not result.refunded


@pytest.mark.parametrize(
    ("outcome", "reason", "code", "typed"),
    [
        (
            Outcome.FAILED,
            FailureCode.PRINT_FAILED,
            tpb.COMPLETION_CODE_HARDWARE_ERROR,
            tpb.COMPLETION_REASON_PRINT_FAILED_REFUNDED,
        ),
        (
            Outcome.FAILED,
            FailureCode.PAYMENT_TIMEOUT,
            tpb.COMPLETION_CODE_TIME_OUT,
            tpb.COMPLETION_REASON_PAYMENT_TIMEOUT,
        ),
        (
            Outcome.REFUSED,
            IssueRefusal.MUNICIPALITY_UNAVAILABLE,
            tpb.COMPLETION_CODE_COMMAND_ERROR,
            tpb.COMPLETION_REASON_MUNICIPALITY_UNAVAILABLE,
        ),
        (
            Outcome.REFUSED,
            IssueRefusal.NO_REGISTERED_SEAL,
            tpb.COMPLETION_CODE_COMMAND_ERROR,
            tpb.COMPLETION_REASON_NO_REGISTERED_SEAL,
        ),
        (
            Outcome.REFUSED,
            IssueRefusal.OUTSIDE_SERVICE_HOURS,
            tpb.COMPLETION_CODE_COMMAND_ERROR,
            tpb.COMPLETION_REASON_OUTSIDE_SERVICE_HOURS,
        ),
        (
            Outcome.FAILED,
            FailureCode.PIN_BLOCKED,
            tpb.COMPLETION_CODE_USER_ERROR,
            tpb.COMPLETION_REASON_AUTH_PIN_BLOCKED,
        ),
    ],
)
def test_failures_have_a_code_a_typed_reason_and_a_message(
    outcome: Outcome, reason: str, code: int, typed: int
) -> None:
    done = completion_for(IssueOutcome(outcome, "op", reason=reason, pin=PinKind.AUTH))
    assert done.code == code
    assert done.reason == typed
    assert done.message.ja
    assert done.message.en
