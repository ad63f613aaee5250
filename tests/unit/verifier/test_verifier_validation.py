# SPDX-License-Identifier: Apache-2.0
"""Input validation rules, one by one, and that messages never echo values."""

from __future__ import annotations

import pytest

from myna.edge.v1 import verifier_pb2 as pb
from verifier import validation as v
from verifier.errors import InvalidRequestError


def _statement(**changes: object) -> pb.TransferStatement:
    fields: dict[str, object] = {
        "nonce": b"n" * 32, "terminal_id": "atm-01", "amount_yen": 1, "payee_bank_code": "0001",
        "payee_branch_code": "001", "payee_account_type": 1, "payee_account_number": "0000001",
        "payee_name": "ヤマダ", "remitter_name": "タナカ", "remitter_phone": "0312345678",
    }  # fmt: skip
    fields.update(changes)
    return pb.TransferStatement(**fields)  # type: ignore[arg-type]


def test_valid_statement_passes() -> None:
    v.check_statement(_statement())
    v.check_statement(_statement(amount_yen=v.MAX_AMOUNT_YEN, payee_account_type=4))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("nonce", b"n" * 31),
        ("amount_yen", 0),
        ("amount_yen", v.MAX_AMOUNT_YEN + 1),
        ("payee_bank_code", "001"),
        ("payee_branch_code", "０１２"),
        ("payee_account_number", "12345678"),
        ("payee_account_type", 3),
        ("payee_name", ""),
        ("payee_name", "ア" * 49),
        ("remitter_name", "タナカ\n"),
        ("remitter_phone", "03 1234 5678"),
        ("terminal_id", "atm/01"),
    ],
)
def test_each_bad_field_is_named(field: str, value: object) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        v.check_statement(_statement(**{field: value}))
    assert caught.value.field == f"statement.{field}"


@pytest.mark.parametrize("key", ["", "a" * 129, "with space", "キー"])
def test_idempotency_keys(key: str) -> None:
    with pytest.raises(InvalidRequestError):
        v.check_idempotency_key(key)
    v.check_idempotency_key("retry-1:abc.DEF_9")


def test_ids_enums_and_proofs() -> None:
    v.check_id("ses_" + "a" * 22, "session_id", "ses")
    with pytest.raises(InvalidRequestError):
        v.check_id("aut_" + "a" * 22, "session_id", "ses")
    with pytest.raises(InvalidRequestError):
        v.check_enum(0, pb.SessionPurpose, "purpose")
    with pytest.raises(InvalidRequestError):
        v.check_enum(42, pb.SessionPurpose, "purpose")
    v.check_enum(1, pb.SessionPurpose, "purpose")
    assert not v.check_proof(pb.CardProof(), "proof", required=False)
    with pytest.raises(InvalidRequestError):
        v.check_proof(pb.CardProof(), "proof")
    with pytest.raises(InvalidRequestError):
        v.check_proof(pb.CardProof(certificate_der=b"x", signature=b"s" * 255), "proof")
    assert v.check_proof(pb.CardProof(certificate_der=b"x", signature=b"s" * 256), "proof")


def test_oversized_request() -> None:
    with pytest.raises(InvalidRequestError):
        v.require_size(pb.CardProof(certificate_der=b"x" * 70_000))
