# SPDX-License-Identifier: Apache-2.0
"""``host.messages`` on the wire: typed completion reasons and texts in TerminalService.

Why apart from ``translate``: the table of texts lives in ``host.messages``
(one table for the demo, the kiosk app and ATM applications); this module
only maps it onto the proto, once: ``ResultCode`` to ``CompletionReason`` by
name (a test keeps the two enums equal), ``UserText`` to ``UserMessage``.
"""

from __future__ import annotations

from typing import Final

from host.card import PinKind
from host.flows import Prompt, ReadOutcome, ResetOutcome, TransferOutcome
from host.flows.counter import CounterOutcome
from host.flows.issue_request import IssueOutcome
from host.messages import (
    Language,
    ResultCode,
    UserText,
    phone_result_text,
    result_code,
    result_text,
)
from host.prompt_texts import PROMPT_KEYS, prompt_text
from myna.edge.v1 import terminal_pb2 as tpb

__all__ = [
    "describe_completion",
    "describe_phone",
    "describe_reason",
    "prompt_user_message",
    "reason_value",
    "request_language",
    "user_message",
]

#: Flow codes that read as another's text (the typed reason follows the text).
_SAME_TEXT: Final = {"reversed_unanswered": "reversed"}


def request_language(value: str) -> Language:
    """The customer's language an ``ExecuteRequest`` names; Japanese when empty.

    Raises:
        ValueError: anything but "", "ja" or "en".
    """
    if value not in ("", *Language):
        raise ValueError("language must be ja or en (empty: ja)")
    return Language(value or Language.JA)


def user_message(text: UserText) -> tpb.UserMessage:
    """The proto form of ``text``."""
    return tpb.UserMessage(key=text.key, ja=text.ja, en=text.en)


def reason_value(code: ResultCode | None) -> tpb.CompletionReason.ValueType:
    """The ``CompletionReason`` of ``code`` (UNSPECIFIED for None: success)."""
    name = "UNSPECIFIED" if code is None else code.name
    return tpb.CompletionReason.Value(f"COMPLETION_REASON_{name}")


def prompt_user_message(prompt: Prompt) -> tpb.UserMessage:
    """The prompt's own text, or its kind's default from the table."""
    text = prompt.message
    if text is None:
        key = PROMPT_KEYS[prompt.kind.value]
        default = prompt_text(key)
        # A flow's English wording is kept; the key and Japanese come from the table.
        text = UserText(default.key, default.ja, prompt.text or default.en)
    return user_message(text)


_Outcome = ReadOutcome | ResetOutcome | TransferOutcome | CounterOutcome | IssueOutcome


def _pin(outcome: _Outcome) -> PinKind | None:
    if isinstance(outcome, TransferOutcome):
        return PinKind.SIGN  # the transfer's only secret
    return outcome.pin


def describe_completion(
    done: tpb.Completion, outcome: _Outcome, *, timed_out: bool = False
) -> None:
    """Set ``done.reason`` and ``done.message`` from the flow's outcome (not on success)."""
    reason = "timeout" if timed_out else outcome.reason
    if isinstance(outcome, CounterOutcome) and reason == "pin_blocked" and outcome.pin is None:
        # The counter check's own secret: 照合番号B, not one of the PINs.
        done.reason = reason_value(ResultCode.VERIFICATION_CODE_BLOCKED)
        done.message.CopyFrom(user_message(result_text(ResultCode.VERIFICATION_CODE_BLOCKED)))
        return
    if isinstance(outcome, TransferOutcome) and not reason and outcome.state.value == "REVERSED":
        reason = "reversed"  # the cash did not move
    describe_reason(done, outcome=outcome.outcome.value, reason=reason, pin=_pin(outcome))


def describe_phone(done: tpb.Completion) -> None:
    """Word ``done.message`` for a smartphone where a card's words would send it astray.

    A revoked or expired phone certificate is registered again or renewed on
    the phone, not at the municipal office (the typed reason stays the same).
    """
    phones = (tpb.CREDENTIAL_KIND_ANDROID, tpb.CREDENTIAL_KIND_IPHONE)
    if done.credential_kind not in phones or not done.reason:
        return
    name = tpb.CompletionReason.Name(done.reason).removeprefix("COMPLETION_REASON_")
    text = phone_result_text(ResultCode[name]) if name in ResultCode.__members__ else None
    if text is not None:
        done.message.CopyFrom(user_message(text))


def describe_reason(
    done: tpb.Completion, *, outcome: str, reason: str, pin: PinKind | None = None
) -> None:
    """Set ``done.reason`` and ``done.message`` from an ``Outcome`` value and a reason."""
    # Reversed because nobody answered the cash question in time is still a
    # reversal to the person at the ATM (error_code keeps the difference).
    code = result_code(outcome, _SAME_TEXT.get(reason, reason), pin=pin)
    done.reason = reason_value(code)
    if code is not None:
        done.message.CopyFrom(user_message(result_text(code)))
