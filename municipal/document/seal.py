# SPDX-License-Identifier: Apache-2.0
"""The municipality's official seal (公印), drawn at run time.

Why drawn: a real 公印 is the municipality's registered impression; the
reference service has none, so it draws a square seal of the usual shape
(red frame, the title read in columns from the right, 「…長之印」) from the
municipality's name. A real deployment loads its own image instead.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Final

from PIL import Image, ImageDraw, ImageFont

from municipal.document.fonts import japanese_font

__all__ = ["SEAL_PIXELS", "seal_image"]

SEAL_PIXELS: Final = 260  # 22 mm at 300 dpi
_RED: Final = (200, 30, 30, 215)


@lru_cache(maxsize=16)
def seal_image(municipality_name: str) -> Image.Image:
    """A square RGBA seal for ``municipality_name`` (transparent outside the ink)."""
    text = f"{municipality_name}長之印"
    rows = 3 if len(text) > 4 else 2
    cols = math.ceil(len(text) / rows)
    image = Image.new("RGBA", (SEAL_PIXELS, SEAL_PIXELS), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    frame = SEAL_PIXELS // 16
    draw.rectangle(
        (frame // 2, frame // 2, SEAL_PIXELS - frame // 2, SEAL_PIXELS - frame // 2),
        outline=_RED,
        width=frame,
    )
    inner = SEAL_PIXELS - 3 * frame
    cell_w, cell_h = inner / cols, inner / rows
    font = ImageFont.truetype(str(japanese_font()), size=round(min(cell_w, cell_h) * 0.95))
    for index, char in enumerate(text):
        col, row = divmod(index, rows)  # columns read top-down, right to left
        x = SEAL_PIXELS - 1.5 * frame - (col + 0.5) * cell_w
        y = 1.5 * frame + (row + 0.5) * cell_h
        draw.text((x, y), char, font=font, fill=_RED, anchor="mm")
    return image
