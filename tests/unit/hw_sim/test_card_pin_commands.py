# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.card.pin_commands``: VERIFY, CHANGE REFERENCE DATA, scope.

Status words and counter rules from jpki-card.md §4.1, §4.3, §5, §9.2.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hw_sim.card import VirtualCard, open_card
from tests.unit.hw_sim.card_helpers import SELECT_JPKI, SELECT_TEXT, run, sw

AUTH_PIN = "04 31 32 33 34"  # "1234", the default card's test PIN
SIGN_PASSWORD = "08 41 42 43 44 31 32 33 34"  # "ABCD1234"
WRONG_PIN = "04 39 39 39 39"
DIGEST_INFO = "33 30 31 30 0D 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20" + " 11" * 32


def select_auth_pin(card: VirtualCard) -> None:
    assert sw(card, SELECT_JPKI) == 0x9000
    assert sw(card, "00 A4 02 0C 02 00 18") == 0x9000


def can_sign_with_auth_key(card: VirtualCard) -> bool:
    result = sw(card, f"80 2A 00 97 {DIGEST_INFO} 00")
    assert result in (0x9000, 0x6982)
    return result == 0x9000


# --- VERIFY ----------------------------------------------------------------------------------


def test_empty_verify_reports_without_spending(card: VirtualCard) -> None:
    select_auth_pin(card)
    for _ in range(5):
        assert sw(card, "00 20 00 80") == 0x63C3
    tries = {name: left for name, left, _ in card.state_snapshot().pins}
    assert tries["D392F000260100000001/0018"] == 3


def test_counter_down_to_block_then_6984(card: VirtualCard) -> None:
    select_auth_pin(card)
    assert sw(card, f"00 20 00 80 {WRONG_PIN}") == 0x63C2
    assert sw(card, f"00 20 00 80 {WRONG_PIN}") == 0x63C1
    assert sw(card, f"00 20 00 80 {WRONG_PIN}") == 0x63C0  # the try that blocks
    assert sw(card, f"00 20 00 80 {AUTH_PIN}") == 0x6984  # even the right PIN
    assert sw(card, f"00 20 00 80 {WRONG_PIN}") == 0x6984
    assert sw(card, "00 20 00 80") == 0x63C0  # the query on a blocked PIN


def test_right_pin_resets_the_counter(card: VirtualCard) -> None:
    select_auth_pin(card)
    assert sw(card, f"00 20 00 80 {WRONG_PIN}") == 0x63C2
    assert sw(card, f"00 20 00 80 {AUTH_PIN}") == 0x9000
    assert sw(card, "00 20 00 80") == 0x63C3


@pytest.mark.parametrize(
    "candidate",
    [
        "04 31 32 61 34",  # "12a4": wrong format, compared as bytes
        "05 31 32 33 34 35",  # too long
        "03 31 32 33",  # too short
        "04 31 32 33 34".replace("34", "20"),  # trailing space
    ],
)
def test_wrong_format_is_a_wrong_pin(card: VirtualCard, candidate: str) -> None:
    select_auth_pin(card)
    assert sw(card, f"00 20 00 80 {candidate}") == 0x63C2


def test_password_is_case_sensitive(card: VirtualCard) -> None:
    run(card, SELECT_JPKI)
    run(card, "00 A4 02 0C 02 00 1B")
    assert sw(card, "00 20 00 80") == 0x63C5
    assert sw(card, "00 20 00 80 08 61 62 63 64 31 32 33 34") == 0x63C4  # "abcd1234"
    assert sw(card, f"00 20 00 80 {SIGN_PASSWORD}") == 0x9000


def test_verify_by_short_ef_id(card: VirtualCard) -> None:
    run(card, SELECT_JPKI)
    assert sw(card, "00 20 00 98") == 0x63C3  # §4.1: 80|SFI, EF 0018
    assert sw(card, f"00 20 00 98 {AUTH_PIN}") == 0x9000
    assert card.state_snapshot().current_ef is None  # P2 names it; nothing selected
    assert can_sign_with_auth_key(card)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("00 20 00 00", 0x6A86),  # global reference
        ("00 20 00 01", 0x6A86),
        ("00 20 00 C0", 0x6A86),
        ("00 20 01 80", 0x6A86),  # P1 must be 00
        ("00 20 00 80 00", 0x6700),  # case 2
        (f"00 20 00 80 {AUTH_PIN} 00", 0x6700),  # case 4
        ("00 20 00 8A", 0x6981),  # a certificate EF is no PIN
        ("00 20 00 97", 0x6981),  # nor is a key
        ("00 20 00 8C", 0x6A82),  # no EF 000C
        ("00 20 00 9F", 0x6A86),  # SFI 31
    ],
)
def test_verify_refusals(card: VirtualCard, command: str, expected: int) -> None:
    select_auth_pin(card)
    before = card.state_snapshot()
    assert sw(card, command) == expected
    assert card.state_snapshot() == before


