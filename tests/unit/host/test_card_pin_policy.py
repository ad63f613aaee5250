# SPDX-License-Identifier: Apache-2.0
"""host.card.pin_policy: the rules of §5, upper-casing, messages without the PIN."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.card.pin_policy import PIN_RULES, PinKind, check_pin, normalize_pin
from host.errors import PinPolicyError
from host.secret import Secret


@pytest.mark.parametrize(
    ("kind", "text", "sent"),
    [
        (PinKind.AUTH, "1234", b"1234"),
        (PinKind.TEXT, "0000", b"0000"),
        (PinKind.SIGN, "abcd1234", b"ABCD1234"),  # upper-cased, as clients do
        (PinKind.SIGN, "ABC123", b"ABC123"),
        (PinKind.SIGN, "A" * 15 + "1", b"A" * 15 + b"1"),
        (PinKind.SIGN, "ABCDEF", b"ABCDEF"),  # existing passwords: letters only is fine
    ],
)
def test_accepted(kind: PinKind, text: str, sent: bytes) -> None:
    assert normalize_pin(kind, Secret.from_text(text)) == sent
    check_pin(kind, Secret.from_text(text))


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        (PinKind.AUTH, "123"),
        (PinKind.AUTH, "12345"),
        (PinKind.AUTH, "12a4"),
        (PinKind.TEXT, ""),
        (PinKind.TEXT, "12 4"),
        (PinKind.SIGN, "ABC12"),
        (PinKind.SIGN, "A" * 17),
        (PinKind.SIGN, "ABC-123"),
    ],
)
def test_refused_without_echo(kind: PinKind, text: str) -> None:
    with pytest.raises(PinPolicyError) as info:
        check_pin(kind, Secret.from_text(text))
    message = str(info.value)
    if text:
        assert text not in message
        assert text.encode().hex() not in message
    assert isinstance(info.value, ValueError)


def test_new_signing_password_needs_letter_and_digit() -> None:
    with pytest.raises(PinPolicyError, match="letter and one digit"):
        check_pin(PinKind.SIGN, Secret.from_text("ABCDEFG"), new=True)
    with pytest.raises(PinPolicyError, match="letter and one digit"):
        check_pin(PinKind.SIGN, Secret.from_text("1234567"), new=True)
    check_pin(PinKind.SIGN, Secret.from_text("abc1234"), new=True)


def test_non_ascii_bytes_are_refused() -> None:
    with pytest.raises(PinPolicyError):
        check_pin(PinKind.AUTH, Secret("１２３４".encode()))


def test_type_and_wipe_errors() -> None:
    with pytest.raises(TypeError):
        check_pin(PinKind.AUTH, "1234")  # type: ignore[arg-type]
    secret = Secret.from_text("1234")
    secret.wipe()
    with pytest.raises(ValueError, match="wiped"):
        check_pin(PinKind.AUTH, secret)


def test_kind_facts() -> None:
    assert [PIN_RULES[k].max_tries for k in PinKind] == [3, 5, 3]
    assert PinKind.SIGN.max_tries == 5
    assert PinKind.AUTH.fid == 0x0018
    assert PinKind.SIGN.fid == 0x001B
    assert PinKind.TEXT.fid == 0x0011
    assert PinKind.TEXT.aid.hex().upper() == "D3921000310001010408"
    assert "4 digits" in PinKind.AUTH.description
    assert str(PinKind.AUTH) == "auth"


@given(st.sampled_from(list(PinKind)), st.binary(max_size=20))
def test_fuzz_only_policy_error(kind: PinKind, raw: bytes) -> None:
    try:
        sent = normalize_pin(kind, Secret(raw))
    except PinPolicyError:
        return
    rule = PIN_RULES[kind]
    assert rule.min_length <= len(sent) <= rule.max_length
