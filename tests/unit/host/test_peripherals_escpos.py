# SPDX-License-Identifier: Apache-2.0
"""host.peripherals.escpos: exact command bytes, status bytes, refusals."""

from __future__ import annotations

import pytest

from host.peripherals.escpos import Align, PrinterStatus, Receipt, parse_status, status_request


def test_text_line_bytes() -> None:
    data = bytes(Receipt().text("HI", bold=True, double=True, align=Align.CENTER))
    assert data == bytes.fromhex("1B40 1B6101 1B4501 1D2111 4849 0A")


def test_japanese_in_kanji_mode() -> None:
    data = bytes(Receipt().japanese("確認"))
    assert data.endswith(
        bytes.fromhex("1C4301 1C26") + "確認".encode("shift_jis") + bytes.fromhex("1C2E 0A")
    )


def test_qr_bytes() -> None:
    data = bytes(Receipt().qr("AB", module=5, ecc="H"))
    assert bytes.fromhex("1D286B 0300 3143 05") in data
    assert bytes.fromhex("1D286B 0300 3145 33") in data
    assert bytes.fromhex("1D286B 0500 3150 30 4142") in data
    assert data.endswith(bytes.fromhex("1D286B 0300 3151 30 0A"))


def test_raster_and_cut() -> None:
    data = bytes(Receipt().raster(1, b"\x80\x01").cut(partial=True))
    assert bytes.fromhex("1D7630 00 0100 0200 8001") in data
    assert data.endswith(bytes.fromhex("1B6403 1D5601"))


def test_refusals() -> None:
    with pytest.raises(ValueError, match="ASCII"):
        Receipt().text("確認")
    with pytest.raises(ValueError, match="Shift_JIS"):
        Receipt().japanese("𠮷")
    with pytest.raises(ValueError, match="module"):
        Receipt().qr("x", module=0)
    with pytest.raises(ValueError, match="whole rows"):
        Receipt().raster(2, b"\x00")


def test_status() -> None:
    assert status_request(2) == b"\x10\x04\x02"
    assert parse_status(0x12, 0x12) == PrinterStatus(False, False, False)
    assert parse_status(0x16, 0x12).cover_open
    assert parse_status(0x12, 0x72).paper_out
    assert parse_status(0x12, 0x1E).paper_near_end
    assert not parse_status(0x32, 0x12).ready
    with pytest.raises(ValueError, match="status byte"):
        parse_status(0xFF, 0x12)
