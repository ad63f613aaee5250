# SPDX-License-Identifier: Apache-2.0
"""The terminal side of the canonical encodings a card signs (verifier/README.md).

The verifier defines "Canonical encodings v1" as a language-independent
byte format precisely so that other systems rebuild the bytes themselves; the
agent does so here instead of importing ``verifier`` (STYLE §1: ``protos`` and
the documented encodings are the only contract between the processes). The
golden vector of the README is checked in the tests.

    encoding = DOMAIN (ASCII) || 0x0A || field*
    field    = tag (1 byte) || length (4 bytes, big-endian) || value
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Final

from host.client.models import SessionPurpose

__all__ = [
    "CHALLENGE_DOMAIN",
    "STATEMENT_DOMAIN",
    "card_challenge_digest",
    "encode",
    "text",
]

CHALLENGE_DOMAIN: Final = "MYNA-EDGE/CARD-CHALLENGE/1"
STATEMENT_DOMAIN: Final = "MYNA-EDGE/TRANSFER-STATEMENT/1"


def encode(domain: str, fields: Iterable[tuple[int, bytes]]) -> bytes:
    """Encode ``(tag, value)`` fields under ``domain``.

    Raises:
        ValueError: tags not strictly increasing in 1..255.
    """
    out = bytearray(domain.encode("ascii") + b"\n")
    last = 0
    for tag, value in fields:
        if not last < tag <= 0xFF:
            raise ValueError("field tags must be strictly increasing in 1..255")
        out += bytes([tag]) + len(value).to_bytes(4, "big") + value
        last = tag
    return bytes(out)


def text(value: str) -> bytes:
    """A text field's bytes: NFC-normalised UTF-8 (the card signs one form of a name)."""
    return unicodedata.normalize("NFC", value).encode("utf-8")


def card_challenge_digest(
    purpose: SessionPurpose, terminal_id: str, nonce: bytes, extra: Sequence[bytes] = ()
) -> bytes:
    """SHA-256 of the card challenge for a session (VerifyCard, PIN reset)."""
    fields = [
        (1, f"SESSION_PURPOSE_{purpose.value}".encode("ascii")),
        (2, text(terminal_id)),
        (3, nonce),
    ]
    fields += [(4 + i, value) for i, value in enumerate(extra)]
    return hashlib.sha256(encode(CHALLENGE_DOMAIN, fields)).digest()
