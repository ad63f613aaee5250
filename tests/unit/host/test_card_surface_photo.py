# SPDX-License-Identifier: Apache-2.0
"""host.card.surface_photo: the chip's JPEG 2000 photo decoded, hostile bytes refused."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from host.card.surface_photo import decode_photo, photo_format
from host.errors import DataFormatError
from hw_sim.card import images


def test_simulator_photo_decodes_to_greyscale_png() -> None:
    photo = decode_photo(images.face_photo("seed"))
    assert (photo.source_format, photo.mode, photo.width, photo.height) == ("jp2", "L", 48, 64)
    with Image.open(io.BytesIO(photo.png)) as back:
        assert back.format == "PNG"
        assert back.size == (48, 64)
        assert back.getpixel((24, 32)) == 200
    assert "jp2" in repr(photo)


def test_raw_codestream_and_png_are_accepted() -> None:
    image = Image.new("L", (8, 8), 7)
    out = io.BytesIO()
    image.save(out, format="JPEG2000", no_jp2=True)
    assert decode_photo(out.getvalue()).source_format == "j2k"
    out = io.BytesIO()
    image.save(out, format="PNG")
    assert decode_photo(out.getvalue()).source_format == "png"


def test_unknown_and_truncated_photos_are_refused() -> None:
    with pytest.raises(DataFormatError, match="neither"):
        photo_format(b"GIF89a")
    data = images.face_photo("seed")
    with pytest.raises(DataFormatError):
        decode_photo(data[: len(data) // 2])


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_huge_declared_size_is_refused_before_decoding() -> None:
    # A PNG header claiming 2000 × 2000 pixels and a tiny body: refused from the header.
    header = struct.pack(">IIBBBBB", 2000, 2000, 8, 0, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 10))
        + _chunk(b"IEND", b"")
    )
    with pytest.raises(DataFormatError, match="size"):
        decode_photo(png)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_photos_raise_only_format_errors(data: st.DataObject) -> None:
    raw = bytearray(images.face_photo("fuzz"))
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(12, len(raw)))
    try:
        decode_photo(bytes(raw[:cut]))
    except DataFormatError:
        return
