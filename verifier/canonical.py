# SPDX-License-Identifier: Apache-2.0
"""Canonical byte encodings of what a card signs: challenges and transfer statements.

Why a home-made encoding and not protobuf bytes: protobuf serialisation is not
canonical across languages and versions, and a bank's own system (in Java,
Go, COBOL...) must rebuild exactly the bytes the card signed from the fields
it already has. The rules are in ``verifier/README.md`` ("Canonical
encodings v1") and are short enough to implement anywhere:

    encoding = DOMAIN (ASCII) || 0x0A || field*
    field    = tag (1 byte) || length (4 bytes, big-endian) || value

Fields appear once each, in increasing tag order; text is UTF-8 (NFC),
numbers are ASCII decimal without sign or leading zeros. The card signs
``SHA-256(encoding)`` with RSASSA-PKCS1-v1_5.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "CHALLENGE_DOMAIN",
    "STATEMENT_DOMAIN",
    "TransferFields",
    "card_challenge",
    "card_challenge_digest",
    "encode",
    "statement_bytes",
    "statement_digest",
]

CHALLENGE_DOMAIN: Final = "MYNA-EDGE/CARD-CHALLENGE/1"
STATEMENT_DOMAIN: Final = "MYNA-EDGE/TRANSFER-STATEMENT/1"


def encode(domain: str, fields: Iterable[tuple[int, bytes]]) -> bytes:
    """Encode ``fields`` (tag, value) under ``domain`` (rules in the module doc).

    Raises:
        ValueError: tags not strictly increasing in 1..255, or a value over 2^32-1.
    """
    out = bytearray(domain.encode("ascii") + b"\n")
    last = 0
    for tag, value in fields:
        if not last < tag <= 0xFF:
            raise ValueError("field tags must be strictly increasing in 1..255")
        if len(value) > 0xFFFFFFFF:
            raise ValueError("a field value is limited to 2^32-1 bytes")
        out += bytes([tag]) + len(value).to_bytes(4, "big") + value
        last = tag
    return bytes(out)


def _text(value: str) -> bytes:
    return unicodedata.normalize("NFC", value).encode("utf-8")


def card_challenge(
    purpose: str, terminal_id: str, nonce: bytes, extra: Sequence[bytes] = ()
) -> bytes:
    """The bytes a card signs to prove itself to a session (VerifyCard, PIN reset).

    ``purpose`` is the proto enum name, e.g. ``SESSION_PURPOSE_CARD_VERIFICATION``.
    ``extra`` values follow as tags 4, 5, ...: RedeemReset binds the card id
    and the card's GET CHALLENGE answer this way.
    """
    fields = [(1, purpose.encode("ascii")), (2, _text(terminal_id)), (3, nonce)]
    fields += [(4 + i, value) for i, value in enumerate(extra)]
    return encode(CHALLENGE_DOMAIN, fields)


def card_challenge_digest(
    purpose: str, terminal_id: str, nonce: bytes, extra: Sequence[bytes] = ()
) -> bytes:
    """SHA-256 of ``card_challenge``: what goes to COMPUTE DIGITAL SIGNATURE."""
    return hashlib.sha256(card_challenge(purpose, terminal_id, nonce, extra)).digest()


@dataclass(frozen=True)
class TransferFields:
    """The fields of a transfer statement, in canonical order (tags 1-10)."""

    nonce: bytes
    terminal_id: str
    amount_yen: int
    payee_bank_code: str
    payee_branch_code: str
    payee_account_type: int
    payee_account_number: str
    payee_name: str
    remitter_name: str
    remitter_phone: str


def statement_bytes(fields: TransferFields) -> bytes:
    """The canonical encoding of a transfer statement.

    Raises:
        ValueError: a negative amount or account type.
    """
    if fields.amount_yen < 0 or fields.payee_account_type < 0:
        raise ValueError("amount and account type are non-negative")
    return encode(
        STATEMENT_DOMAIN,
        [
            (1, fields.nonce),
            (2, _text(fields.terminal_id)),
            (3, str(fields.amount_yen).encode("ascii")),
            (4, fields.payee_bank_code.encode("ascii")),
            (5, fields.payee_branch_code.encode("ascii")),
            (6, str(fields.payee_account_type).encode("ascii")),
            (7, fields.payee_account_number.encode("ascii")),
            (8, _text(fields.payee_name)),
            (9, _text(fields.remitter_name)),
            (10, fields.remitter_phone.encode("ascii")),
        ],
    )


def statement_digest(fields: TransferFields) -> bytes:
    """SHA-256 of the canonical statement: what the signing key signs."""
    return hashlib.sha256(statement_bytes(fields)).digest()
