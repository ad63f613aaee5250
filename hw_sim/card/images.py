# SPDX-License-Identifier: Apache-2.0
"""Tiny generated pictures for the card-surface application.

The real card stores the name, address and security code as 1-bit PNG
images, the rendered My Number as a 72×12 PNG, and the face photo as
greyscale JPEG 2000 (jpki-card.md §3.3). A simulator needs bytes of the
right kind, not art: the PNGs are built with ``zlib`` and ``struct``, small
and deterministic; the photo is a real greyscale JPEG 2000 file (JP2 boxes,
lossless 5/3 wavelet), written by Pillow through OpenJPEG so that hosts
decode what real cards carry. UNCONFIRMED: the real photo's pixel size and
codec options; ours is 48×64. Kanji are not rendered: name and address
images are a pattern derived from the text.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from collections.abc import Sequence
from typing import Final

from PIL import Image

__all__ = ["face_photo", "number_image", "pattern_image", "png"]

_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_GREY: Final = 0  # PNG colour type: greyscale

# 3×5 digit glyphs, one row per 3-bit group, top row first.
_GLYPHS: Final = {
    "0": (0b111, 0b101, 0b101, 0b101, 0b111),
    "1": (0b010, 0b110, 0b010, 0b010, 0b111),
    "2": (0b111, 0b001, 0b111, 0b100, 0b111),
    "3": (0b111, 0b001, 0b111, 0b001, 0b111),
    "4": (0b101, 0b101, 0b111, 0b001, 0b001),
    "5": (0b111, 0b100, 0b111, 0b001, 0b111),
    "6": (0b111, 0b100, 0b111, 0b101, 0b111),
    "7": (0b111, 0b001, 0b010, 0b010, 0b010),
    "8": (0b111, 0b101, 0b111, 0b101, 0b111),
    "9": (0b111, 0b101, 0b111, 0b001, 0b111),
}


def png(width: int, height: int, rows: Sequence[bytes], *, bit_depth: int) -> bytes:
    """Return a greyscale PNG from packed ``rows`` (one bytes object per row).

    Raises:
        ValueError: the rows do not match the size.
    """
    stride = (width * bit_depth + 7) // 8
    if len(rows) != height or any(len(row) != stride for row in rows):
        raise ValueError("rows do not match the image size")
    header = struct.pack(">IIBBBBB", width, height, bit_depth, _GREY, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 on every row
    return (
        _SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _bitmap(width: int, height: int, ink: Sequence[Sequence[bool]]) -> bytes:
    """Return a 1-bit PNG; ``ink[y][x]`` true = black (bit 0), false = white."""
    rows = []
    for y in range(height):
        value = 0
        for x in range(width):
            value = (value << 1) | (0 if ink[y][x] else 1)
        padding = (-width) % 8
        rows.append((value << padding).to_bytes((width + 7) // 8, "big"))
    return png(width, height, rows, bit_depth=1)


def number_image(digits: str) -> bytes:
    """Return a 1-bit PNG, 6 px per digit and 12 px high, of ``digits`` (72×12 for 12).

    Raises:
        ValueError: ``digits`` holds something other than 0-9.
    """
    if not digits.isdigit() or not digits.isascii():
        raise ValueError("number_image draws ASCII digits only")
    width, height = 6 * len(digits), 12
    ink = [[False] * width for _ in range(height)]
    for position, digit in enumerate(digits):
        for row, bits in enumerate(_GLYPHS[digit]):
            for column in range(3):
                if bits & (0b100 >> column):
                    for dy in (0, 1):  # glyphs drawn twice as tall as wide
                        ink[1 + 2 * row + dy][position * 6 + 1 + column] = True
    return _bitmap(width, height, ink)


def pattern_image(text: str, *, width: int = 64, height: int = 8) -> bytes:
    """Return a 1-bit PNG whose pattern depends only on ``text`` (stands in for rendered text)."""
    stream = hashlib.shake_256(text.encode("utf-8")).digest(width * height // 8 + 1)
    bits = int.from_bytes(stream, "big")
    ink = [[bool((bits >> (y * width + x)) & 1) for x in range(width)] for y in range(height)]
    return _bitmap(width, height, ink)


def face_photo(seed: str, *, width: int = 48, height: int = 64) -> bytes:
    """Return a small greyscale JPEG 2000 (JP2): a light oval on a shade chosen by ``seed``.

    Deterministic: the same seed gives the same bytes (lossless coding).
    """
    background = hashlib.sha256(seed.encode("utf-8")).digest()[0] // 2
    cx, cy = (width - 1) / 2, (height - 1) / 2
    pixels = bytearray()
    for y in range(height):
        for x in range(width):
            inside = ((x - cx) / (width * 0.35)) ** 2 + ((y - cy) / (height * 0.4)) ** 2 <= 1
            pixels.append(200 if inside else background)
    image = Image.frombytes("L", (width, height), bytes(pixels))
    out = io.BytesIO()
    image.save(out, format="JPEG2000", irreversible=False)
    return out.getvalue()
