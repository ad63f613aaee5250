# SPDX-License-Identifier: Apache-2.0
"""The issued document as an A4 PDF: the front with its 地紋, the back with the signed code.

Layout (millimetres from the top left; the real certificates' elements):
issue number top right, title, the certificate's rows in a ruled table, the
certifying sentence, 発行日, the mayor's line with the 公印 over it, and a
note on where the check lives. Every word on the front comes from
``front_lines`` so that ``verify`` can rebuild the same text from the signed
content and compare it with what the PDF says.

Why fpdf2: pure Python, maintained, embeds a subset of a TrueType font with a
ToUnicode map, and takes Pillow images directly. What does not depend on the
resident (the parsed font, the encoded 地紋 and 公印) is prepared once per
process in ``assets``; a document costs its text, its font subset and its
code. The QR code is made by zxing-cpp's writer (the reader ``verify`` uses):
the pure-Python ``qrcode`` spent about 0.1 s a page choosing the mask.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import numpy as np
import numpy.typing as npt
import zxingcpp
from fpdf import FPDF
from PIL import Image

from municipal.document.assets import FONT_FAMILY, add_japanese_font, place_pattern, place_seal
from municipal.document.content import DocumentContent
from municipal.document.pattern import A4_MM

__all__ = ["FOOTER", "code_image", "front_lines", "japanese_date", "render_pdf"]

FOOTER: Final = (
    "裏面の二次元コードに記録された内容と市区町村の電子署名で、この証明書の真正性を確認できます。"
)
_FONT: Final = FONT_FAMILY
_LEFT: Final = 22.0
_LABEL_W: Final = 40.0
_ROW_H: Final = 11.0
#: Height of the table (y 48 to 200 mm): a long record (世帯全員) gets thinner rows
#: and smaller type rather than running into the mayor's line and the footer.
_TABLE_MM: Final = 152.0
_QR_MM: Final = 110.0
#: First days of the eras certificates print, newest first (before 明治 6: the Western year).
_ERAS: Final = (
    (dt.date(2019, 5, 1), "令和"),
    (dt.date(1989, 1, 8), "平成"),
    (dt.date(1926, 12, 25), "昭和"),
    (dt.date(1912, 7, 30), "大正"),
    (dt.date(1873, 1, 1), "明治"),  # the Gregorian calendar's first day in Japan
)


def japanese_date(day: dt.date) -> str:
    """``day`` as printed on a certificate (和暦, the first year as 元年)."""
    for start, era in _ERAS:
        if day >= start:
            year = day.year - start.year + (1 if era != "明治" else 6)
            return f"{era}{'元' if year == 1 else year}年{day.month}月{day.day}日"
    return f"{day.year}年{day.month}月{day.day}日"


def front_lines(content: DocumentContent) -> list[str]:
    """Every text item of the front page, in drawing order."""
    lines = [f"発行番号 {content.serial}", content.kind.title]
    for label, value in content.fields:
        lines += [label, value]
    lines += [
        content.certification,
        f"発行日 {japanese_date(content.issued_on)}",
        content.mayor,
        FOOTER,
    ]
    return lines


def code_image(code: bytes, *, box_px: int = 8) -> Image.Image:
    """The QR code of ``code`` (byte mode, level M, 4-module quiet zone), mode "1"."""
    return Image.fromarray(_code_grey(code, box_px=box_px) > 127)


def _code_grey(code: bytes, *, box_px: int) -> npt.NDArray[np.uint8]:
    """The QR code as 8-bit grey pixels (0 dark, 255 light), quiet zone included."""
    symbol = zxingcpp.create_barcode(code, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    return np.asarray(symbol.to_image(scale=box_px, add_quiet_zones=True))


def render_pdf(content: DocumentContent, code: bytes, *, pattern: bool = True) -> bytes:
    """Render the two-page document; ``code`` is printed on the back as given.

    ``code`` comes in separately (rather than being signed here) so the signer
    can live apart from the renderer, and so tests can build the forgeries the
    verifier must refuse (a tampered page under a genuine code).
    """
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(auto=False)
    pdf.set_creator("myna-edge municipal reference service")
    add_japanese_font(pdf)
    _front(pdf, content, pattern=pattern)
    _back(pdf, content, code)
    return bytes(pdf.output())


def _front(pdf: FPDF, content: DocumentContent, *, pattern: bool) -> None:
    pdf.add_page()
    width, _ = A4_MM
    if pattern:
        place_pattern(pdf, size=A4_MM)
    lines = iter(front_lines(content))
    pdf.set_font(_FONT, size=9)
    pdf.set_xy(width - _LEFT - 80, 12)
    pdf.cell(80, 5, next(lines), align="R")
    pdf.set_font(_FONT, size=22)
    pdf.set_xy(_LEFT, 24)
    pdf.cell(width - 2 * _LEFT, 12, next(lines), align="C")
    row_h = min(_ROW_H, _TABLE_MM / max(1, len(content.fields)))
    pdf.set_font(_FONT, size=min(11.0, row_h * 1.6))
    y = 48.0
    pdf.set_line_width(0.3)
    for _ in content.fields:
        pdf.set_xy(_LEFT, y)
        pdf.cell(_LABEL_W, row_h, next(lines), border=1)
        pdf.set_xy(_LEFT + _LABEL_W, y)
        pdf.cell(width - 2 * _LEFT - _LABEL_W, row_h, next(lines), border=1)
        y += row_h
    pdf.set_font(_FONT, size=11)
    y = max(y + 16, 200.0)
    pdf.set_xy(_LEFT, y)
    pdf.cell(width - 2 * _LEFT, 8, next(lines))
    pdf.set_xy(_LEFT, y + 12)
    pdf.cell(80, 8, next(lines))
    pdf.set_font(_FONT, size=13)
    pdf.set_xy(width - _LEFT - 110, y + 26)
    pdf.cell(90, 10, next(lines), align="R")
    place_seal(pdf, content.municipality_name, x=width - _LEFT - 24, y=y + 20, size_mm=22)
    pdf.set_font(_FONT, size=7)
    pdf.set_xy(_LEFT, 282)
    pdf.cell(width - 2 * _LEFT, 5, next(lines), align="C")


def _back(pdf: FPDF, content: DocumentContent, code: bytes) -> None:
    pdf.add_page()
    width, _ = A4_MM
    pdf.set_font(_FONT, size=10)
    pdf.set_xy(_LEFT, 30)
    pdf.cell(width - 2 * _LEFT, 6, f"{content.kind.title}　発行番号 {content.serial}", align="C")
    # As 8-bit grey, like the pattern (see ``assets``).
    grey = Image.fromarray(_code_grey(code, box_px=8))
    pdf.image(grey, x=(width - _QR_MM) / 2, y=50, w=_QR_MM, h=_QR_MM)
    pdf.set_xy(_LEFT, 170)
    pdf.multi_cell(
        width - 2 * _LEFT,
        6,
        f"この二次元コードには表面の記載事項と{content.municipality_name}の電子署名"
        "（ECDSA P-256）が記録されています。読み取って署名を検証すると、"
        "写しや改ざんをオフラインで見分けられます。",
    )
