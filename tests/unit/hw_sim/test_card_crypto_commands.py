# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.card.crypto_commands``: signatures, challenges, GET DATA.

Signatures are checked with ``cryptography`` against the certificate read
from the card, so the card's key, its certificate and its padding agree.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from hw_sim.card import VirtualCard, open_card
from tests.unit.hw_sim.card_helpers import SELECT_JPKI, SELECT_SURFACE, SELECT_TEXT, read_ef, run

SHA256_PREFIX = bytes.fromhex("30 31 30 0D 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20")
MESSAGE = b"transfer 120000 JPY to 0001-123-4567890; nonce 8c1f"
DIGEST = hashlib.sha256(MESSAGE).digest()


def sign_apdu(data: bytes, *, p1: int = 0, p2: int = 0x80, le: bytes = b"\x00") -> bytes:
    return bytes([0x80, 0x2A, p1, p2, len(data)]) + data + le


def certificate(card: VirtualCard, fid: int) -> rsa.RSAPublicKey:
    content = read_ef(card, fid)
    size = int.from_bytes(content[2:4], "big") + 4
    key = x509.load_der_x509_certificate(content[:size]).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def unpad(public: rsa.RSAPublicKey, signature: bytes) -> bytes:
    """Undo the RSA public operation and PKCS#1 v1.5 type-1 padding."""
    numbers = public.public_numbers()
    encoded = pow(int.from_bytes(signature, "big"), numbers.e, numbers.n).to_bytes(256, "big")
    assert encoded[:2] == b"\x00\x01"
    separator = encoded.index(b"\x00", 2)
    assert set(encoded[2:separator]) == {0xFF}
    return encoded[separator + 1 :]


def verified_auth(card: VirtualCard) -> rsa.RSAPublicKey:
    run(card, SELECT_JPKI)
    public = certificate(card, 0x0A)
    assert run(card, "00 20 00 98 04 31 32 33 34")[1] == 0x9000
    run(card, "00 A4 02 0C 02 00 17")
    return public


def test_auth_signature_verifies_with_the_auth_certificate(card: VirtualCard) -> None:
    public = verified_auth(card)
    signature, sw = run(card, sign_apdu(SHA256_PREFIX + DIGEST))
    assert sw == 0x9000
    assert len(signature) == 256
    public.verify(signature, DIGEST, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


def test_sign_key_needs_the_password(card: VirtualCard) -> None:
    run(card, SELECT_JPKI)
    run(card, "00 A4 02 0C 02 00 1A")
    assert run(card, sign_apdu(SHA256_PREFIX + DIGEST))[1] == 0x6982
    assert run(card, "00 20 00 9B 08 41 42 43 44 31 32 33 34")[1] == 0x9000
    public = certificate(card, 0x01)  # readable now, and leaves 0001 current
    signature, sw = run(card, sign_apdu(SHA256_PREFIX + DIGEST, p2=0x9A))  # key by SFI
    assert sw == 0x9000
    public.verify(signature, DIGEST, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


def test_auth_pin_does_not_open_the_sign_key(card: VirtualCard) -> None:
    verified_auth(card)
    assert run(card, sign_apdu(SHA256_PREFIX + DIGEST, p2=0x9A))[1] == 0x6982


def test_input_is_padded_exactly_as_given(card: VirtualCard) -> None:
    public = verified_auth(card)
    for payload in (b"\x01", b"any bytes at all, not a DigestInfo", b"\xab" * 245):
        signature, sw = run(card, sign_apdu(payload))
        assert sw == 0x9000
        assert unpad(public, signature) == payload


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (sign_apdu(b"\xab" * 246), 0x6700),  # over k - 11
        (sign_apdu(SHA256_PREFIX + DIGEST, le=b"\x10"), 0x6700),  # Le below 256
        (bytes.fromhex("80 2A 00 80"), 0x6700),  # no input
        (bytes.fromhex("80 2A 00 80 00"), 0x6700),
        (sign_apdu(SHA256_PREFIX + DIGEST, p1=0x06), 0x6A86),  # SOL: P1 00-05 only
        (sign_apdu(SHA256_PREFIX + DIGEST, p1=0x9E), 0x6A86),
        (sign_apdu(SHA256_PREFIX + DIGEST, p2=0x00), 0x6A86),  # JPKI AP has no own key
        (sign_apdu(SHA256_PREFIX + DIGEST, p2=0x01), 0x6A86),
        (sign_apdu(SHA256_PREFIX + DIGEST, p2=0x8A), 0x6981),  # a certificate EF
        (sign_apdu(SHA256_PREFIX + DIGEST, p2=0x8C), 0x6A82),
        (b"\x00\x2a\x00\x80\x01\x00\x00", 0x6D00),  # interindustry CLA: not this INS
    ],
)
def test_signature_refusals(card: VirtualCard, command: bytes, expected: int) -> None:
    verified_auth(card)
    before = card.state_snapshot()
    assert run(card, command)[1] == expected
    assert card.state_snapshot() == before


