# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.card.profiles``: the catalogue and derived credentials."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from hw_sim.card import CardProfile, CertStatus, get_profile, profiles
from hw_sim.card.pins import AUTH_PIN, SIGN_PASSWORD, TEXT_PIN
from hw_sim.card.profiles import era_date, my_number, my_number_check_digit
from hw_sim.errors import SimError, UnknownProfileError


@pytest.mark.parametrize(
    ("body", "check"),
    [("12345678901", "8"), ("00000000000", "0"), ("11111111111", "8"), ("20481632641", "3")],
)
def test_check_digit(body: str, check: str) -> None:
    assert my_number_check_digit(body) == check


def test_check_digit_by_the_formula() -> None:
    # Independent re-statement: weights for n = 1..11 counted from the right.
    weights = [2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 6]
    for body in ("98765432109", "31415926535", "27182818284"):
        total = sum(int(d) * w for d, w in zip(reversed(body), weights, strict=True))
        remainder = total % 11
        assert my_number(body)[-1] == str(0 if remainder <= 1 else 11 - remainder)


@pytest.mark.parametrize(
    "body", ["1234567890", "123456789012", "1234567890a", "１２３４５６７８９０１"]
)
def test_check_digit_input(body: str) -> None:
    with pytest.raises(ValueError, match="11 ASCII digits"):
        my_number_check_digit(body)


@pytest.mark.parametrize(
    ("date", "era"),
    [
        (dt.date(1980, 2, 17), "550217"),  # SOL's card: 昭和55
        (dt.date(1926, 12, 25), "011225"),  # first day of 昭和
        (dt.date(1989, 1, 7), "640107"),  # last day of 昭和
        (dt.date(1989, 1, 8), "010108"),  # 平成元年
        (dt.date(2019, 5, 1), "010501"),  # 令和元年
        (dt.date(1912, 7, 30), "010730"),  # 大正元年
    ],
)
def test_era_date(date: dt.date, era: str) -> None:
    assert era_date(date) == era


def test_era_date_before_meiji() -> None:
    with pytest.raises(ValueError, match="Meiji"):
        era_date(dt.date(1800, 1, 1))


def test_verification_code_b_like_sols_card() -> None:
    base = get_profile("default")
    person = dataclasses.replace(base.person, birth_date=dt.date(1980, 2, 17))
    profile = dataclasses.replace(base, person=person, card_expiry=dt.date(2035, 2, 17))
    assert profile.verification_code_b == "55021720352285"  # §5 example
    assert profile.birth_date_key == "550217"
    assert profile.verification_code_a == person.my_number


def test_catalogue() -> None:
    catalogue = profiles()
    names = [profile.name for profile in catalogue]
    assert names[0] == "default"
    assert len(set(names)) == len(names)
    assert names == [profile.name for profile in profiles()]  # stable order
    states = {profile.name: profile.state for profile in catalogue}
    assert states["sign-locked"] == "sign-password-locked"
    assert states["auth-last-try"] == "auth-pin-one-try-left"
    assert states["revoked"] == "revoked"
    assert states["expired"] == "expired"
    for profile in catalogue:
        body = profile.person.my_number[:11]
        assert profile.person.my_number == my_number(body)
        assert AUTH_PIN.accepts(profile.auth_pin.encode())
        assert SIGN_PASSWORD.accepts(profile.sign_password.encode())
        assert TEXT_PIN.accepts(profile.text_pin.encode())
        assert len(profile.verification_code_b) == 14
        assert all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in profile.name)


def test_catalogue_covers_the_brief() -> None:
    by_name = {profile.name: profile for profile in profiles()}
    assert by_name["default"].person.name == "山田　太郎"
    assert any(ord(c) > 0xFFFF for c in by_name["rare-kanji"].person.name)
    assert len(by_name["long-address"].person.address) > 60
    assert by_name["foreign-resident"].person.name.isascii()
    assert by_name["sign-locked"].sign_tries_left == 0
    assert by_name["auth-last-try"].auth_tries_left == 1
    assert by_name["revoked"].certificates is CertStatus.REVOKED
    assert by_name["expired"].certificates is CertStatus.EXPIRED
    minor = by_name["minor"]
    assert not minor.has_sign_certificate
    assert (dt.date.today() - minor.person.birth_date).days < 15 * 365


def test_unknown_profile() -> None:
    with pytest.raises(UnknownProfileError) as caught:
        get_profile("no-such-card")
    assert isinstance(caught.value, LookupError)
    assert isinstance(caught.value, SimError)
    assert caught.value.name == "no-such-card"


def test_repr_hides_credentials() -> None:
    profile = get_profile("sign-locked")
    text = repr(profile)
    for secret in (profile.auth_pin, profile.sign_password, profile.text_pin):
        assert secret not in text
    assert profile.person.my_number not in text


def test_profile_validation() -> None:
    base = get_profile("default")
    with pytest.raises(ValueError, match="PIN breaks its format"):
        dataclasses.replace(base, auth_pin="12345")
    with pytest.raises(ValueError, match="password breaks its format"):
        dataclasses.replace(base, sign_password="abcd1234")
    with pytest.raises(ValueError, match="security code"):
        dataclasses.replace(base, security_code="12")
    assert isinstance(base, CardProfile)
