# SPDX-License-Identifier: Apache-2.0
"""The worked transcripts of jpki-card.md §9 and the client strategies of §1.3/§4.2.

Golden exchanges: command hex is exact and spaced at field boundaries;
``…`` parts of the reference (bytes that depend on the card) are checked by
length and by what they must start with. Each client's read strategy must
reassemble the same certificate bytes.
"""

from __future__ import annotations

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from hw_sim.card import VirtualCard

SELECT_JPKI = "00 A4 04 0C  0A  D3 92 F0 00 26 01 00 00 00 01"
SELECT_TEXT = "00 A4 04 0C  0A  D3 92 10 00 31 00 01 01 04 08"
HELLO_SHA256 = bytes.fromhex(
    "2C F2 4D BA 5F B0 A3 0E 26 E8 3B 2A C5 B9 E2 9E1B 16 1E 5C 1F A7 42 5E 73 04 33 62 93 8B 98 24"
)


def exchange(card: VirtualCard, command: str, expected_sw: str = "90 00") -> bytes:
    """Send ``command``; assert the SW; return the data."""
    response = card.transmit(bytes.fromhex(command))
    assert response[-2:] == bytes.fromhex(expected_sw), (command, response[-2:].hex())
    return response[:-2]


def test_9_1_read_the_auth_certificate_opensc_style(card: VirtualCard) -> None:
    exchange(card, SELECT_JPKI)
    exchange(card, "00 A4 02 0C  02  00 0A")
    header = exchange(card, "00 B0 00 00  04")
    assert header[:2] == b"\x30\x82"
    size = int.from_bytes(header[2:4], "big") + 4  # OpenSC's arithmetic (§1.3)
    chunks = []
    offset = 0
    while offset < size:
        count = min(256, size - offset)
        le = "00" if count == 256 else f"{count:02X}"
        data = exchange(card, f"00 B0 {offset >> 8:02X} {offset & 0xFF:02X}  {le}")
        assert len(data) == count
        chunks.append(data)
        offset += count
    certificate = b"".join(chunks)
    assert certificate[:4] == header
    x509.load_der_x509_certificate(certificate)
    # NFCPY's single extended READ BINARY gives the same bytes plus filler.
    whole = exchange(card, "00 B0 00 00  00 00 00")
    assert whole[:size] == certificate
    assert set(whole[size:]) == {0xFF}


