# SPDX-License-Identifier: Apache-2.0
"""host.messages: one table of texts, both languages for every code, the statement in both."""

from __future__ import annotations

import re

import pytest

from host.api.translate import completion_for
from host.api.user_text import reason_value, user_message
from host.card import PinKind
from host.client import AccountType, TransferStatement
from host.flows import Outcome, PromptKind, ReadOutcome, ResetOutcome, TransferOutcome
from host.messages import Language, ResultCode, result_code, result_text
from host.prompt_texts import PROMPT_KEYS, PromptKey, prompt_text, statement_message
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import verifier_pb2 as vpb

_KANA_KANJI = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.mark.parametrize("code", list(ResultCode))
def test_every_completion_code_has_japanese_and_english(code: ResultCode) -> None:
    text = result_text(code)
    assert text.key == f"result.{code.value}"
    assert _KANA_KANJI.search(text.ja), "the Japanese text is Japanese"
    assert text.en
    assert text.en.isascii()
    assert text.en.endswith(".")
    assert text.text(Language.JA) == text.ja
    assert text.text(Language.EN) == text.en


def test_the_proto_enum_and_the_table_have_the_same_codes() -> None:
    proto = {
        name.removeprefix("COMPLETION_REASON_")
        for name in tpb.CompletionReason.DESCRIPTOR.values_by_name
        if name != "COMPLETION_REASON_UNSPECIFIED"
    }
    assert proto == {code.name for code in ResultCode}
    assert reason_value(None) == tpb.COMPLETION_REASON_UNSPECIFIED
    assert reason_value(ResultCode.NO_SIGNING_CERTIFICATE) == (
        tpb.COMPLETION_REASON_NO_SIGNING_CERTIFICATE
    )


def test_messages_name_the_next_step() -> None:
    blocked = result_text(ResultCode.SIGNING_PASSWORD_BLOCKED)
    assert "convenience-store kiosk" in blocked.en
    assert "municipal office" in blocked.en
    assert "マルチコピー機" in blocked.ja
    assert "市区町村の窓口" in blocked.ja
    missing = result_text(ResultCode.NO_SIGNING_CERTIFICATE)
    assert "no signing certificate" in missing.en
    assert "署名用電子証明書がありません" in missing.ja


@pytest.mark.parametrize(
    ("outcome", "reason", "pin", "expected"),
    [
        ("completed", "", None, None),
        ("failed", "no_signing_certificate", None, ResultCode.NO_SIGNING_CERTIFICATE),
        ("failed", "pin_blocked", PinKind.SIGN, ResultCode.SIGNING_PASSWORD_BLOCKED),
        ("failed", "pin_blocked", PinKind.AUTH, ResultCode.AUTH_PIN_BLOCKED),
        ("failed", "pin_blocked", PinKind.TEXT, ResultCode.CARD_INFO_PIN_BLOCKED),
        ("failed", "pin_blocked", None, ResultCode.PIN_BLOCKED),
        ("refused", "CERTIFICATE_REVOKED", None, ResultCode.CARD_REVOKED),
        ("refused", "RESERVATION_NOT_FOUND", None, ResultCode.RESET_NOT_BOOKED),
        ("refused", "SOMETHING_NEW", None, ResultCode.REFUSED),
        ("cancelled", "", None, ResultCode.CANCELLED),
        ("cancelled", "reversed", None, ResultCode.TRANSFER_REVERSED),
        ("failed", "failed", None, ResultCode.INTERNAL_ERROR),
    ],
)
def test_reasons_map_to_typed_codes(
    outcome: str, reason: str, pin: PinKind | None, expected: ResultCode | None
) -> None:
    assert result_code(outcome, reason, pin=pin) is expected


def test_every_prompt_kind_has_a_default_text_in_both_languages() -> None:
    assert set(PROMPT_KEYS) == {kind.value for kind in PromptKind}
    for key in PromptKey:
        text = prompt_text(key)
        assert text.key == key.value
        assert _KANA_KANJI.search(text.ja)
        assert text.en.isascii()


def test_the_statement_in_both_languages_from_the_signed_fields() -> None:
    statement = TransferStatement(
        nonce=b"\x01" * 32,
        terminal_id="atm-01",
        amount_yen=250_000,
        payee_bank_code="0001",
        payee_branch_code="123",
        payee_account_type=AccountType.ORDINARY,
        payee_account_number="1234567",
        payee_name="ヤマダ　ハナコ",
        remitter_name="ヤマダ　タロウ",
        remitter_phone="03-1234-5678",
    )
    before = statement.to_bytes()
    text = statement_message(statement)
    assert text.ja.splitlines() == [
        "金額: 250,000円",
        "振込先: ヤマダ　ハナコ",
        "金融機関・支店: 0001 / 123",
        "口座: 普通 1234567",
        "依頼人: ヤマダ　タロウ（電話 03-1234-5678）",
    ]
    assert text.en.startswith("Transfer JPY 250,000 to ヤマダ　ハナコ (bank 0001, branch 123")
    assert statement.to_bytes() == before  # what the card signs does not change


@pytest.mark.parametrize(
    "name",
    [n for n in vpb.Reason.keys() if n not in ("REASON_UNSPECIFIED", "REASON_OK")],  # noqa: SIM118
)
def test_every_verifier_refusal_reason_has_its_own_entry(name: str) -> None:
    # Unmapped, a "failed" ending falls back to INTERNAL_ERROR: every reason
    # the verifier can give must be in the table instead.
    reason = name.removeprefix("REASON_")
    assert result_code("failed", reason) is not ResultCode.INTERNAL_ERROR


#: The flows' failure codes (host.flows.context.error_code), none, and two verifier reasons.
_FLOW_CODES = [
    "no_signing_certificate", "card_removed", "pin_blocked", "service_unavailable",
    "device_error", "storage_error", "pin_policy", "cancelled", "timeout", "refused",
    "flow_error", "failed", "", "CERTIFICATE_REVOKED", "RESERVATION_EXPIRED",
]  # fmt: skip


@pytest.mark.parametrize("outcome", [o for o in Outcome if o is not Outcome.COMPLETED])
@pytest.mark.parametrize("reason", _FLOW_CODES)
def test_every_non_success_completion_has_a_reason_and_both_texts(
    outcome: Outcome, reason: str
) -> None:
    for ending in (
        ReadOutcome(outcome, "op", reason=reason),
        ResetOutcome(outcome, "op", reason=reason),
        TransferOutcome(outcome, "op", reason=reason),
    ):
        done = completion_for(ending)
        assert done.code != tpb.COMPLETION_CODE_SUCCESS
        assert done.reason != tpb.COMPLETION_REASON_UNSPECIFIED
        name = tpb.CompletionReason.Name(done.reason).removeprefix("COMPLETION_REASON_")
        assert done.message == user_message(result_text(ResultCode[name]))
    assert completion_for(ResetOutcome(Outcome.COMPLETED, "op")).reason == (
        tpb.COMPLETION_REASON_UNSPECIFIED
    )
