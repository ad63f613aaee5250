# SPDX-License-Identifier: Apache-2.0
"""Render a parsed receipt to a PNG a person can look at (Pillow).

The paper is 384 dots wide (58 mm at 203 dpi). Text uses Pillow's built-in
bitmap font, drawn at twice its size for a 12x22-dot cell (four times for
double size), because a bitmap font renders the same pixels on every
machine, which the golden-image test needs. The built-in font has no kana or
kanji, so every non-ASCII character (the payee's katakana name) is drawn
with GNU Unifont's Japanese face (Debian ``fonts-unifont``), a pixel font
whose 16-dot em sits on the dot grid of the scaled cell: one fixed file at
one fixed size, so the pixels are again the same everywhere (Pillow is
pinned). Without that file the characters become outlined cells and a
warning is logged; the receipt's text file always carries the real text.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from hw_sim.devices.errors import DeviceError
from hw_sim.devices.escpos_parse import Line, QrBlock, RasterBlock, Receipt

__all__ = ["CJK_FONT", "PAPER_DOTS", "render_png", "render_receipt"]

PAPER_DOTS = 384
_CELL_W, _CELL_H = 6, 11  # the bitmap font's cell
_SCALE = 2
_MARGIN = 8

#: The font for non-ASCII characters (Debian package ``fonts-unifont``).
CJK_FONT = "/usr/share/fonts/opentype/unifont/unifont_jp.otf"
_CJK_SIZE = 16  # Unifont's native em: every outline edge lands on a dot

_log = logging.getLogger(__name__)


def _pil() -> Any:
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError as exc:
        raise DeviceError("rendering receipts needs Pillow") from exc
    return Image, ImageDraw, ImageFont


def _qr_matrix(data: str, ecc: str) -> list[list[bool]]:
    try:
        import qrcode  # type: ignore[import-untyped]
        from qrcode import constants
    except ImportError as exc:
        raise DeviceError("rendering QR codes needs the qrcode package") from exc
    level = getattr(constants, f"ERROR_CORRECT_{ecc}")
    code = qrcode.QRCode(error_correction=level, border=0)
    code.add_data(data)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


@functools.cache
def _cjk_font(path: str) -> Any:
    """Unifont at its native size, or None (outlined cells) when ``path`` is missing."""
    _, _, font_mod = _pil()
    try:
        return font_mod.truetype(path, _CJK_SIZE)
    except OSError:
        _log.warning(
            "font %s not found (install fonts-unifont): Japanese text renders as boxes", path
        )
        return None


def _line_image(line: Line) -> Any:
    image_mod, draw_mod, font_mod = _pil()
    from PIL import ImageChops  # optional dependency, imported when rendering

    font = font_mod.load_default_imagefont()
    cjk = _cjk_font(CJK_FONT)
    pieces = []
    for seg in line.segments:
        # In Kanji mode a printer still prints one-byte codes (ASCII) as
        # half-width ANK characters; only two-byte characters take two cells.
        cells = [(char, _CELL_W * (2 if ord(char) > 0x7E else 1)) for char in seg.text]
        small = image_mod.new("1", (max(1, sum(w for _, w in cells) + 1), _CELL_H), 1)
        draw = draw_mod.Draw(small)
        wide: list[tuple[int, str, int]] = []  # drawn after scaling, at Unifont's own size
        x = 0
        for char, cell_w in cells:
            if ord(char) <= 0x7E:
                draw.text((x, 0), char, font=font, fill=0)
            elif cjk is not None:
                wide.append((x, char, cell_w))
            else:
                draw.rectangle((x + 1, 1, x + cell_w - 2, _CELL_H - 2), outline=0)
            x += cell_w
        scaled = small.resize(
            (small.width * _SCALE, _CELL_H * _SCALE), image_mod.Resampling.NEAREST
        )
        if wide:
            glyphs = draw_mod.Draw(scaled)
            top = (_CELL_H * _SCALE - _CJK_SIZE) // 2
            for x, char, cell_w in wide:
                # Centred in its cell.
                left = x * _SCALE + max(0, (cell_w * _SCALE - cjk.getlength(char)) // 2)
                glyphs.text((int(left), top), char, font=cjk, fill=0)
        size = (scaled.width * seg.width, scaled.height * seg.height)
        big = scaled.resize(size, image_mod.Resampling.NEAREST)
        if seg.bold:
            # Emphasis as printers do it: the dots again, one dot to the right.
            shifted = image_mod.new("1", big.size, 1)
            shifted.paste(big.crop((0, 0, big.width - 1, big.height)), (1, 0))
            big = ImageChops.logical_and(big, shifted)
        pieces.append(big)
    height = max((p.height for p in pieces), default=_CELL_H * _SCALE)
    out = image_mod.new("1", (max(1, sum(p.width for p in pieces)), height), 1)
    x = 0
    for piece in pieces:
        out.paste(piece, (x, height - piece.height))
        x += piece.width
    return out


def _block_image(block: Line | QrBlock | RasterBlock) -> Any:
    image_mod, _, _ = _pil()
    if isinstance(block, Line):
        return _line_image(block)
    if isinstance(block, QrBlock):
        matrix = _qr_matrix(block.data, block.ecc)
        n = len(matrix) * block.module
        image = image_mod.new("1", (n, n), 1)
        for y, row in enumerate(matrix):
            for x, dark in enumerate(row):
                if dark:
                    m = block.module
                    image.paste(0, (x * m, y * m, x * m + m, y * m + m))
        return image
    image = image_mod.new("1", (block.width_bytes * 8, block.height), 1)
    for y in range(block.height):
        for xb in range(block.width_bytes):
            byte = block.rows[y * block.width_bytes + xb]
            for bit in range(8):
                if byte & (0x80 >> bit):
                    image.putpixel((xb * 8 + bit, y), 0)
    return image


def render_receipt(receipt: Receipt) -> Any:
    """The receipt as a 1-bit PIL image, 384 dots wide."""
    image_mod, _, _ = _pil()
    images = [(_block_image(b), b.align) for b in receipt.blocks]
    height = sum(img.height + 4 for img, _ in images) + 2 * _MARGIN
    paper = image_mod.new("1", (PAPER_DOTS, height), 1)
    y = _MARGIN
    for img, align in images:
        free = PAPER_DOTS - img.width
        x = [_MARGIN, free // 2, free - _MARGIN][align] if free > 2 * _MARGIN else 0
        paper.paste(img.crop((0, 0, min(img.width, PAPER_DOTS), img.height)), (x, y))
        y += img.height + 4
    return paper


def render_png(receipt: Receipt, path: str) -> None:
    """Write the receipt to ``path`` as PNG."""
    render_receipt(receipt).save(path, format="PNG")
