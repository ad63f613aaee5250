# SPDX-License-Identifier: Apache-2.0
"""The copy-evident background (地紋) with the latent word 「複写」, and a copier model.

How it works: the whole page is covered with dots of one average tone, but of
two sizes. Outside the word the dots are single printer pixels on a fine
4-pixel grid (0.085 mm dots, 0.34 mm apart at 300 dpi); inside the word they
are 5×5 pixel dots on a coarse 20-pixel grid. Both cover 1/16 of the area, so
on the original the word does not stand out. An office copier cannot resolve
the fine dots: its optics blur them below its black threshold and they drop
out, while the large dots survive, so on the copy 「複写」 appears.

``simulate_copy`` is that copier: a Gaussian blur of 0.085 mm (sigma, the
modulation transfer of a 600 dpi scan-and-print path) followed by the black
threshold at half tone. It is a model for tests and demos, not a colour
science claim.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from municipal.document.fonts import japanese_font

__all__ = [
    "A4_MM",
    "LATENT_WORD",
    "PATTERN_DPI",
    "darkness",
    "latent_mask",
    "page_pixels",
    "pattern_image",
    "simulate_copy",
]

LATENT_WORD: Final = "複写"
PATTERN_DPI: Final = 300
A4_MM: Final = (210.0, 297.0)
_FINE: Final = 4  # fine grid pitch, 1-pixel dots
_COARSE: Final = 20  # coarse grid pitch, 5×5 dots: 25/400 = 1/16 = 1/4²
_BIG_DOT: Final = 5
#: Word rows down the page: (centre y as a fraction of the height).
_ROWS: Final = (0.22, 0.5, 0.78)


def page_pixels(dpi: int) -> tuple[int, int]:
    """The A4 page's size in pixels at ``dpi``."""
    return round(A4_MM[0] / 25.4 * dpi), round(A4_MM[1] / 25.4 * dpi)


@lru_cache(maxsize=4)
def latent_mask(dpi: int = PATTERN_DPI) -> Image.Image:
    """White where the latent word lies, black elsewhere (mode "L", page-sized)."""
    width, height = page_pixels(dpi)
    font = ImageFont.truetype(str(japanese_font()), size=round(height * 0.15))
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    for row in _ROWS:
        draw.text((width / 2, height * row), LATENT_WORD, font=font, fill=255, anchor="mm")
    return mask


@lru_cache(maxsize=1)
def pattern_image() -> Image.Image:
    """The page background at ``PATTERN_DPI`` (mode "1", black dots on white)."""
    width, height = page_pixels(PATTERN_DPI)
    fine = np.zeros((_COARSE, _COARSE), dtype=bool)
    fine[::_FINE, ::_FINE] = True
    coarse = np.zeros((_COARSE, _COARSE), dtype=bool)
    coarse[:_BIG_DOT, :_BIG_DOT] = True
    reps = (height // _COARSE + 1, width // _COARSE + 1)
    fine_page = np.tile(fine, reps)[:height, :width]
    coarse_page = np.tile(coarse, reps)[:height, :width]
    word = np.asarray(latent_mask(PATTERN_DPI)) > 127
    ink = np.where(word, coarse_page, fine_page)
    # Mode "1" stores white as True: invert the ink.
    return Image.fromarray(~ink)


def simulate_copy(page: Image.Image, *, dpi: int = PATTERN_DPI) -> Image.Image:
    """Return what an office copier makes of ``page`` (mode "L": black or white)."""
    sigma_px = 0.085 / 25.4 * dpi
    blurred = page.convert("L").filter(ImageFilter.GaussianBlur(sigma_px))
    return blurred.point(lambda value: 0 if value < 128 else 255)


def darkness(image: Image.Image, mask: Image.Image) -> tuple[float, float]:
    """Mean ink (0 white .. 1 black) inside and outside ``mask`` (same size as image)."""
    ink: npt.NDArray[np.float64] = 1.0 - np.asarray(image.convert("L"), dtype=np.float64) / 255
    inside = np.asarray(mask.resize(image.size)) > 127
    return float(ink[inside].mean()), float(ink[~inside].mean())
