# SPDX-License-Identifier: Apache-2.0
"""Flow values -> TerminalService messages: completion codes, events, commands."""

from __future__ import annotations

import datetime as dt

import pytest

from host.api.translate import completion_for, event_message, reset_operation, transfer_request
from host.card import BasicFour
from host.client import ResetOperation, TransferState
from host.flows import (
    FlowFailed,
    LastTryWarning,
    Outcome,
    Prompt,
    PromptKind,
    ReadOutcome,
    RemoveCard,
    ResetOutcome,
    TransferOutcome,
    Working,
)
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import verifier_pb2 as vpb


@pytest.mark.parametrize(
    ("outcome", "reason", "timed_out", "code"),
    [
        (Outcome.COMPLETED, "", False, tpb.COMPLETION_CODE_SUCCESS),
        (Outcome.REFUSED, "CERTIFICATE_REVOKED", False, tpb.COMPLETION_CODE_COMMAND_ERROR),
        (Outcome.CANCELLED, "cancelled", False, tpb.COMPLETION_CODE_CANCELED),
        (Outcome.CANCELLED, "cancelled", True, tpb.COMPLETION_CODE_TIME_OUT),
        (Outcome.FAILED, "timeout", False, tpb.COMPLETION_CODE_TIME_OUT),
        (Outcome.FAILED, "card_removed", False, tpb.COMPLETION_CODE_DEVICE_NOT_READY),
        (Outcome.FAILED, "service_unavailable", False, tpb.COMPLETION_CODE_DEVICE_NOT_READY),
        (Outcome.FAILED, "pin_blocked", False, tpb.COMPLETION_CODE_USER_ERROR),
        (Outcome.FAILED, "device_error", False, tpb.COMPLETION_CODE_HARDWARE_ERROR),
        (Outcome.FAILED, "failed", False, tpb.COMPLETION_CODE_INTERNAL_ERROR),
    ],
)
def test_completion_codes(outcome: Outcome, reason: str, timed_out: bool, code: int) -> None:
    done = completion_for(ResetOutcome(outcome, "op", reason=reason), timed_out=timed_out)
    assert done.code == code
    assert done.error_code == ("timeout" if timed_out else reason)


def test_results() -> None:
    transfer = completion_for(
        TransferOutcome(Outcome.COMPLETED, "op", "auth-1", TransferState.COMMITTED, "", True, True)
    )
    assert transfer.transfer.state == vpb.TRANSFER_STATE_COMMITTED
    assert transfer.transfer.receipt_printed
    four = BasicFour("山田　太郎", "東京都", dt.date(1980, 1, 2), "1")
    read = completion_for(ReadOutcome(Outcome.COMPLETED, "op", four))
    assert read.read_card.birth_date == "1980-01-02"
    failed_read = completion_for(ReadOutcome(Outcome.FAILED, "op", reason="card_removed"))
    assert failed_read.WhichOneof("result") is None


def test_events() -> None:
    assert event_message(Prompt(PromptKind.SIGNING_PASSWORD)) is None  # sent with an id
    insert = event_message(Prompt(PromptKind.INSERT_CARD, "tap"))
    assert insert is not None
    assert insert.prompt.type == tpb.PROMPT_TYPE_INSERT_CARD
    warning = event_message(LastTryWarning(PromptKind.AUTH_PIN))
    assert warning is not None
    assert warning.last_try_warning.type == tpb.PROMPT_TYPE_AUTH_PIN
    assert event_message(Working("x")) == tpb.FlowEvent(working=tpb.WorkingEvent(step="x"))
    assert event_message(RemoveCard()) is not None
    failure = event_message(FlowFailed("timeout", "late"))
    assert failure is not None
    assert failure.failure.code == "timeout"


def test_commands() -> None:
    with pytest.raises(ValueError, match="payee_account_type"):
        transfer_request(tpb.TransferCommand(amount_yen=1))
    with pytest.raises(ValueError, match="unspecified"):
        reset_operation(tpb.PinResetCommand())
    op = reset_operation(tpb.PinResetCommand(operation=vpb.RESET_OPERATION_AUTHENTICATION_PIN))
    assert op is ResetOperation.AUTHENTICATION_PIN


def test_a_completion_carries_a_typed_reason_and_a_message_in_both_languages() -> None:
    missing = completion_for(TransferOutcome(Outcome.FAILED, "op", reason="no_signing_certificate"))
    assert missing.code == tpb.COMPLETION_CODE_COMMAND_ERROR
    assert missing.reason == tpb.COMPLETION_REASON_NO_SIGNING_CERTIFICATE
    assert missing.error_code == "no_signing_certificate"  # the old field stays set
    assert missing.message.key == "result.no_signing_certificate"
    assert "署名用電子証明書" in missing.message.ja
    assert "signing certificate" in missing.message.en
    blocked = completion_for(TransferOutcome(Outcome.FAILED, "op", reason="pin_blocked"))
    assert blocked.reason == tpb.COMPLETION_REASON_SIGNING_PASSWORD_BLOCKED
    assert "kiosk" in blocked.message.en
    reversed_ = completion_for(
        TransferOutcome(Outcome.CANCELLED, "op", "a-1", TransferState.REVERSED)
    )
    assert reversed_.reason == tpb.COMPLETION_REASON_TRANSFER_REVERSED
    timed_out = completion_for(ResetOutcome(Outcome.CANCELLED, "op"), timed_out=True)
    assert timed_out.reason == tpb.COMPLETION_REASON_TIMEOUT
    done = completion_for(ResetOutcome(Outcome.COMPLETED, "op", "res-1"))
    assert done.reason == tpb.COMPLETION_REASON_UNSPECIFIED
    assert not done.HasField("message")


def test_prompts_carry_a_key_and_japanese() -> None:
    event = event_message(Prompt(PromptKind.INSERT_CARD, "Place your card"))
    assert event is not None
    message = event.prompt.message
    assert message.key == "prompt.insert_card"
    assert message.ja == "カードまたはスマートフォンをかざしてください"  # issue 15
    assert message.en == "Place your card"  # the flow's own English wording is kept


@pytest.mark.parametrize(
    ("outcome", "reason", "code"),
    [(Outcome.CANCELLED, "reversed", tpb.COMPLETION_CODE_CANCELED),
     (Outcome.FAILED, "reversed_unanswered", tpb.COMPLETION_CODE_TIME_OUT)],
)  # fmt: skip
def test_a_reversed_cash_step_says_reversed(outcome: Outcome, reason: str, code: int) -> None:
    # Issue 23.4: declined, or nobody answered within recovery_answer_seconds:
    # the typed reason is TRANSFER_REVERSED either way (was INTERNAL_ERROR for
    # the unanswered one), and the old error_code keeps the difference.
    done = completion_for(TransferOutcome(outcome, "op", "a-1", TransferState.REVERSED, reason))
    assert done.code == code
    assert done.reason == tpb.COMPLETION_REASON_TRANSFER_REVERSED
    assert done.error_code == reason
    assert "reversed" in done.message.en
    assert done.transfer.state == vpb.TRANSFER_STATE_REVERSED
