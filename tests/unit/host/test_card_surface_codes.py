# SPDX-License-Identifier: Apache-2.0
"""host.card.surface_codes: 照合番号A/B formats, the era date, and no secret in messages."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.card.surface_codes import (
    CODE_RULES,
    CodeKind,
    CodeTarget,
    code_b,
    era_yymmdd,
    normalize_code,
)
from host.errors import PinPolicyError
from host.secret import Secret
from hw_sim.card.profiles import era_date, get_profile


def test_sol_example_code_b() -> None:
    # §5: 昭和55-02-17 + 2035 + security code → 55021720352285 (SOL, on a card).
    with code_b(dt.date(1980, 2, 17), 2035, "2285") as secret:
        assert secret.reveal() == b"55021720352285"
        assert normalize_code(CodeKind.B, secret) == b"55021720352285"


def test_code_b_matches_the_simulator_profile() -> None:
    profile = get_profile("default")
    composed = code_b(profile.person.birth_date, profile.card_expiry.year, profile.security_code)
    assert composed.reveal().decode() == profile.verification_code_b


@given(st.dates(dt.date(1868, 10, 23), dt.date(2099, 12, 31)))
def test_era_dates_agree_with_the_simulator(date: dt.date) -> None:
    assert era_yymmdd(date) == era_date(date)


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        (dt.date(2019, 4, 30), "310430"),  # 平成31
        (dt.date(2019, 5, 1), "010501"),  # 令和元年
        (dt.date(1989, 1, 7), "640107"),  # 昭和64
        (dt.date(1989, 1, 8), "010108"),  # 平成元年
    ],
)
def test_era_boundaries(date: dt.date, expected: str) -> None:
    assert era_yymmdd(date) == expected


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (CodeKind.B, "5501012035228"),  # 13 digits
        (CodeKind.B, "550101203522855"),  # 15 digits
        (CodeKind.B, "55130120352285"),  # month 13
        (CodeKind.B, "55010020352285"),  # day 0
        (CodeKind.B, "5501012035228X"),
        (CodeKind.A, "123456789019"),  # wrong check digit
        (CodeKind.A, "12345678901"),
    ],
)
def test_impossible_codes_are_refused_without_echo(kind: CodeKind, value: str) -> None:
    with pytest.raises(PinPolicyError) as caught:
        normalize_code(kind, Secret.from_text(value))
    assert value not in str(caught.value)
    assert value[:8] not in str(caught.value)


@given(st.text(max_size=20))
def test_normalize_accepts_only_digit_strings_of_the_rule(text: str) -> None:
    try:
        secret = Secret.from_text(text)
    except ValueError:
        return
    for kind in CodeKind:
        messages: list[str] = []
        try:
            raw = normalize_code(kind, secret)
        except PinPolicyError as exc:
            messages.append(str(exc))
        else:
            assert len(raw) == CODE_RULES[kind].length
            assert raw.isdigit()
        # A refusal's message is one of the fixed rule texts, whatever was typed.
        for message in messages:
            assert message.startswith(CODE_RULES[kind].name)
            assert len(text) < 4 or text not in message


def test_targets_name_the_documented_files() -> None:
    # §3.2 / §3.3: text AP 0014 (A) / 0015 (B); surface AP 0013 (A) / 0012 (B).
    assert CodeTarget.TEXT.fid(CodeKind.A) == 0x0014
    assert CodeTarget.TEXT.fid(CodeKind.B) == 0x0015
    assert CodeTarget.SURFACE.fid(CodeKind.A) == 0x0013
    assert CodeTarget.SURFACE.fid(CodeKind.B) == 0x0012
    assert CodeTarget.SURFACE.aid.hex().upper() == "D3921000310001010402"


def test_bad_arguments() -> None:
    with pytest.raises(TypeError):
        normalize_code(CodeKind.B, "55010120352285")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="4 digits"):
        code_b(dt.date(1980, 1, 1), 2035, "22a5")
    with pytest.raises(ValueError, match="Meiji"):
        era_yymmdd(dt.date(1800, 1, 1))
