# SPDX-License-Identifier: Apache-2.0
"""What every document shares, prepared once per process: the font and the encoded images.

Why: profiling ``issue_document`` (issue 14's performance step) showed that
most of a document's time went to work that does not depend on the
resident: fpdf2 parsing the 6 MB IPA Gothic in ``add_font`` (cmap and
metrics of 12,728 glyphs) and zlib-encoding the 2480×3508 地紋 and the 公印
again for every page. Here that work is done once per process and each
document receives a copy of the result; only the per-document parts (the
text, the font subset of the glyphs it uses, the signed code) are made per
call.

fpdf2 parts used beyond ``FPDF``'s drawing methods (fpdf2 pinned in
constraints.txt; ``tests/municipal/test_document_assets.py`` guards them):

- ``FPDF.fonts`` holding a ``TTFFont``: each document gets a shallow copy of
  a parsed template with its own ``SubsetMap`` and its own ``ttfont``
  (fpdf2 subsets ``ttfont`` in place when it writes the PDF), sharing the
  read-only ``cmap``, ``glyph_ids`` and descriptor, the same split fpdf2's
  own ``TTFFont.__deepcopy__`` makes for ``FPDFRecorder``;
- ``FPDF.image_cache``: fpdf2 documents that an image in ``images`` is reused
  by later ``FPDF.image`` calls under its name; we insert the pre-encoded
  image there under a fixed key before placing it.

Everything here is safe to share between the server's worker threads: the
caches are filled once, under ``_FILLING`` (``lru_cache`` alone lets two
threads build the same entry at once, and the loser's font file is left
open), only read afterwards, and every document gets its own mutable parts.
"""

from __future__ import annotations

import copy
import threading
from collections import defaultdict
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Final

from fontTools import ttLib  # type: ignore[import-untyped]
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont
from fpdf.image_datastructures import ImageCache, RasterImageInfo
from fpdf.image_parsing import preload_image
from PIL import Image

from municipal.document.fonts import japanese_font
from municipal.document.pattern import pattern_image
from municipal.document.seal import seal_image

__all__ = ["FONT_FAMILY", "add_japanese_font", "place_pattern", "place_seal", "warm_up"]

#: The family name the document sets its text in.
FONT_FAMILY: Final = "jp"
#: Keys of the pre-encoded images in a document's ``image_cache`` (never file names:
#: they are always inserted before ``FPDF.image`` looks them up).
_PATTERN_KEY: Final = "myna-edge:pattern"
_SEAL_KEY: Final = "myna-edge:seal:"


#: Tables fpdf2's subset would carry but the page never uses: vertical metrics
#: (the document is set horizontally; widths go in the PDF's /W array) and the
#: layout tables fpdf2 drops anyway. Dropped once, not parsed per document.
_UNUSED_TABLES: Final = ("vhea", "vmtx", "GSUB", "GDEF", "GPOS")


#: Held while a cache below is filled: each entry is built once per process.
_FILLING: Final = threading.RLock()


def _font_template(path: Path) -> tuple[TTFFont, bytes]:
    """``_build_font_template`` once per path, whichever thread asks first."""
    with _FILLING:
        return _build_font_template(path)


@lru_cache(maxsize=2)
def _build_font_template(path: Path) -> tuple[TTFFont, bytes]:
    """The parsed font (fpdf2's ``add_font`` work) and the font each document subsets.

    The second is the font file prepared for fpdf2's per-document subset: the
    same glyphs in the same order (so the template's glyph ids and names hold),
    without ``_UNUSED_TABLES`` and with one Unicode cmap subtable instead of
    three copies of the same map (the subset parses every subtable; an embedded
    CIDFontType2 is addressed by glyph id and read back through ToUnicode, so
    the embedded cmap is not what a viewer uses).
    """
    pdf = FPDF()
    pdf.add_font(FONT_FAMILY, fname=str(path))
    font = pdf.fonts[FONT_FAMILY]
    assert isinstance(font, TTFFont)
    full = ttLib.TTFont(str(path), recalcTimestamp=False)
    cmap = full["cmap"]
    best = cmap.getcmap(3, 10) or cmap.getcmap(3, 1)
    if best is not None:
        cmap.tables = [best]
    for tag in _UNUSED_TABLES:
        if tag in full:
            del full[tag]
    prepared = BytesIO()
    full.save(prepared)
    full.close()
    return font, prepared.getvalue()


