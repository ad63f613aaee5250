# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.card.text_ap``: the card-info input support AP (§3.2)."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from hw_sim.card import VirtualCard, get_profile, open_card
from hw_sim.card.text_ap import basic_four, basic_four_signed_part, my_number_file
from hw_sim.pki import TestPki
from tests.unit.hw_sim.card_helpers import SELECT_TEXT, check_read_access, parse_tlvs, read_ef, run

TEXT_PIN = "04 31 32 33 34"
CODE_A = "0C " + b"123456789018".hex(" ")
CODE_B = "0E " + b"55010120352285".hex(" ")

# jpki-card.md §9.3, the whole file for 山田　太郎 (spaced at TLV boundaries).
SECTION_9_3 = bytes.fromhex(
    "FF 20 5C  DF 21 08 00 0E 00 20 00 50 00 5B"
    "  DF 22 0F E5 B1 B1 E7 94 B0 E3 80 80 E5 A4 AA E9 83 8E"
    "  DF 23 2D E6 9D B1 E4 BA AC E9 83 BD E5 8D 83 E4 BB A3 E7 94 B0 E5 8C BA E9 9C 9E E3 81 8C"
    "           E9 96 A2 EF BC 91 EF BC 8D EF BC 91 EF BC 8D EF BC 91"
    "  DF 24 08 31 39 38 30 30 31 30 31"
    "  DF 25 01 31"
)


@pytest.fixture
def card(card: VirtualCard) -> VirtualCard:
    """The powered default card with the card-info AP selected."""
    card.transmit(bytes.fromhex(SELECT_TEXT))
    return card


def tlv_items(value: bytes) -> dict[bytes, bytes]:
    """Split two-byte-tag BER TLVs (lengths short, 81 xx or 82 xx xx)."""
    return {tag: item for tag, item, _ in parse_tlvs(value)}


def test_basic_four_matches_section_9_3() -> None:
    assert basic_four(get_profile("default").person) == SECTION_9_3


def test_basic_four_on_the_card(card: VirtualCard) -> None:
    assert run(card, f"00 20 00 91 {TEXT_PIN}")[1] == 0x9000
    content = read_ef(card, 0x02)
    assert content[: len(SECTION_9_3)] == SECTION_9_3
    assert set(content[len(SECTION_9_3) :]) == {0xFF}


def test_long_address_uses_a_long_length() -> None:
    person = get_profile("long-address").person
    obj = basic_four(person)
    assert 127 < len(obj) < 256
    # UNCONFIRMED form (§3.2): minimal BER, so 81 xx for 128..255 bytes.
    assert obj[:3] == b"\xff\x20\x81"
    body = obj[4:]
    assert obj[3] == len(body)
    offsets = body[3:11]
    for index, tag in enumerate((b"\xdf\x22", b"\xdf\x23", b"\xdf\x24", b"\xdf\x25")):
        start = int.from_bytes(offsets[2 * index : 2 * index + 2], "big")
        assert obj[start : start + 2] == tag
    assert tlv_items(body)[b"\xdf\x23"].decode("utf-8") == person.address
    assert obj[obj.index(b"\xdf\x23") + 2] == 0x81  # the address item too


def test_very_long_basic_four_uses_82() -> None:
    person = dataclasses.replace(get_profile("long-address").person, address="東" * 100)
    obj = basic_four(person)
    assert obj[:3] == b"\xff\x20\x82"
    assert int.from_bytes(obj[3:5], "big") == len(obj) - 5
    assert int.from_bytes(obj[8:10], "big") == 16  # DF22 after a 5-byte header + DF21
    assert obj[16:18] == b"\xdf\x22"


def test_my_number_file(card: VirtualCard) -> None:
    expected = b"\xff\x10\x0c123456789018\xff\xff"
    assert my_number_file("123456789018") == expected
    assert run(card, f"00 20 00 91 {TEXT_PIN}")[1] == 0x9000
    run(card, "00 A4 02 0C 02 00 01")
    assert run(card, "00 B0 00 00 11") == (expected, 0x9000)


