# SPDX-License-Identifier: Apache-2.0
"""The terminal's canonical encodings match the verifier README's golden vector."""

from __future__ import annotations

import hashlib

import pytest

from host.client import AccountType, SessionPurpose, TransferStatement, card_challenge_digest
from host.client.canonical import encode

GOLDEN = TransferStatement(
    nonce=bytes(range(32)),
    terminal_id="atm-01",
    amount_yen=300_000,
    payee_bank_code="0001",
    payee_branch_code="123",
    payee_account_type=AccountType.ORDINARY,
    payee_account_number="1234567",
    payee_name="ヤマダ　ハナコ",
    remitter_name="ヤマダ　タロウ",
    remitter_phone="03-1234-5678",
)


def test_statement_golden_vector() -> None:
    assert GOLDEN.digest().hex() == (
        "43be1a752996a99671a7fca89c9228d3366ee922b1707284c7da1d75fe750d31"
    )
    assert GOLDEN.to_bytes().startswith(b"MYNA-EDGE/TRANSFER-STATEMENT/1\n\x01\x00\x00\x00\x20")


def test_statement_round_trips_through_the_journal_form() -> None:
    assert TransferStatement.from_dict(GOLDEN.to_dict()) == GOLDEN


@pytest.mark.parametrize("amount", [0, -1, 10**12])
def test_amount_out_of_range_is_refused(amount: int) -> None:
    with pytest.raises(ValueError, match="amount_yen"):
        TransferStatement(
            nonce=bytes(32),
            terminal_id="t",
            amount_yen=amount,
            payee_bank_code="0001",
            payee_branch_code="123",
            payee_account_type=AccountType.SAVINGS,
            payee_account_number="1234567",
            payee_name="ヤマダ　ハナコ",
            remitter_name="ヤマダ　タロウ",
            remitter_phone="03-1234-5678",
        )


def test_card_challenge_layout() -> None:
    nonce = b"\xaa" * 32
    expected = (
        b"MYNA-EDGE/CARD-CHALLENGE/1\n"
        + b"\x01\x00\x00\x00\x19SESSION_PURPOSE_PIN_RESET"
        + b"\x02\x00\x00\x00\x06kiosk1"
        + b"\x03\x00\x00\x00\x20" + nonce
        + b"\x04\x00\x00\x00\x02id"
    )  # fmt: skip
    digest = card_challenge_digest(SessionPurpose.PIN_RESET, "kiosk1", nonce, (b"id",))
    assert digest == hashlib.sha256(expected).digest()


def test_encode_refuses_unordered_tags() -> None:
    with pytest.raises(ValueError, match="increasing"):
        encode("D", [(2, b""), (1, b"")])
