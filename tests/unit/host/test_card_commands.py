# SPDX-License-Identifier: Apache-2.0
"""host.card.commands: the APDUs of jpki-card.md §9 byte for byte."""

from __future__ import annotations

import pytest

from host.card import commands
from host.card import constants as c
from tests.unit.host.host_vectors import h

SHA256_HELLO = h(
    """
    2C F2 4D BA 5F B0 A3 0E 26 E8 3B 2A C5 B9 E2 9E
    1B 16 1E 5C 1F A7 42 5E 73 04 33 62 93 8B 98 24
    """
)


def test_select_golden() -> None:
    assert commands.select_aid(c.JPKI_AID).encode() == h(
        "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01"
    )
    assert commands.select_aid(c.TEXT_AID).encode() == h(
        "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08"
    )
    assert commands.select_ef(c.FID_AUTH_CERT).encode() == h("00 A4 02 0C 02 00 0A")


def test_verify_golden() -> None:
    assert commands.verify().encode() == h("00 20 00 80")
    pin = commands.verify(b"1234")
    assert pin.encode() == h("00 20 00 80 04 31 32 33 34")
    assert pin.sensitive
    assert "31 32" not in repr(pin)
    assert commands.verify(b"ABCD1234").encode() == h("00 20 00 80 08 41 42 43 44 31 32 33 34")


def test_change_golden() -> None:
    change = commands.change_reference_data(b"5678")
    assert change.encode() == h("00 24 01 80 04 35 36 37 38")
    assert change.sensitive


def test_read_binary_golden() -> None:
    assert commands.read_binary(0, 4).encode() == h("00 B0 00 00 04")
    assert commands.read_binary(0x100, 256).encode() == h("00 B0 01 00 00")
    assert commands.read_binary(0x600, 0x2F).encode() == h("00 B0 06 00 2F")
    assert commands.read_binary(7, 0x58).encode() == h("00 B0 00 07 58")
    assert commands.read_binary(0, 65536).encode() == h("00 B0 00 00 00 00 00")
    with pytest.raises(ValueError, match="15 bits"):
        commands.read_binary(0x8000, 1)


def test_compute_signature_golden_9_2() -> None:
    apdu = commands.compute_signature(c.DIGEST_INFO_SHA256_PREFIX + SHA256_HELLO)
    assert apdu.encode() == h(
        """
        80 2A 00 80 33
        30 31 30 0D 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20
        2C F2 4D BA 5F B0 A3 0E 26 E8 3B 2A C5 B9 E2 9E
        1B 16 1E 5C 1F A7 42 5E 73 04 33 62 93 8B 98 24
        00
        """
    )


def test_select_ef_range() -> None:
    with pytest.raises(ValueError, match="two bytes"):
        commands.select_ef(0x10000)