def add_japanese_font(pdf: FPDF) -> None:
    """Give ``pdf`` the Japanese font as ``FONT_FAMILY`` without parsing the file again.

    Raises:
        DocumentFontError: no Japanese font is installed.
    """
    template, prepared = _font_template(japanese_font())
    font = copy.copy(template)
    font.i = len(pdf.fonts) + 1
    # fpdf2 subsets ``ttfont`` in place at output: each document needs its own
    # (lazy: only the tables the subsetter reads are parsed, from memory).
    # recalcBBoxes=False: the glyphs keep the bounding boxes the font ships
    # with instead of being decoded to recompute them (the head table keeps the
    # whole font's box, a valid bound of the subset).
    font.ttfont = ttLib.TTFont(
        BytesIO(prepared), recalcTimestamp=False, recalcBBoxes=False, lazy=True
    )
    # ``cw`` is a defaultdict that grows on a miss: a copy per document.
    widths = template.cw
    font.cw = (
        defaultdict(widths.default_factory, widths)
        if isinstance(widths, defaultdict)
        else dict(widths)
    )
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font.subset = SubsetMap(font)
    pdf.fonts[FONT_FAMILY] = font


def _encoded(image: Image.Image) -> RasterImageInfo:
    """fpdf2's encoded form of ``image`` (the zlib stream and its dictionary)."""
    _, _, info = preload_image(ImageCache(), image)
    assert isinstance(info, RasterImageInfo)
    return info


def _pattern_info() -> RasterImageInfo:
    with _FILLING:
        return _build_pattern_info()


@lru_cache(maxsize=1)
def _build_pattern_info() -> RasterImageInfo:
    # Bilevel images go in as 8-bit grey: fpdf2 2.8 stores mode "1" at about
    # 1 MB a page (and shears it under FlateDecode); as "L" it is 28 KB.
    return _encoded(pattern_image().convert("L"))


def _seal_info(municipality_name: str) -> RasterImageInfo:
    with _FILLING:
        return _build_seal_info(municipality_name)


@lru_cache(maxsize=16)
def _build_seal_info(municipality_name: str) -> RasterImageInfo:
    return _encoded(seal_image(municipality_name))


def _place(
    pdf: FPDF, key: str, info: RasterImageInfo, *, x: float, y: float, size: tuple[float, float]
) -> None:
    images = pdf.image_cache.images
    if key not in images:
        # A copy: fpdf2 numbers and counts each document's images in the entry.
        images[key] = RasterImageInfo(info, i=len(images) + 1, usages=0)
    pdf.image(key, x=x, y=y, w=size[0], h=size[1])


def place_pattern(pdf: FPDF, *, size: tuple[float, float]) -> None:
    """Draw the 地紋 over the current page from (0, 0), ``size`` in mm."""
    _place(pdf, _PATTERN_KEY, _pattern_info(), x=0, y=0, size=size)


def place_seal(pdf: FPDF, municipality_name: str, *, x: float, y: float, size_mm: float) -> None:
    """Draw the 公印 of ``municipality_name`` with its top left at (``x``, ``y``)."""
    key = _SEAL_KEY + municipality_name
    _place(pdf, key, _seal_info(municipality_name), x=x, y=y, size=(size_mm, size_mm))


def warm_up(municipality_name: str) -> None:
    """Prepare the shared parts now (a server calls this before answering).

    Raises:
        DocumentFontError: no Japanese font is installed.
    """
    _font_template(japanese_font())
    _pattern_info()
    _seal_info(municipality_name)