def test_verify_needs_a_pin_ef(card: VirtualCard) -> None:
    assert sw(card, "00 20 00 80") == 0x6986  # nothing selected
    assert sw(card, "00 20 00 98") == 0x6A82  # no application
    run(card, SELECT_JPKI)
    assert sw(card, "00 20 00 80") == 0x6986
    run(card, "00 A4 02 0C 02 00 0A")
    assert sw(card, f"00 20 00 80 {AUTH_PIN}") == 0x6981


def test_wrong_verify_drops_the_security_status(card: VirtualCard) -> None:
    select_auth_pin(card)
    run(card, f"00 20 00 80 {AUTH_PIN}")
    assert can_sign_with_auth_key(card)
    run(card, f"00 20 00 98 {WRONG_PIN}")
    assert not can_sign_with_auth_key(card)


def test_locked_profiles(sim_home_dir: Path) -> None:
    with open_card("sign-locked", home=sim_home_dir, persist=False) as card:
        card.power_on()
        run(card, SELECT_JPKI)
        assert sw(card, "00 20 00 9B") == 0x63C0
        assert sw(card, "00 20 00 9B 0A 4C 4F 43 4B 45 44 31 31 31 31") == 0x6984
        assert sw(card, "00 20 00 98") == 0x63C3
    with open_card("auth-last-try", home=sim_home_dir, persist=False) as card:
        card.power_on()
        run(card, SELECT_JPKI)
        assert sw(card, "00 20 00 98") == 0x63C1
        assert sw(card, "00 20 00 98 04 33 33 33 33") == 0x9000
        assert sw(card, "00 20 00 98") == 0x63C3


# --- security scope --------------------------------------------------------------------------


def test_leaving_the_application_clears_its_status(card: VirtualCard) -> None:
    select_auth_pin(card)
    run(card, f"00 20 00 80 {AUTH_PIN}")
    assert sw(card, SELECT_TEXT) == 0x9000
    assert card.state_snapshot().verified == frozenset()
    run(card, SELECT_JPKI)
    assert not can_sign_with_auth_key(card)


def test_power_off_clears_status_but_keeps_counters(card: VirtualCard) -> None:
    select_auth_pin(card)
    run(card, f"00 20 00 80 {WRONG_PIN}")
    run(card, f"00 20 00 80 {AUTH_PIN}")
    run(card, f"00 20 00 80 {WRONG_PIN}")
    run(card, f"00 20 00 98 {AUTH_PIN}")
    card.power_off()
    card.power_on()
    snapshot = card.state_snapshot()
    assert (snapshot.application, snapshot.current_ef, snapshot.verified) == (
        None,
        None,
        frozenset(),
    )
    assert sw(card, f"00 20 00 80 {WRONG_PIN}") == 0x6986  # nothing selected, nothing spent
    run(card, SELECT_JPKI)
    assert not can_sign_with_auth_key(card)
    run(card, f"00 20 00 98 {WRONG_PIN}")
    card.power_off()
    card.power_on()
    run(card, SELECT_JPKI)
    assert sw(card, "00 20 00 98") == 0x63C2  # the counter survived power-off (§5)


def test_reselecting_the_same_application_keeps_status_by_default(card: VirtualCard) -> None:
    select_auth_pin(card)
    run(card, f"00 20 00 80 {AUTH_PIN}")
    run(card, SELECT_JPKI)  # SOL: a physical card kept the VERIFY
    assert can_sign_with_auth_key(card)


def test_reselect_clears_security_option(sim_home_dir: Path) -> None:
    # OpenSC's logout re-selects the JPKI AP and assumes this behaviour.
    with open_card(
        "default", home=sim_home_dir, persist=False, reselect_clears_security=True
    ) as card:
        card.power_on()
        select_auth_pin(card)
        run(card, f"00 20 00 80 {AUTH_PIN}")
        assert can_sign_with_auth_key(card)
        run(card, SELECT_JPKI)
        assert not can_sign_with_auth_key(card)