def test_9_1_myna_and_gebo_and_pyj_strategies(card: VirtualCard) -> None:
    exchange(card, SELECT_JPKI)
    exchange(card, "00 A4 02 0C  02  00 0A")
    head = exchange(card, "00 B0 00 00  07")  # MYNA: 7 bytes, then on from offset 7
    size = int.from_bytes(head[2:4], "big") + 4
    myna, offset = head, 7
    while offset < size:
        count = min(256, size - offset)
        le = "00" if count == 256 else f"{count:02X}"
        myna += exchange(card, f"00 B0 {offset >> 8:02X} {offset & 0xFF:02X}  {le}")
        offset += count
    gebo = b"".join(  # GEBO/FLUT: P1 = block index, Le 00
        exchange(card, f"00 B0 {block:02X} 00  00") for block in range(-(-size // 256))
    )
    pyj, offset = b"", 0  # PYJ: Le FF until 6B00
    while True:
        response = card.transmit(bytes.fromhex(f"00 B0 {offset >> 8:02X} {offset & 0xFF:02X} FF"))
        if response[-2:] == b"\x6b\x00":
            break
        assert response[-2:] == b"\x90\x00"
        pyj += response[:-2]
        offset += len(response) - 2
    assert myna == gebo[:size] == pyj[:size]


def test_9_2_verify_and_sign_with_the_auth_key(card: VirtualCard) -> None:
    exchange(card, SELECT_JPKI)
    exchange(card, "00 A4 02 0C  02  00 0A")
    content = exchange(card, "00 B0 00 00  00 00 00")
    certificate = x509.load_der_x509_certificate(content[: int.from_bytes(content[2:4], "big") + 4])
    exchange(card, "00 A4 02 0C  02  00 18")
    exchange(card, "00 20 00 80", "63 C3")
    exchange(card, "00 20 00 80  04  31 32 33 34")
    exchange(card, "00 A4 02 0C  02  00 17")
    digest_info = "30 31 30 0D 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20 " + HELLO_SHA256.hex(
        " "
    )
    signature = exchange(card, f"80 2A 00 80  33  {digest_info}  00")
    assert len(signature) == 256
    public = certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, HELLO_SHA256, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    assert hashlib.sha256(b"hello").digest() == HELLO_SHA256


def test_9_2_signing_key_variant(card: VirtualCard) -> None:
    exchange(card, SELECT_JPKI)
    exchange(card, "00 A4 02 0C  02  00 1B")
    exchange(card, "00 20 00 80  08  41 42 43 44 31 32 33 34")
    exchange(card, "00 A4 02 0C  02  00 01")
    assert exchange(card, "00 B0 00 00  04")[:2] == b"\x30\x82"
    exchange(card, "00 A4 02 0C  02  00 1A")
    digest_info = "30 31 30 0D 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20 " + HELLO_SHA256.hex(
        " "
    )
    assert len(exchange(card, f"80 2A 00 80  33  {digest_info}  00")) == 256


def test_9_2_wrong_pin_and_blocking(card: VirtualCard) -> None:
    exchange(card, SELECT_JPKI)
    exchange(card, "00 A4 02 0C  02  00 18")
    exchange(card, "00 20 00 80  04  30 30 30 30", "63 C2")
    exchange(card, "00 20 00 80  04  30 30 30 30", "63 C1")
    exchange(card, "00 20 00 80  04  30 30 30 30", "63 C0")
    exchange(card, "00 20 00 80  04  31 32 33 34", "69 84")


def test_9_3_read_the_basic_four(card: VirtualCard) -> None:
    exchange(card, SELECT_TEXT)
    exchange(card, "00 A4 02 0C  02  00 11")
    exchange(card, "00 20 00 80  04  31 32 33 34")
    exchange(card, "00 A4 02 0C  02  00 02")
    assert exchange(card, "00 B0 00 00  07") == bytes.fromhex("FF 20 5C DF 21 08 00")
    rest = exchange(card, "00 B0 00 07  58")
    assert len(rest) == 88
    assert rest[:7] == bytes.fromhex("0E 00 20 00 50 00 5B")  # the rest of DF21
    assert rest[-4:] == bytes.fromhex("DF 25 01 31")
    exchange(card, "00 A4 02 0C  02  00 01")
    number = exchange(card, "00 B0 00 00  11")
    # §9.3's number 123456789012 is synthetic; the card's has a valid check digit.
    assert number == bytes.fromhex("FF 10 0C 31 32 33 34 35 36 37 38 39 30 31 38 FF FF")


def test_opensc_bind_sequence(card: VirtualCard) -> None:
    """§1.3: what OpenSC's jpki driver and PKCS#15 emulator send while binding."""
    assert card.atr == bytes.fromhex("3B E0 00 FF 81 31 FE 45 14")
    exchange(card, "00 A4 04 00  06  A0 00 00 00 01 01", "6A 82")  # muscle must not bind
    exchange(card, SELECT_JPKI)  # match
    exchange(card, SELECT_JPKI)  # emulator init
    for fid, tries in (("00 18", "63 C3"), ("00 1B", "63 C5")):
        exchange(card, f"00 A4 02 0C  02  {fid}")
        exchange(card, "00 20 00 80", tries)
    for fid in ("00 0A", "00 0B", "00 02"):
        exchange(card, f"00 A4 02 0C  02  {fid}")
        assert exchange(card, "00 B0 00 00  04")[:2] == b"\x30\x82"
    exchange(card, SELECT_JPKI)  # OpenSC's "logout"


def test_aoki_reads_by_sfi_with_extended_le(card: VirtualCard) -> None:
    exchange(card, SELECT_TEXT)
    exchange(card, "00 20 00 91  04  31 32 33 34")  # VERIFY by short EF id
    data = exchange(card, "00 B0 82 00  00 00 00")  # EF 0002 by SFI, Le 65536
    assert data[:3] == bytes.fromhex("FF 20 5C")