def test_integrity_record_checks_out(card: VirtualCard, sim_home_dir: Path) -> None:
    run(card, f"00 20 00 91 {TEXT_PIN}")
    number, four, record = read_ef(card, 0x01), read_ef(card, 0x02), read_ef(card, 0x03)
    assert len(record) == 336
    assert record[:5] == bytes.fromhex("FF 30 82 01 4B")
    items = tlv_items(record[5:])
    assert items[b"\xdf\x31"] == hashlib.sha256(number).digest()  # filler included
    end = 3 + four[2]  # the object is short-form here
    assert items[b"\xdf\x32"] == hashlib.sha256(four[14:end]).digest()  # DF22 .. end
    assert basic_four_signed_part(SECTION_9_3) == SECTION_9_3[14:]
    issuer = TestPki.open(sim_home_dir / "pki").card_data_key().public_key()
    signed = items[b"\xdf\x31"] + items[b"\xdf\x32"]
    issuer.verify(items[b"\xdf\x33"], signed, padding.PKCS1v15(), hashes.SHA256())


def test_cv_certificate(card: VirtualCard, sim_home_dir: Path) -> None:
    cv = read_ef(card, 0x04)  # no credential needed
    assert len(cv) == 568
    assert cv[:5] == bytes.fromhex("7F 21 82 02 33")
    assert cv[5:10] == bytes.fromhex("5F 4E 82 01 29")
    assert cv[42:51] == bytes.fromhex("90 03 01 00 01 91 82 01 00")
    assert cv[307:312] == bytes.fromhex("5F 37 82 01 00")
    issuer = TestPki.open(sim_home_dir / "pki").card_data_key().public_key()
    issuer.verify(cv[312:], cv[5:307], padding.PKCS1v15(), hashes.SHA256())


def test_basic_info(card: VirtualCard) -> None:
    info = read_ef(card, 0x05)
    assert len(info) == 256
    assert info[:5] == bytes.fromhex("FF 40 82 00 9F")  # MYNA's BER test object (§3.2)
    assert info[5:12] == bytes.fromhex("DF 41 04 01 03 0E 01")
    assert info[12:15] == bytes.fromhex("DF 42 10")
    assert info[31:36] == bytes.fromhex("DF 43 82 00 80")
    assert info[68:164] == b"\xff" * 96
    cv = read_ef(card, 0x04)
    assert info[15:31] == cv[26:42]  # DF42 = the AP key's id, as in the CV certificate


@pytest.mark.parametrize(
    ("credential", "readable"),
    [
        (f"00 20 00 91 {TEXT_PIN}", {0x01, 0x02, 0x03}),
        (f"00 20 00 94 {CODE_A}", {0x01, 0x03}),  # A does not open 0002 (§3.2)
        (f"00 20 00 95 {CODE_B}", {0x02, 0x03}),
        (None, set()),
    ],
)
def test_access_conditions(card: VirtualCard, credential: str | None, readable: set[int]) -> None:
    if credential:
        assert run(card, credential)[1] == 0x9000
    check_read_access(card, (0x01, 0x02, 0x03), readable, free=(0x04, 0x05))


def test_counters_of_the_codes(card: VirtualCard) -> None:
    assert run(card, "00 20 00 94")[1] == 0x63CA  # 10 tries: UNCONFIRMED
    assert run(card, "00 20 00 95")[1] == 0x63CA
    assert run(card, "00 20 00 94 0C " + b"000000000000".hex(" "))[1] == 0x63C9
    assert run(card, "00 20 00 91")[1] == 0x63C3


def test_key_blocked_at_issuance(card: VirtualCard) -> None:
    assert run(card, "00 20 00 92")[1] == 0x63C0
    assert run(card, f"00 20 00 92 {TEXT_PIN}")[1] == 0x6984


def test_foreign_resident_name(sim_home_dir: Path) -> None:
    with open_card("foreign-resident", home=sim_home_dir, persist=False) as card:
        card.power_on()
        run(card, SELECT_TEXT)
        assert run(card, "00 20 00 91 04 39 38 37 36")[1] == 0x9000
        items = tlv_items(read_ef(card, 0x02)[3:])
        assert items[b"\xdf\x22"] == b"SMITH JOHN"
