# SPDX-License-Identifier: Apache-2.0
"""hw_sim.devices.escpos_render: the golden receipt renders to the committed PNG.

The renderer uses Pillow's built-in bitmap font so the pixels are the same
on every machine. To accept an intended change, regenerate the golden file
with ``MYNA_EDGE_REGEN_GOLDEN=1`` and look at it before committing.
"""

from __future__ import annotations

import os

from PIL import Image

from hw_sim.devices.escpos_parse import EscPosPrinter
from hw_sim.devices.escpos_render import PAPER_DOTS, render_receipt
from tests.vectors.receipts import GOLDEN_PNG, transfer_receipt


def _rendered() -> Image.Image:
    printer = EscPosPrinter()
    printer.feed(bytes(transfer_receipt()))
    image: Image.Image = render_receipt(printer.receipts[0])
    return image


def test_matches_golden_png() -> None:
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
