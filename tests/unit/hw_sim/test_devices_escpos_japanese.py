# SPDX-License-Identifier: Apache-2.0
"""A receipt with kana and kanji renders glyphs, not the fallback box (issue 12.4).

Two checks per character: the font the renderer loads has a glyph for it
(its outline differs from the font's .notdef, a known-missing code point's
rendering), and the rendered cell differs from what the renderer draws
when the font is missing (an outlined box).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageFont

from host.client import TransferState
from host.flows.receipt import receipt_lines
from host.peripherals.escpos import Receipt as Builder
from hw_sim.devices import escpos_render
from hw_sim.devices.escpos_parse import EscPosPrinter
from hw_sim.devices.escpos_render import CJK_FONT, render_receipt
from tests.prerequisites import missing_prerequisite

#: Kanji, hiragana, katakana and a full-width sign from a Japanese receipt.
CHARS = "振込金額円端末状態ヤマダハナコのご確認"
_NOT_A_CHARACTER = "\uffff"  # never in a font: always drawn as .notdef


def _font() -> ImageFont.FreeTypeFont:
    if not Path(CJK_FONT).is_file():
        missing_prerequisite(f"{CJK_FONT} missing (install fonts-unifont)")
    return ImageFont.truetype(CJK_FONT, 16)


def _line(text: str) -> Image.Image:
    printer = EscPosPrinter()
    printer.feed(bytes(Builder().japanese(text).cut()))
    image: Image.Image = render_receipt(printer.receipts[0])
    return image


def test_the_font_has_a_glyph_for_every_character() -> None:
    font = _font()
    notdef = bytes(font.getmask(_NOT_A_CHARACTER))
    for char in CHARS:
        assert bytes(font.getmask(char)) != notdef, f"{char!r} would be .notdef"


def test_each_character_renders_as_a_glyph_not_the_fallback_box(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _font()
    glyphs = {char: _line(char).tobytes() for char in CHARS}
    monkeypatch.setattr(escpos_render, "CJK_FONT", str(tmp_path / "missing.otf"))
    box = _line(CHARS[0]).tobytes()
    assert all(_line(char).tobytes() == box for char in CHARS[:3])  # boxes are all alike
    for char, pixels in glyphs.items():
        assert pixels != box, f"{char!r} rendered as the fallback box"
    assert len(set(glyphs.values())) == len(CHARS)  # and each glyph is its own


def test_a_japanese_transfer_receipt_prints_in_japanese() -> None:
    _font()
    statement: dict[str, object] = {
        "language": "ja", "st_terminal_id": "atm-01", "st_amount_yen": 250_000,
        "st_payee_bank_code": "0001", "st_payee_branch_code": "123",
        "st_payee_account_number": "1234567", "st_payee_name": "ヤマダ　ハナコ",
    }  # fmt: skip
    lines = receipt_lines(statement, "auth-1", TransferState.COMMITTED, reprint=False)
    assert lines[:3] == ["マイナンバー本人確認 振込", "端末 atm-01", "振込金額 250,000円"]
    assert "REF auth-1" in lines  # the reference line is the same in every language
    builder = Builder()
    for line in lines:
        builder.japanese(line)
    printer = EscPosPrinter()
    printer.feed(bytes(builder.cut()))
    assert "振込金額 250,000円" in printer.receipts[0].text()
    english = {k: v for k, v in statement.items() if k != "language"}  # journaled before
    old = receipt_lines(english, "auth-1", TransferState.COMMITTED, reprint=False)
    assert old[:3] == ["MYNA-EDGE TRANSFER", "TERMINAL atm-01", "AMOUNT JPY 250,000"]


def _ink_width(text: str) -> int:
    """From the left margin to the last black dot of one rendered line."""
    image = _line(text).convert("L").point(lambda value: 255 - value)
    box = image.getbbox()
    assert box is not None, f"{text!r} printed nothing"
    return int(box[2])


def test_ascii_in_a_kanji_line_is_half_width() -> None:
    # A printer in Kanji mode prints one-byte codes as half-width characters: the
    # payee line of a 58 mm receipt (32 cells) must not lose its account number.
    _font()
    kanji = _ink_width("振込先振込先")  # 12 cells if two-byte characters take two
    mixed = _ink_width("振込先 0001-123 1234567")  # 6 + 17 = 23 cells
    wide_ascii = 6 + 17 * 2  # what it took when ASCII was drawn two cells wide
    cell = kanji / 12
    assert mixed <= 24 * cell, (mixed, cell)
    assert mixed < wide_ascii * cell * 0.7
