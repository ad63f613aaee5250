# SPDX-License-Identifier: Apache-2.0
"""The face photo of the card-surface AP: JPEG 2000 in, pixels and PNG out.

Real cards store the photo as greyscale JPEG 2000 (jpki-card.md §3.3: DF27);
Pillow decodes it through OpenJPEG, a well-kept library, so the host needs
no codec of its own. The photo comes from a card, that is from a boundary:
the format is sniffed from its signature, the size is bounded before any
pixel is decoded (a hostile header must not make the terminal allocate
gigabytes), and every Pillow failure becomes a ``DataFormatError``.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Final

from PIL import Image, UnidentifiedImageError

from host.errors import DataFormatError

__all__ = ["MAX_PHOTO_PIXELS", "FacePhoto", "decode_photo", "photo_format"]

#: A card photo is small (a few hundred pixels a side at most, UNCONFIRMED);
#: anything larger is refused before decoding.
MAX_PHOTO_PIXELS: Final = 1024 * 1024
_JP2_SIGNATURE: Final = b"\x00\x00\x00\x0cjP  \r\n\x87\n"  # ISO/IEC 15444-1 JP2 box
_J2K_CODESTREAM: Final = b"\xff\x4f\xff\x51"  # SOC + SIZ marker
_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_FORMATS: Final = {"jp2": "JPEG2000", "j2k": "JPEG2000", "png": "PNG"}


@dataclass(frozen=True, repr=False)
class FacePhoto:
    """A decoded face photo.

    Attributes:
        source_format: ``jp2``, ``j2k`` or ``png``: what the card stored.
        width, height: pixels.
        mode: Pillow's mode after decoding (``L`` for greyscale).
        png: the photo re-encoded as PNG, for screens and files.
    """

    source_format: str
    width: int
    height: int
    mode: str
    png: bytes

    def __repr__(self) -> str:
        return f"FacePhoto({self.source_format}, {self.width}x{self.height}, {self.mode})"


def photo_format(data: bytes) -> str:
    """Return ``jp2``, ``j2k`` or ``png`` from the signature of ``data``.

    Raises:
        DataFormatError: none of these.
    """
    if data.startswith(_JP2_SIGNATURE):
        return "jp2"
    if data.startswith(_J2K_CODESTREAM):
        return "j2k"
    if data.startswith(_PNG_SIGNATURE):
        return "png"
    raise DataFormatError("the photo is neither JPEG 2000 nor PNG")


def decode_photo(data: bytes) -> FacePhoto:
    """Decode the card's photo and re-encode it as PNG.

    Raises:
        DataFormatError: unknown format, too large, or undecodable.
    """
    kind = photo_format(data)
    try:
        with warnings.catch_warnings():
            # Pillow warns (then errors) on huge images; we bound the size ourselves.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[_FORMATS[kind]]) as image:
                width, height = image.size
                if width <= 0 or height <= 0 or width * height > MAX_PHOTO_PIXELS:
                    raise DataFormatError("the photo's size is out of bounds")
                image.load()
                mode = image.mode
                out = io.BytesIO()
                image.save(out, format="PNG")
    except DataFormatError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise DataFormatError(f"the photo does not decode ({type(exc).__name__})") from None
    except Image.DecompressionBombError:
        raise DataFormatError("the photo's size is out of bounds") from None
    return FacePhoto(kind, width, height, mode, out.getvalue())
