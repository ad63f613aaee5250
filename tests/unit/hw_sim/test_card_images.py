# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.card.images`` and ``hw_sim.card.cv_cert``."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from PIL import Image

from hw_sim.card import images
from hw_sim.card.cv_cert import CV_CERT_SIZE, cv_certificate, key_id, public_key_blob


def decode_png(data: bytes) -> tuple[int, int, int, bytes]:
    """Check chunk CRCs; return width, height, bit depth and the raw scanlines."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, {}
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind] = body
        position += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert colour == 0
    assert b"IEND" in chunks
    return width, height, depth, zlib.decompress(chunks[b"IDAT"])


def test_number_image() -> None:
    width, height, depth, raw = decode_png(images.number_image("123456789018"))
    assert (width, height, depth) == (72, 12, 1)
    assert len(raw) == height * (1 + 9)
    assert raw != decode_png(images.number_image("123456789019"))[3]
    with pytest.raises(ValueError, match="digits"):
        images.number_image("12a")


def test_pattern_and_face() -> None:
    first = images.pattern_image("山田　太郎")
    assert first == images.pattern_image("山田　太郎")  # deterministic
    assert first != images.pattern_image("山田　花子")
    assert decode_png(first)[:3] == (64, 8, 1)
    photo = images.face_photo("seed")
    assert photo == images.face_photo("seed")  # deterministic
    assert photo.startswith(b"\x00\x00\x00\x0cjP  \r\n\x87\n")  # JP2 signature box
    with Image.open(io.BytesIO(photo)) as decoded:  # JPEG 2000 via OpenJPEG, as a host reads it
        assert (decoded.format, decoded.mode, decoded.size) == ("JPEG2000", "L", (48, 64))
        assert decoded.getpixel((24, 32)) == 200  # the oval, lossless


def test_png_rejects_mismatched_rows() -> None:
    with pytest.raises(ValueError, match="rows"):
        images.png(8, 2, [b"\x00"], bit_depth=1)


def test_cv_certificate_layout() -> None:
    issuer = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    cv = cv_certificate(subject, issuer)
    assert len(cv) == CV_CERT_SIZE
    assert cv[10:26] == key_id(issuer.public_key())
    assert cv[26:42] == key_id(subject)
    assert cv[42:].startswith(public_key_blob(subject))
    issuer.public_key().verify(cv[312:], cv[5:307], padding.PKCS1v15(), hashes.SHA256())
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    with pytest.raises(ValueError, match="RSA-2048"):
        public_key_blob(small)