def test_signature_needs_a_key_selected(card: VirtualCard) -> None:
    assert run(card, sign_apdu(SHA256_PREFIX + DIGEST))[1] == 0x6986
    run(card, SELECT_JPKI)
    assert run(card, sign_apdu(SHA256_PREFIX + DIGEST))[1] == 0x6986
    run(card, "00 A4 02 0C 02 00 18")
    assert run(card, sign_apdu(SHA256_PREFIX + DIGEST))[1] == 0x6981


def test_extended_signature_command(card: VirtualCard) -> None:
    public = verified_auth(card)
    payload = SHA256_PREFIX + DIGEST
    command = bytes.fromhex("80 2A 00 80 00 00 33") + payload + b"\x00\x00"
    signature, sw = run(card, command)
    assert sw == 0x9000
    assert unpad(public, signature) == payload


@pytest.mark.parametrize(
    ("p1", "data"),
    [(0x01, MESSAGE), (0x02, DIGEST), (0x03, MESSAGE), (0x04, DIGEST), (0x05, MESSAGE)],
)
def test_sol_schemes(card: VirtualCard, p1: int, data: bytes) -> None:
    public = verified_auth(card)
    signature, sw = run(card, sign_apdu(data, p1=p1))
    assert sw == 0x9000
    if p1 == 0x01:
        assert unpad(public, signature) == DIGEST  # the bare hash
    elif p1 in (0x02, 0x03):
        public.verify(signature, DIGEST, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    else:
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        public.verify(signature, DIGEST, pss, utils.Prehashed(hashes.SHA256()))


@pytest.mark.parametrize("p1", [0x02, 0x04])
def test_sol_schemes_want_a_32_byte_hash(card: VirtualCard, p1: int) -> None:
    verified_auth(card)
    assert run(card, sign_apdu(DIGEST[:31], p1=p1))[1] == 0x6700


def test_minor_has_no_signing_key(sim_home_dir: Path) -> None:
    with open_card("minor", home=sim_home_dir, persist=False) as card:
        card.power_on()
        run(card, SELECT_JPKI)
        assert run(card, "00 20 00 9B 09 4D 49 4E 4F 52 39 39 39 39")[1] == 0x9000
        run(card, "00 A4 02 0C 02 00 1A")
        assert run(card, sign_apdu(SHA256_PREFIX + DIGEST))[1] == 0x6985


@pytest.mark.parametrize(("select", "cv_fid"), [(SELECT_SURFACE, 0x04), (SELECT_TEXT, 0x04)])
def test_kenmen_self_signature(card: VirtualCard, select: str, cv_fid: int) -> None:
    run(card, select)
    signature, sw = run(card, sign_apdu(SHA256_PREFIX + DIGEST, p2=0x00))  # no credential
    assert sw == 0x9000
    cv = read_ef(card, cv_fid)
    modulus = int.from_bytes(cv[5 + 5 + 32 + 9 : 5 + 5 + 32 + 9 + 256], "big")
    public = rsa.RSAPublicNumbers(65537, modulus).public_key()
    public.verify(signature, DIGEST, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


# --- GET CHALLENGE ---------------------------------------------------------------------------


@pytest.mark.parametrize(("le", "size"), [("01", 1), ("08", 8), ("FF", 255), ("00", 256)])
def test_get_challenge(card: VirtualCard, le: str, size: int) -> None:
    data, sw = run(card, f"00 84 00 00 {le}")  # works at MF level too (SOL)
    assert sw == 0x9000
    assert len(data) == size


def test_get_challenge_is_random(card: VirtualCard) -> None:
    assert run(card, "00 84 00 00 10")[0] != run(card, "00 84 00 00 10")[0]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("00 84 00 00 00 00 08", 0x6985),  # extended form (SOL)
        ("00 84 00 00", 0x6700),
        ("00 84 00 00 01 00 08", 0x6700),
        ("00 84 01 00 08", 0x6A86),
        ("00 84 00 01 08", 0x6A86),
    ],
)
def test_get_challenge_refusals(card: VirtualCard, command: str, expected: int) -> None:
    assert run(card, command)[1] == expected


# --- GET DATA --------------------------------------------------------------------------------


def test_get_data(card: VirtualCard) -> None:
    assert run(card, "00 CA 5F 51 00") == (card.atr[1:], 0x9000)  # ATR without TS (§1.2)
    assert run(card, "00 CA 00 F0 00") == (b"13101", 0x9000)
    assert run(card, "00 CA 00 F2 00") == (b"20350101", 0x9000)
    assert run(card, "00 CA 00 F2 00 00 00") == (b"20350101", 0x9000)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("00 CA 00 42 00", 0x6A88),
        ("00 CA 7F 21 00", 0x6A88),
        ("00 CA 00 F2 04", 0x6700),  # Le shorter than the object
        ("00 CA 00 F2", 0x6700),
    ],
)
def test_get_data_refusals(card: VirtualCard, command: str, expected: int) -> None:
    assert run(card, command)[1] == expected