def test_warm_reset_keeps_status(card: VirtualCard) -> None:
    select_auth_pin(card)
    run(card, f"00 20 00 80 {AUTH_PIN}")
    assert card.warm_reset() == card.atr
    assert can_sign_with_auth_key(card)


# --- CHANGE REFERENCE DATA -------------------------------------------------------------------


def test_change_needs_a_verify_first(card: VirtualCard) -> None:
    select_auth_pin(card)
    before = card.state_snapshot()
    assert sw(card, "00 24 01 80 04 35 36 37 38") == 0x6982
    assert card.state_snapshot() == before


def test_change_auth_pin(card: VirtualCard) -> None:
    select_auth_pin(card)
    run(card, f"00 20 00 80 {AUTH_PIN}")
    assert sw(card, "00 24 01 80 04 35 36 37 38") == 0x9000
    assert can_sign_with_auth_key(card)  # still verified
    card.power_off()
    card.power_on()
    select_auth_pin(card)
    assert sw(card, f"00 20 00 80 {AUTH_PIN}") == 0x63C2
    assert sw(card, "00 20 00 80 04 35 36 37 38") == 0x9000


def test_change_sign_password_by_sfi(card: VirtualCard) -> None:
    run(card, SELECT_JPKI)
    run(card, f"00 20 00 9B {SIGN_PASSWORD}")
    assert sw(card, "00 24 01 9B 06 5A 59 58 39 38 37") == 0x9000  # "ZYX987"
    assert sw(card, f"00 20 00 9B {SIGN_PASSWORD}") == 0x63C4
    assert sw(card, "00 20 00 9B 06 5A 59 58 39 38 37") == 0x9000


@pytest.mark.parametrize(
    "new_value",
    [
        "03 31 32 33",  # 3 digits
        "05 31 32 33 34 35",
        "04 31 32 33 41",  # a letter in a 4-digit PIN
    ],
)
def test_change_refuses_bad_formats(card: VirtualCard, new_value: str) -> None:
    select_auth_pin(card)
    run(card, f"00 20 00 80 {AUTH_PIN}")
    before = card.state_snapshot()
    assert sw(card, f"00 24 01 80 {new_value}") == 0x6A80
    assert card.state_snapshot() == before
    card.power_off()
    card.power_on()
    select_auth_pin(card)
    assert sw(card, f"00 20 00 80 {AUTH_PIN}") == 0x9000  # the old PIN still works


@pytest.mark.parametrize(
    "new_value",
    [
        "05 41 42 43 44 31",  # 5 characters
        "11" + " 41" * 17,  # 17 characters
        "08 61 62 63 64 31 32 33 34",  # lower case
        "08 41 42 43 44 2D 31 32 33",  # "-"
    ],
)
def test_change_refuses_bad_passwords(card: VirtualCard, new_value: str) -> None:
    run(card, SELECT_JPKI)
    run(card, "00 A4 02 0C 02 00 1B")
    run(card, f"00 20 00 80 {SIGN_PASSWORD}")
    assert sw(card, f"00 24 01 80 {new_value}") == 0x6A80


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("00 24 00 80 08 31 32 33 34 35 36 37 38", 0x6A86),  # old + new: unsupported
        ("00 24 02 80 04 35 36 37 38", 0x6A86),
        ("00 24 01 80", 0x6700),
        ("00 24 01 80 04 35 36 37 38 00", 0x6700),
        ("00 24 01 8A 04 35 36 37 38", 0x6981),
    ],
)
def test_change_refusals(card: VirtualCard, command: str, expected: int) -> None:
    select_auth_pin(card)
    run(card, f"00 20 00 80 {AUTH_PIN}")
    before = card.state_snapshot()
    assert sw(card, command) == expected
    assert card.state_snapshot() == before


def test_verification_codes_cannot_change(card: VirtualCard) -> None:
    run(card, SELECT_TEXT)
    code_a = "0C " + b"123456789018".hex(" ")
    assert sw(card, f"00 20 00 94 {code_a}") == 0x9000
    assert sw(card, f"00 24 01 94 {code_a}") == 0x6985


def test_text_pin_change(card: VirtualCard) -> None:
    run(card, SELECT_TEXT)
    assert sw(card, "00 20 00 91") == 0x63C3
    assert sw(card, f"00 20 00 91 {AUTH_PIN}") == 0x9000
    assert sw(card, "00 24 01 91 04 30 30 30 30") == 0x9000
    assert sw(card, "00 20 00 91 04 30 30 30 30") == 0x9000
