# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.card.apdu``: framing of every ISO case, redaction."""

from __future__ import annotations

import pytest

from hw_sim.card.apdu import (
    CommandApdu,
    ResponseApdu,
    hex_spaced,
    parse_command,
    redact_command,
    status,
)
from hw_sim.card.constants import Sw


def h(text: str) -> bytes:
    return bytes.fromhex(text)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # case 1
        ("00 20 00 80", CommandApdu(0x00, 0x20, 0x00, 0x80)),
        # case 2 short: Le 00 = 256
        ("00 B0 00 00 04", CommandApdu(0x00, 0xB0, 0, 0, le=4)),
        ("00 B0 00 00 00", CommandApdu(0x00, 0xB0, 0, 0, le=256)),
        # case 3 short
        ("00 A4 02 0C 02 00 0A", CommandApdu(0x00, 0xA4, 2, 0x0C, data=h("00 0A"))),
        # case 4 short
        ("80 2A 00 80 02 AA BB 00", CommandApdu(0x80, 0x2A, 0, 0x80, h("AA BB"), le=256)),
        ("80 2A 00 80 01 AA 10", CommandApdu(0x80, 0x2A, 0, 0x80, h("AA"), le=0x10)),
        # case 2 extended: 00 00 00 = 65536, 00 HH LL
        ("00 B0 00 00 00 00 00", CommandApdu(0, 0xB0, 0, 0, le=65536, extended=True)),
        ("00 B0 00 00 00 06 2F", CommandApdu(0, 0xB0, 0, 0, le=0x062F, extended=True)),
        # case 3 extended
        ("00 20 00 80 00 00 02 31 32", CommandApdu(0, 0x20, 0, 0x80, h("31 32"), extended=True)),
        # case 4 extended
        (
            "80 2A 00 80 00 00 01 AA 00 00",
            CommandApdu(0x80, 0x2A, 0, 0x80, h("AA"), le=65536, extended=True),
        ),
        (
            "80 2A 00 80 00 00 01 AA 01 00",
            CommandApdu(0x80, 0x2A, 0, 0x80, h("AA"), le=256, extended=True),
        ),
    ],
)
def test_parse_every_case(raw: str, expected: CommandApdu) -> None:
    assert parse_command(h(raw)) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "00",
        "00 A4 04",  # truncated header
        "00 A4 04 0C 0A D3 92",  # Lc says 10, 2 bytes follow
        "00 A4 04 0C 02 D3 92 F0 00",  # Lc says 2, 4 bytes follow
        "00 B0 00 00 00 00",  # a lone extended marker
        "00 20 00 80 00 00 00 31",  # extended Lc = 0000 with data
        "00 20 00 80 00 00 03 31 32",  # extended Lc longer than the data
        "00 20 00 80 00 00 01 31 32 33 34",  # extended Lc shorter than the data
    ],
)
def test_malformed_framing_is_wrong_length(raw: str) -> None:
    assert parse_command(h(raw)) is Sw.WRONG_LENGTH


def test_case_property() -> None:
    assert CommandApdu(0, 0x20, 0, 0x80).case == 1
    assert CommandApdu(0, 0xB0, 0, 0, le=1).case == 2
    assert CommandApdu(0, 0x20, 0, 0x80, b"1").case == 3
    assert CommandApdu(0, 0x2A, 0, 0x80, b"1", le=256).case == 4


def test_command_repr_hides_data() -> None:
    text = repr(CommandApdu(0, 0x20, 0, 0x80, data=b"9753"))
    assert "9753" not in text
    assert "39373533" not in text


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("00 20 00 80 04 31 32 33 34", "00 20 00 80 04"),
        ("00 24 01 80 04 35 36 37 38", "00 24 01 80 04"),
        ("00 20 00 80 00 00 04 31 32 33 34", "00 20 00 80 00 00 04"),
        ("0C 20 00 80 04 31 32 33 34", "0C 20 00 80 04"),  # SM CLA: still redacted
        ("00 20 00 80 09 31", "00 20 00 80 09"),  # malformed: still redacted
        ("00 20 00 80", "00 20 00 80"),  # empty VERIFY: nothing to hide
        ("00 A4 02 0C 02 00 18", "00 A4 02 0C 02 00 18"),  # not PIN-bearing
    ],
)
def test_redact_command(raw: str, kept: str) -> None:
    assert redact_command(h(raw)) == h(kept)


def test_response_encoding_and_repr() -> None:
    response = ResponseApdu(b"\x30\x82", Sw.OK)
    assert response.to_bytes() == h("30 82 90 00")
    assert "3082" not in repr(response)
    assert status(Sw.NOT_FOUND).to_bytes() == h("6A 82")
    assert hex_spaced(h("00a40c")) == "00 A4 0C"
