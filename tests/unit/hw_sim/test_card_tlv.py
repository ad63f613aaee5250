# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.card.tlv``: BER length forms and file padding."""

from __future__ import annotations

import pytest

from hw_sim.card.tlv import ber_length, offset_indexed, pad, padded_file, tlv, tlv_wide


@pytest.mark.parametrize(
    ("length", "encoded"),
    [(0, "00"), (0x7F, "7F"), (0x80, "81 80"), (0xFF, "81 FF"), (0x100, "82 01 00")],
)
def test_ber_length_is_minimal(length: int, encoded: str) -> None:
    assert ber_length(length) == bytes.fromhex(encoded)


@pytest.mark.parametrize("length", [-1, 0x10000])
def test_ber_length_range(length: int) -> None:
    with pytest.raises(ValueError, match=r"0\.\.65535"):
        ber_length(length)


def test_tlv_and_wide_form() -> None:
    assert tlv(b"\xdf\x25", b"1") == bytes.fromhex("DF 25 01 31")
    # The card's EF 0005 keeps a leading zero in the length (§3.2).
    assert tlv_wide(b"\xff\x40", b"\x00" * 0x9F)[:5] == bytes.fromhex("FF 40 82 00 9F")


def test_pad_and_padded_file() -> None:
    assert pad(b"\x01", 3) == b"\x01\xff\xff"
    with pytest.raises(ValueError, match="do not fit"):
        pad(b"\x01\x02", 1)
    assert len(padded_file(b"\x00" * 10, minimum=256)) == 256
    assert len(padded_file(b"\x00" * 256, minimum=256)) == 512  # always some filler
    assert padded_file(b"", minimum=4, block=4) == b"\xff" * 4


def test_offset_indexed_counts_from_byte_0() -> None:
    items = [tlv(b"\xdf\x22", b"ab"), tlv(b"\xdf\x23", b"c")]
    assert offset_indexed(b"\xff\x20", items) == bytes.fromhex(
        "FF 20 10  DF 21 04 00 0A 00 0F  DF 22 02 61 62  DF 23 01 63"
    )
