# SPDX-License-Identifier: Apache-2.0
"""The canonical encodings against a golden vector (also printed in verifier/README.md).

A bank rebuilding the statement in another language checks itself against
the same bytes, so the vector is spaced at field boundaries like a wire trace.
"""

from __future__ import annotations

import pytest

from verifier.canonical import (
    TransferFields,
    card_challenge,
    encode,
    statement_bytes,
    statement_digest,
)

FIELDS = TransferFields(
    nonce=bytes(range(32)),
    terminal_id="atm-01",
    amount_yen=300_000,
    payee_bank_code="0001",
    payee_branch_code="123",
    payee_account_type=1,
    payee_account_number="1234567",
    payee_name="ヤマダ　ハナコ",
    remitter_name="ヤマダ　タロウ",
    remitter_phone="03-1234-5678",
)

GOLDEN = """
4d594e412d454447452f5452414e534645522d53544154454d454e542f31 0a
01 00000020 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
02 00000006 61746d2d3031
03 00000006 333030303030
04 00000004 30303031
05 00000003 313233
06 00000001 31
07 00000007 31323334353637
08 00000015 e383a4e3839ee38380e38080e3838fe3838ae382b3
09 00000015 e383a4e3839ee38380e38080e382bfe383ade382a6
0a 0000000c 30332d313233342d35363738
"""
GOLDEN_DIGEST = "43be1a752996a99671a7fca89c9228d3366ee922b1707284c7da1d75fe750d31"


def test_statement_matches_the_golden_vector() -> None:
    assert statement_bytes(FIELDS) == bytes.fromhex("".join(GOLDEN.split()))
    assert statement_digest(FIELDS).hex() == GOLDEN_DIGEST


def test_every_field_changes_the_digest() -> None:
    import dataclasses

    changes = {
        "nonce": bytes(32), "terminal_id": "atm-02", "amount_yen": 300_001,
        "payee_bank_code": "0002", "payee_branch_code": "124", "payee_account_type": 2,
        "payee_account_number": "1234568", "payee_name": "ヤマダ", "remitter_name": "タロウ",
        "remitter_phone": "03-1234-5679",
    }  # fmt: skip
    for name, value in changes.items():
        changed = dataclasses.replace(FIELDS, **{name: value})
        assert statement_digest(changed) != statement_digest(FIELDS), name


def test_text_is_nfc_normalised() -> None:
    import dataclasses

    decomposed = dataclasses.replace(FIELDS, payee_name="ヤマダ　ハナコ".replace("ダ", "タ\u3099"))
    assert statement_bytes(decomposed) == statement_bytes(FIELDS)


def test_challenge_binds_purpose_terminal_nonce_and_extras() -> None:
    base = card_challenge("SESSION_PURPOSE_CARD_VERIFICATION", "atm-01", bytes(32))
    assert base.startswith(b"MYNA-EDGE/CARD-CHALLENGE/1\n\x01")
    assert card_challenge("SESSION_PURPOSE_TRANSFER", "atm-01", bytes(32)) != base
    assert card_challenge("SESSION_PURPOSE_CARD_VERIFICATION", "atm-02", bytes(32)) != base
    extra = card_challenge("SESSION_PURPOSE_CARD_VERIFICATION", "atm-01", bytes(32), (b"id",))
    assert extra == base + b"\x04\x00\x00\x00\x02id"


def test_encode_rejects_unordered_tags() -> None:
    with pytest.raises(ValueError, match="increasing"):
        encode("X", [(2, b""), (1, b"")])
    with pytest.raises(ValueError, match="increasing"):
        encode("X", [(0, b"")])
