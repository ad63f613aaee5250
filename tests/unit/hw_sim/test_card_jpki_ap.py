# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.card.jpki_ap``: the JPKI application's files (§3.1)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from hw_sim.card import VirtualCard, open_card
from hw_sim.card.jpki_ap import TOKEN_LABEL, token_info
from hw_sim.pki import CertKind, TestPki
from tests.unit.hw_sim.card_helpers import SELECT_JPKI, read_ef, run


def split_certificate(content: bytes) -> tuple[x509.Certificate, bytes]:
    assert content[:2] == b"\x30\x82"  # OpenSC sizes it from these 4 bytes (§1.3)
    size = int.from_bytes(content[2:4], "big") + 4
    return x509.load_der_x509_certificate(content[:size]), content[size:]


def test_token_info_layout() -> None:
    info = token_info("0000000020500003")
    assert len(info) == 160
    assert info[:32] == b"JPKIAPICCTOKEN2" + b" " * 17
    assert info[80:96] == b"0000000020500003"
    assert struct.unpack(">I", info[96:100]) == (0x0000040D,)
    assert struct.unpack(">II", info[116:124]) == (16, 6)
    assert info[140:144] == b"0301"
    assert TOKEN_LABEL == "JPKIAPICCTOKEN2"
    with pytest.raises(ValueError, match="16 ASCII"):
        token_info("123")


def test_token_info_and_availability_on_the_card(card: VirtualCard) -> None:
    run(card, SELECT_JPKI)
    info = read_ef(card, 0x06)
    assert info.rstrip(b" ")[:15] == b"JPKIAPICCTOKEN2"
    assert len(info) == 160
    assert read_ef(card, 0x08) == bytes.fromhex("8F 8F 00")


@pytest.mark.parametrize(
    ("fid", "kind", "is_ca"),
    [(0x0A, CertKind.AUTH, False), (0x0B, CertKind.AUTH, True), (0x02, CertKind.SIGN, True)],
)
def test_public_certificates(
    card: VirtualCard, sim_home_dir: Path, fid: int, kind: CertKind, is_ca: bool
) -> None:
    run(card, SELECT_JPKI)
    certificate, filler = split_certificate(read_ef(card, fid))
    assert filler
    assert set(filler) == {0xFF}
    ca = TestPki.open(sim_home_dir / "pki").ca_certificate(kind)
    if is_ca:
        assert certificate == ca
    else:
        certificate.verify_directly_issued_by(ca)


def test_signing_certificate_after_the_password(card: VirtualCard, sim_home_dir: Path) -> None:
    run(card, SELECT_JPKI)
    run(card, "00 A4 02 0C 02 00 01")
    assert run(card, "00 B0 00 00 04")[1] == 0x6982
    assert run(card, "00 20 00 9B 08 41 42 43 44 31 32 33 34")[1] == 0x9000
    certificate, filler = split_certificate(read_ef(card, 0x01))
    assert set(filler) == {0xFF}
    certificate.verify_directly_issued_by(
        TestPki.open(sim_home_dir / "pki").ca_certificate(CertKind.SIGN)
    )


def test_certificates_hold_the_card_keys(card: VirtualCard, sim_home_dir: Path) -> None:
    pki = TestPki.open(sim_home_dir / "pki")
    run(card, SELECT_JPKI)
    auth, _ = split_certificate(read_ef(card, 0x0A))
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    expected = pki.holder_key("default-auth").public_key()
    assert auth.public_key().public_bytes(
        serialization.Encoding.DER, spki
    ) == expected.public_bytes(serialization.Encoding.DER, spki)


def test_minor_card(sim_home_dir: Path) -> None:
    with open_card("minor", home=sim_home_dir, persist=False) as card:
        card.power_on()
        run(card, SELECT_JPKI)
        assert read_ef(card, 0x08) == bytes.fromhex("00 8F 00")
        assert run(card, "00 20 00 9B 09 4D 49 4E 4F 52 39 39 39 39")[1] == 0x9000
        empty = read_ef(card, 0x01)
        assert set(empty) == {0xFF}  # present, never written
        split_certificate(read_ef(card, 0x0A))  # the auth certificate is there
