# SPDX-License-Identifier: Apache-2.0
"""The virtual card's issuer-protected reset (EXTERNAL AUTHENTICATE + RESET RETRY COUNTER).

The MACs come from ``verifier.issuer``, an independent implementation of the
same written rules, so these tests also prove the card and the service agree.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hw_sim.card import VirtualCard, get_profile, open_card
from hw_sim.card.issuer_commands import MASTER_KEY_FILE, card_id
from hw_sim.card.jpki_ap import EF_AUTH_CERT, EF_SIGN_CERT
from tests.unit.hw_sim.card_helpers import SELECT_JPKI, read_ef, run, sw
from verifier.issuer import issuer_authorization

SIGN_PASSWORD_SFI = "9B"  # EF 001B by short id
AUTH_PIN_SFI = "98"  # EF 0018


@pytest.fixture
def jpki(card: VirtualCard) -> VirtualCard:
    assert sw(card, SELECT_JPKI) == 0x9000
    return card


def _card_id(card: VirtualCard) -> bytes:
    # The EF is padded after the certificate (jpki-card.md §6): hash the DER only.
    raw = read_ef(card, EF_AUTH_CERT)
    assert raw[:2] == b"\x30\x82"
    return card_id(raw[: 4 + int.from_bytes(raw[2:4], "big")])


def _proof_certificate(home: Path, operation: int, profile: str = "default") -> bytes:
    # What the verifier checked: the certificate of the key proving ``operation``
    # (op 1: authentication, op 2: signing, readable after the password), read
    # from a second instance of the same card so the card under test is untouched.
    fid = EF_AUTH_CERT if operation == 1 else EF_SIGN_CERT
    with open_card(profile, home=home, persist=False) as other:
        other.power_on()
        assert sw(other, SELECT_JPKI) == 0x9000
        if operation == 2:
            assert _verify(other, SIGN_PASSWORD_SFI, get_profile(profile).sign_password) == 0x9000
        raw = read_ef(other, fid)
    return raw[: 4 + int.from_bytes(raw[2:4], "big")]


def _master(home: Path) -> bytes:
    return bytes.fromhex((home / "pki" / MASTER_KEY_FILE).read_text())


def _authorize(
    card: VirtualCard, home: Path, operation: int, *, tamper: bool = False, profile: str = "default"
) -> int:
    challenge, status = run(card, "00 84 00 00 08")
    assert status == 0x9000
    assert len(challenge) == 8
    cid = _card_id(card)
    cert = _proof_certificate(home, operation, profile)
    mac = bytearray(
        issuer_authorization(_master(home), cid, challenge, operation, proof_certificate_der=cert)
    )
    if tamper:
        mac[0] ^= 1
    return sw(card, bytes([0x00, 0x82, 0x00, operation, 0x10, *mac]))


def _reset(card: VirtualCard, sfi: str, value: str) -> int:
    data = value.encode("ascii")
    return sw(card, bytes.fromhex(f"00 2C 02 {sfi}") + bytes([len(data)]) + data)


def _verify(card: VirtualCard, sfi: str, value: str) -> int:
    data = value.encode("ascii")
    return sw(card, bytes.fromhex(f"00 20 00 {sfi}") + bytes([len(data)]) + data)


def test_authorised_reset_sets_the_new_password(jpki: VirtualCard, sim_home_dir: Path) -> None:
    assert _authorize(jpki, sim_home_dir, 0x01) == 0x9000
    assert _reset(jpki, SIGN_PASSWORD_SFI, "NEWPASS9") == 0x9000
    assert _verify(jpki, SIGN_PASSWORD_SFI, "NEWPASS9") == 0x9000
    # The authorisation was single use.
    assert _reset(jpki, SIGN_PASSWORD_SFI, "OTHER123") == 0x6982


def test_auth_pin_reset_needs_its_own_operation(jpki: VirtualCard, sim_home_dir: Path) -> None:
    assert _authorize(jpki, sim_home_dir, 0x01) == 0x9000
    assert _reset(jpki, AUTH_PIN_SFI, "9876") == 0x6982
    assert _authorize(jpki, sim_home_dir, 0x02) == 0x9000
    assert _reset(jpki, AUTH_PIN_SFI, "9876") == 0x9000
    assert _verify(jpki, AUTH_PIN_SFI, "9876") == 0x9000


def test_wrong_mac_is_refused_and_authorises_nothing(jpki: VirtualCard, sim_home_dir: Path) -> None:
    before = jpki.state_snapshot().pins
    assert _authorize(jpki, sim_home_dir, 0x01, tamper=True) == 0x6300
    assert _reset(jpki, SIGN_PASSWORD_SFI, "NEWPASS9") == 0x6982
    assert jpki.state_snapshot().pins == before


def test_without_a_challenge_or_twice_with_one(jpki: VirtualCard, sim_home_dir: Path) -> None:
    mac = "00" * 16
    assert sw(jpki, "00 82 00 01 10 " + mac) == 0x6985
    challenge, _ = run(jpki, "00 84 00 00 08")
    cert = _proof_certificate(sim_home_dir, 1)
    good = issuer_authorization(
        _master(sim_home_dir), _card_id(jpki), challenge, 1, proof_certificate_der=cert
    )
    assert sw(jpki, bytes([0, 0x82, 0, 1, 0x10, *good])) == 0x9000
    assert sw(jpki, bytes([0, 0x82, 0, 1, 0x10, *good])) == 0x6985  # challenge consumed


def test_an_authorisation_for_another_certificate_is_refused(
    jpki: VirtualCard, sim_home_dir: Path
) -> None:
    # Issue 22: card A's signing certificate proved the reset; card B refuses it.
    before = jpki.state_snapshot().pins
    challenge, _ = run(jpki, "00 84 00 00 08")
    other = _proof_certificate(sim_home_dir, 1)  # not this card's signing certificate
    mac = issuer_authorization(
        _master(sim_home_dir), _card_id(jpki), challenge, 2, proof_certificate_der=other
    )
    assert sw(jpki, bytes([0, 0x82, 0, 2, 0x10, *mac])) == 0x6300
    assert _reset(jpki, AUTH_PIN_SFI, "9876") == 0x6982
    assert jpki.state_snapshot().pins == before


def test_new_value_must_follow_the_pin_rules(jpki: VirtualCard, sim_home_dir: Path) -> None:
    before = jpki.state_snapshot().pins
    assert _authorize(jpki, sim_home_dir, 0x02) == 0x9000
    assert _reset(jpki, AUTH_PIN_SFI, "12AB") == 0x6A80
    assert jpki.state_snapshot().pins == before


def test_malformed_commands(jpki: VirtualCard) -> None:
    assert sw(jpki, "00 82 00 03 10 " + "00" * 16) == 0x6A86  # unknown operation
    assert sw(jpki, "00 82 00 01 04 00000000") == 0x6700
    assert sw(jpki, "00 2C 01 9B 04 31323334") == 0x6A86  # P1 must be 02
    assert sw(jpki, "00 2C 02 9B") == 0x6700


def test_outside_the_jpki_application(card: VirtualCard) -> None:
    assert sw(card, "00 82 00 01 10 " + "00" * 16) == 0x6985


def test_reset_unblocks_a_locked_password(sim_home_dir: Path) -> None:
    with open_card("sign-locked", home=sim_home_dir, persist=False) as locked:
        locked.power_on()
        assert sw(locked, SELECT_JPKI) == 0x9000
        assert _verify(locked, SIGN_PASSWORD_SFI, "ABCD1234") == 0x6984
        assert _authorize(locked, sim_home_dir, 0x01, profile="sign-locked") == 0x9000
        assert _reset(locked, SIGN_PASSWORD_SFI, "FRESH2026") == 0x9000
        assert _verify(locked, SIGN_PASSWORD_SFI, "FRESH2026") == 0x9000
