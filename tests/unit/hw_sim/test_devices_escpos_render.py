# SPDX-License-Identifier: Apache-2.0
"""hw_sim.devices.escpos_render: the golden receipt renders to the committed PNG.

The renderer uses Pillow's built-in bitmap font and, for Japanese, one fixed
Unifont file at one fixed size (Debian ``fonts-unifont``), so the pixels are
the same on every machine. Without that font the golden test cannot pass:
under CI=true the font test fails, locally it is skipped. To accept an
intended change, regenerate the golden file with ``MYNA_EDGE_REGEN_GOLDEN=1``
and look at it before committing.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from PIL import Image

from host.peripherals.escpos import Receipt as Builder
from hw_sim.devices import escpos_render
from hw_sim.devices.escpos_parse import EscPosPrinter
from hw_sim.devices.escpos_render import CJK_FONT, PAPER_DOTS, render_receipt
from tests.prerequisites import missing_prerequisite
from tests.vectors.receipts import GOLDEN_PNG, transfer_receipt


def _rendered() -> Image.Image:
    printer = EscPosPrinter()
    printer.feed(bytes(transfer_receipt()))
    image: Image.Image = render_receipt(printer.receipts[0])
    return image


def _need_font() -> None:
    if Path(CJK_FONT).is_file():
        return
    missing_prerequisite(f"{CJK_FONT} missing (install fonts-unifont)")


def _japanese_line(text: str) -> Image.Image:
    printer = EscPosPrinter()
    printer.feed(bytes(Builder().japanese(text).cut()))
    image: Image.Image = render_receipt(printer.receipts[0])
    return image


def test_japanese_font_installed() -> None:
    _need_font()
    assert escpos_render._cjk_font(CJK_FONT) is not None


def test_japanese_drawn_with_glyphs_not_boxes() -> None:
    _need_font()
    # Distinct characters give distinct pixels; outlined boxes would not.
    assert _japanese_line("ヤマダ").tobytes() != _japanese_line("ハナコ").tobytes()


def test_missing_font_falls_back_to_boxes_with_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setattr(escpos_render, "CJK_FONT", str(tmp_path / "no-such-font.otf"))
    with caplog.at_level(logging.WARNING, logger=escpos_render.__name__):
        boxes = _japanese_line("ヤマダ")
    assert "fonts-unifont" in caplog.text
    assert boxes.tobytes() == _japanese_line("ハナコ").tobytes()


def test_matches_golden_png() -> None:
    _need_font()
    image = _rendered()
    if os.environ.get("MYNA_EDGE_REGEN_GOLDEN") == "1":
        image.save(GOLDEN_PNG, format="PNG")
    with Image.open(GOLDEN_PNG) as golden:
        assert golden.size == image.size
        assert golden.convert("1").tobytes() == image.tobytes()


def test_paper_width_and_ink() -> None:
    image = _rendered()
    assert image.width == PAPER_DOTS
    histogram = image.convert("L").histogram()
    black, white = histogram[0], histogram[255]
    assert black > 2000  # text, QR and raster left ink
    assert white > black
