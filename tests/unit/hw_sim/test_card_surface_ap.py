# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.card.surface_ap``: the card-surface AP (§3.3)."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from hw_sim.card import VirtualCard
from hw_sim.pki import TestPki
from tests.unit.hw_sim.card_helpers import (
    SELECT_SURFACE,
    check_read_access,
    parse_tlvs,
    read_ef,
    run,
)

BIRTH_KEY = "06 " + b"550101".hex(" ")
CODE_A = "0C " + b"123456789018".hex(" ")
CODE_B = "0E " + b"55010120352285".hex(" ")


@pytest.fixture
def card(card: VirtualCard) -> VirtualCard:
    """The powered default card with the card-surface AP selected."""
    card.transmit(bytes.fromhex(SELECT_SURFACE))
    return card


def outer(content: bytes, tag: bytes) -> tuple[bytes, int]:
    """Return the value of the outer TLV and its header size."""
    assert content[:2] == tag
    first = content[2]
    if first < 0x80:
        return content[3 : 3 + first], 3
    count = first & 0x7F
    length = int.from_bytes(content[3 : 3 + count], "big")
    return content[3 + count : 3 + count + length], 3 + count


def check_png(data: bytes, size: tuple[int, int] | None = None) -> None:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    if size is not None:
        assert (width, height) == size
    assert data.endswith(b"IEND\xaeB`\x82")


def issuer(home: Path) -> rsa.RSAPublicKey:
    return TestPki.open(home / "pki").card_data_key().public_key()


@pytest.mark.parametrize(
    ("credential", "readable"),
    [
        (f"00 20 00 91 {BIRTH_KEY}", {0x01}),
        (f"00 20 00 93 {CODE_A}", {0x02, 0x05}),
        (f"00 20 00 92 {CODE_B}", {0x02}),  # B does not open the rendered number
        (None, set()),
    ],
)
def test_access_conditions(card: VirtualCard, credential: str | None, readable: set[int]) -> None:
    if credential:
        assert run(card, credential)[1] == 0x9000
    check_read_access(card, (0x01, 0x02, 0x05), readable, free=(0x03, 0x04))


def test_age_record(card: VirtualCard, sim_home_dir: Path) -> None:
    run(card, f"00 20 00 91 {BIRTH_KEY}")
    content = read_ef(card, 0x01)
    assert content[:5] == bytes.fromhex("FF 10 82 02 1E")
    value, header = outer(content, b"\xff\x10")
    assert set(content[header + len(value) :]) == {0xFF}
    items = parse_tlvs(value)
    assert [tag for tag, _, _ in items] == [b"\xdf\x11", b"\xdf\x12", b"\xdf\x13"]
    assert items[0][1] == b"19800101"
    assert items[1][1][:9] == bytes.fromhex("90 03 01 00 01 91 82 01 00")
    signed = items[0][2] + items[1][2]
    issuer(sim_home_dir).verify(items[2][1], signed, padding.PKCS1v15(), hashes.SHA256())


def test_card_face(card: VirtualCard, sim_home_dir: Path) -> None:
    run(card, f"00 20 00 92 {CODE_B}")
    content = read_ef(card, 0x02)
    value, _header = outer(content, b"\xff\x20")
    items = parse_tlvs(value)
    tags = [tag.hex().upper() for tag, _, _ in items]
    assert tags == ["DF21", "DF22", "DF23", "DF24", "DF25", "DF26", "DF27", "DF28", "DF29", "DF2A"]
    offsets = items[0][1]
    for index in range(9):
        start = int.from_bytes(offsets[2 * index : 2 * index + 2], "big")
        assert content[start : start + 2] == items[index + 1][0]
    by_tag = {tag: (item, whole) for tag, item, whole in items}
    assert by_tag[b"\xdf\x22"][0] == b"19800101"
    assert by_tag[b"\xdf\x23"][0] == b"1"
    assert by_tag[b"\xdf\x29"][0] == b"20350101"
    for tag in (b"\xdf\x25", b"\xdf\x26", b"\xdf\x2a"):
        check_png(by_tag[tag][0])
    assert by_tag[b"\xdf\x27"][0][:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n"  # JPEG 2000
    # DF28: PKCS#1 v1.5 type 1 over three SHA-256 digests (UNCONFIRMED detail).
    numbers = issuer(sim_home_dir).public_numbers()
    encoded = pow(int.from_bytes(by_tag[b"\xdf\x28"][0], "big"), numbers.e, numbers.n)
    recovered = encoded.to_bytes(256, "big")[-96:]
    wholes = [whole for _, _, whole in items[1:7]]
    assert recovered == (
        hashlib.sha256(b"".join(wholes[0:3])).digest()
        + hashlib.sha256(b"".join(wholes[3:5])).digest()
        + hashlib.sha256(wholes[5]).digest()
    )


def test_basic_info_and_cv_certificate(card: VirtualCard) -> None:
    content = read_ef(card, 0x03)
    value, _ = outer(content, b"\xff\x30")
    items = {tag: item for tag, item, _ in parse_tlvs(value)}
    assert items[b"\xdf\x31"] == bytes.fromhex("06 03 0E 01")
    assert len(items[b"\xdf\x32"]) == 16
    assert items[b"\xdf\x34"] == b"13101"
    assert len(items[b"\xdf\x35"]) == 0x110
    cv = read_ef(card, 0x04)
    assert len(cv) == 568
    assert cv[26:42] == items[b"\xdf\x32"]


def test_rendered_my_number(card: VirtualCard, sim_home_dir: Path) -> None:
    run(card, f"00 20 00 93 {CODE_A}")
    value, _ = outer(read_ef(card, 0x05), b"\xff\x40")
    items = parse_tlvs(value)
    check_png(items[0][1], (72, 12))
    signed = items[0][2] + items[1][2]
    issuer(sim_home_dir).verify(items[2][1], signed, padding.PKCS1v15(), hashes.SHA256())


def test_keys_of_the_surface_ap(card: VirtualCard) -> None:
    assert run(card, "00 20 00 91")[1] == 0x63CA  # UNCONFIRMED limits: 10
    assert run(card, "00 20 00 92")[1] == 0x63CA
    assert run(card, "00 20 00 93")[1] == 0x63CA
    assert run(card, "00 20 00 91 06 " + b"550102".hex(" "))[1] == 0x63C9
