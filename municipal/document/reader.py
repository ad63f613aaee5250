# SPDX-License-Identifier: Apache-2.0
"""Reading a document back: a PDF or a scan in, page images, front text and the code out.

This is the file-input boundary of ``myna-edge document verify``: every file
is hostile until parsed. It sniffs the format from the bytes (never the file
name), bounds what it will render (pages, page size, image pixels), renders
PDFs with PDFium (pypdfium2) and decodes the QR code with zxing-cpp, and
turns every foreign failure into a ``DocumentInputError``.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Final

import pypdfium2 as pdfium  # type: ignore[import-untyped]
import zxingcpp
from PIL import Image

from municipal.document.code import CODE_MAGIC
from municipal.document.errors import CodeNotFoundError, DocumentInputError

__all__ = ["MAX_FILE_BYTES", "DocumentInput", "decode_codes", "read_document", "read_path"]

MAX_FILE_BYTES: Final = 64 * 1024 * 1024
_MAX_PAGES: Final = 4
#: Larger than A3 (842 × 1191 pt) is not a certificate: refuse before rendering.
_MAX_PAGE_POINTS: Final = 1200.0
_MAX_IMAGE_PIXELS: Final = 12_000 * 12_000
_PNG: Final = b"\x89PNG\r\n\x1a\n"
_JPEG: Final = b"\xff\xd8\xff"
_QR: Final = zxingcpp.BarcodeFormats(zxingcpp.QRCode)


@dataclass(frozen=True)
class DocumentInput:
    """A read document: page images (front first) and, for a PDF, the front's text."""

    kind: str  # "pdf" or "image"
    pages: tuple[Image.Image, ...]
    front_text: str | None


def read_path(path: str, *, dpi: int = 300) -> DocumentInput:
    """Read the file at ``path``; see ``read_document``.

    Raises:
        DocumentInputError: unreadable file, or see ``read_document``.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise DocumentInputError(f"cannot read {path}: {exc.strerror}") from exc
    return read_document(data, dpi=dpi)


def read_document(data: bytes, *, dpi: int = 300) -> DocumentInput:
    """Render a PDF's pages (and extract the front's text) or open a scanned image.

    Raises:
        DocumentInputError: too large, not a PDF/PNG/JPEG, or damaged.
    """
    if len(data) > MAX_FILE_BYTES:
        raise DocumentInputError("the file is too large to be a certificate")
    if data.startswith(b"%PDF-"):
        return _read_pdf(data, dpi)
    if data.startswith((_PNG, _JPEG)):
        return DocumentInput(kind="image", pages=(_read_image(data),), front_text=None)
    raise DocumentInputError("not a PDF, PNG or JPEG file")


def decode_codes(document: DocumentInput) -> bytes:
    """Return the document code found on the pages (back first).

    A QR code that is not ours is still returned when it is the only one, so
    the caller refuses it as a malformed code rather than as "no code".

    Raises:
        CodeNotFoundError: no page holds a decodable QR code.
    """
    found: list[bytes] = []
    for page in reversed(document.pages):
        for result in zxingcpp.read_barcodes(page.convert("L"), formats=_QR):
            raw = bytes(result.bytes)
            if raw.startswith(CODE_MAGIC):
                return raw
            found.append(raw)
    if not found:
        raise CodeNotFoundError("no document code was found on the pages")
    return found[0]


def _read_pdf(data: bytes, dpi: int) -> DocumentInput:
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise DocumentInputError("the PDF cannot be opened") from exc
    try:
        count = len(document)
        if not 1 <= count <= _MAX_PAGES:
            raise DocumentInputError(f"a certificate has 1 to {_MAX_PAGES} pages, not {count}")
        pages: list[Image.Image] = []
        front_text = ""
        for index in range(count):
            page = document[index]
            width, height = page.get_size()
            if not (0 < width <= _MAX_PAGE_POINTS and 0 < height <= _MAX_PAGE_POINTS):
                raise DocumentInputError("a page is larger than a certificate")
            bitmap = page.render(scale=dpi / 72, grayscale=True)
            pages.append(bitmap.to_pil().convert("L"))
            if index == 0:
                text_page = page.get_textpage()
                front_text = str(text_page.get_text_range())
                text_page.close()
            page.close()
    except pdfium.PdfiumError as exc:
        raise DocumentInputError("the PDF cannot be rendered") from exc
    finally:
        document.close()
    return DocumentInput(kind="pdf", pages=tuple(pages), front_text=front_text)


def _read_image(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > _MAX_IMAGE_PIXELS:
                raise DocumentInputError("the image is larger than a 600 dpi A3 scan")
            image.load()
            return image.convert("L")
    except DocumentInputError:
        raise
    except (
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise DocumentInputError("the image cannot be decoded") from exc
