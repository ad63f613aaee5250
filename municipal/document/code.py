# SPDX-License-Identifier: Apache-2.0
"""The signed document code printed on the back (sans-I/O: bytes in, bytes out).

Our answer to the スクランブル画像: instead of an encrypted picture that only a
decoding site can read, the back carries the content itself, signed with the
municipality's ECDSA P-256 key, so anyone can check a paper copy offline with
a phone's barcode reader and the municipality's public key.

Wire format (QR code, byte mode; all integers big-endian)::

    offset  size  field
    0       6     magic   b"MYNADC"
    6       1     version 0x01
    7       8     key id  first 8 bytes of SHA-256 over the public key (DER SPKI)
    15      2     n       length of the content
    17      n     content canonical JSON (``content.DocumentContent.canonical``)
    17+n    1     m       length of the signature (0: unsigned)
    18+n    m     ECDSA-SHA256 signature, DER, over bytes [0, 17+n)

The signature covers magic, version and key id too, so no field can be
changed or re-labelled without breaking it.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from municipal.document.content import DocumentContent, decode_content
from municipal.document.errors import BadSignatureError, CodeFormatError, UnsignedCodeError

__all__ = [
    "CODE_MAGIC",
    "CODE_VERSION",
    "SignedCode",
    "encode_code",
    "key_id",
    "parse_code",
    "sign_content",
]

CODE_MAGIC: Final = b"MYNADC"
CODE_VERSION: Final = 1
_HEADER: Final = struct.Struct(">6sB8sH")
#: A DER ECDSA P-256 signature is at most 72 bytes; more is not ours.
_MAX_SIGNATURE: Final = 72
#: QR version 40 holds 2,953 bytes at level L; a longer code cannot be printed.
MAX_CODE_BYTES: Final = 2953


@dataclass(frozen=True)
class SignedCode:
    """A parsed code: what was signed, by which key, and the signature (maybe empty)."""

    key_id: bytes
    content: DocumentContent
    signed_bytes: bytes
    signature: bytes

    def verify(self, public_key: ec.EllipticCurvePublicKey) -> None:
        """Check the signature with ``public_key``.

        Raises:
            UnsignedCodeError: the code carries no signature.
            BadSignatureError: the key's id or the signature does not match.
        """
        if not self.signature:
            raise UnsignedCodeError("the document code is not signed")
        if key_id(public_key) != self.key_id:
            raise BadSignatureError("the code names another key")
        try:
            public_key.verify(self.signature, self.signed_bytes, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature as exc:
            raise BadSignatureError("the signature does not match the content") from exc


def key_id(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The 8-byte id of a municipality's key (SHA-256 prefix of its DER SPKI)."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).digest()[:8]


def encode_code(content: DocumentContent, *, key: bytes, signature: bytes = b"") -> bytes:
    """Lay out a code; ``signature`` empty makes an unsigned one (tests, forgers)."""
    raw = content.canonical()
    if len(key) != 8 or len(raw) > 0xFFFF or len(signature) > _MAX_SIGNATURE:
        raise ValueError("key id, content or signature out of range")
    head = _HEADER.pack(CODE_MAGIC, CODE_VERSION, key, len(raw)) + raw
    code = head + bytes([len(signature)]) + signature
    if len(code) > MAX_CODE_BYTES:
        raise ValueError("the content is too long for one QR code")
    return code


def sign_content(content: DocumentContent, private_key: ec.EllipticCurvePrivateKey) -> bytes:
    """Return the signed code for ``content`` (ECDSA P-256, SHA-256)."""
    if not isinstance(private_key.curve, ec.SECP256R1):
        raise ValueError("document keys are ECDSA P-256")
    kid = key_id(private_key.public_key())
    unsigned = encode_code(content, key=kid)
    signed_bytes = unsigned[:-1]  # everything before the signature length
    signature = private_key.sign(signed_bytes, ec.ECDSA(hashes.SHA256()))
    return encode_code(content, key=kid, signature=signature)


def parse_code(data: bytes) -> SignedCode:
    """Parse a decoded code (total: every byte string either parses or is refused).

    Raises:
        CodeFormatError: wrong magic or version, lengths that do not add up,
            or content that is not canonical.
    """
    if len(data) < _HEADER.size + 1 or len(data) > MAX_CODE_BYTES:
        raise CodeFormatError("not a document code (bad length)")
    magic, version, kid, size = _HEADER.unpack_from(data)
    if magic != CODE_MAGIC:
        raise CodeFormatError("not a document code (bad magic)")
    if version != CODE_VERSION:
        raise CodeFormatError(f"unknown document code version {version}")
    end = _HEADER.size + size
    if end + 1 > len(data):
        raise CodeFormatError("the code's content is truncated")
    signature_size = data[end]
    if signature_size > _MAX_SIGNATURE or end + 1 + signature_size != len(data):
        raise CodeFormatError("the code's signature length does not match")
    content = decode_content(data[_HEADER.size : end])
    return SignedCode(
        key_id=kid,
        content=content,
        signed_bytes=data[:end],
        signature=data[end + 1 :],
    )
