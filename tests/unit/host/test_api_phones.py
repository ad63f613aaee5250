# SPDX-License-Identifier: Apache-2.0
"""The credential kind on the terminal API (issue 15): events, completions, typed reasons."""

from __future__ import annotations

import pytest

from host.api.translate import CREDENTIAL_KINDS, USER_VERIFICATIONS, event_message
from host.api.user_text import describe_reason
from host.card import CredentialKind, UserVerification
from host.flows import FailureCode, Prompt, PromptKind
from host.flows.events import CredentialPresented
from host.prompt_texts import PromptKey, prompt_text
from myna.edge.v1 import terminal_pb2 as tpb


def test_every_kind_and_verification_has_a_wire_value() -> None:
    assert set(CREDENTIAL_KINDS) == set(CredentialKind)
    assert set(USER_VERIFICATIONS) == set(UserVerification)
    assert tpb.CREDENTIAL_KIND_UNSPECIFIED not in CREDENTIAL_KINDS.values()


def test_what_was_presented_is_an_event() -> None:
    event = event_message(CredentialPresented(CredentialKind.IPHONE, UserVerification.ON_DEVICE))
    assert event is not None
    assert event.credential.kind == tpb.CREDENTIAL_KIND_IPHONE
    assert event.credential.user_verification == tpb.USER_VERIFICATION_ON_DEVICE


def test_the_phone_prompt_is_display_only_and_in_both_languages() -> None:
    text = prompt_text(PromptKey.APPROVE_ON_PHONE)
    event = event_message(Prompt(PromptKind.APPROVE_ON_PHONE, text.en, message=text))
    assert event is not None
    assert event.prompt.type == tpb.PROMPT_TYPE_APPROVE_ON_PHONE
    assert event.prompt.prompt_id == ""  # the phone answers, not the API
    assert event.prompt.message.ja.startswith("スマートフォンで認証")
    assert prompt_text(PromptKey.INSERT_CARD).ja == "カードまたはスマートフォンをかざしてください"


@pytest.mark.parametrize(
    ("outcome", "reason", "expected", "words"),
    [
        ("cancelled", FailureCode.DECLINED_ON_PHONE, tpb.COMPLETION_REASON_DECLINED_ON_PHONE,
         "試行回数は減っていません"),
        ("failed", FailureCode.PHONE_NO_ANSWER, tpb.COMPLETION_REASON_PHONE_NO_ANSWER,
         "スマートフォンで認証してから"),
        ("failed", FailureCode.MANAGED_ON_PHONE, tpb.COMPLETION_REASON_MANAGED_ON_PHONE,
         "スマートフォンのマイナポータルアプリで"),
        ("failed", FailureCode.NOT_ON_CREDENTIAL, tpb.COMPLETION_REASON_NOT_ON_CREDENTIAL,
         "マイナンバーカードをかざして"),
        ("refused", "CREDENTIAL_NOT_ALLOWED", tpb.COMPLETION_REASON_CREDENTIAL_NOT_ALLOWED,
         "スマートフォンは使えません"),
    ],
)  # fmt: skip
def test_phone_endings_are_typed_and_say_where_to_go(
    outcome: str, reason: str, expected: int, words: str
) -> None:
    done = tpb.Completion()
    describe_reason(done, outcome=outcome, reason=reason)
    assert done.reason == expected
    assert words in done.message.ja
    assert done.message.en
