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
from dataclasses import dataclass
from typing import Final

from host.client.models import AccountType, SessionPurpose

__all__ = [
    "CHALLENGE_DOMAIN",
    "STATEMENT_DOMAIN",
    "TransferStatement",
    "card_challenge_digest",
    "encode",
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


def _text(value: str) -> bytes:
    return unicodedata.normalize("NFC", value).encode("utf-8")


def card_challenge_digest(
    purpose: SessionPurpose, terminal_id: str, nonce: bytes, extra: Sequence[bytes] = ()
) -> bytes:
    """SHA-256 of the card challenge for a session (VerifyCard, PIN reset)."""
    fields = [
        (1, f"SESSION_PURPOSE_{purpose.value}".encode("ascii")),
        (2, _text(terminal_id)),
        (3, nonce),
    ]
    fields += [(4 + i, value) for i, value in enumerate(extra)]
    return hashlib.sha256(encode(CHALLENGE_DOMAIN, fields)).digest()


@dataclass(frozen=True)
class TransferStatement:
    """A transfer exactly as the card signs it and the verifier authorises it."""

    nonce: bytes
    terminal_id: str
    amount_yen: int
    payee_bank_code: str
    payee_branch_code: str
    payee_account_type: AccountType
    payee_account_number: str
    payee_name: str
    remitter_name: str
    remitter_phone: str

    def __post_init__(self) -> None:
        if not 1 <= self.amount_yen <= 999_999_999_999:
            raise ValueError("amount_yen must be 1 .. 999,999,999,999")

    def to_bytes(self) -> bytes:
        """The canonical encoding (tags 1-10 in order)."""
        return encode(
            STATEMENT_DOMAIN,
            [
                (1, self.nonce),
                (2, _text(self.terminal_id)),
                (3, str(self.amount_yen).encode("ascii")),
                (4, self.payee_bank_code.encode("ascii")),
                (5, self.payee_branch_code.encode("ascii")),
                (6, str(self.payee_account_type.code).encode("ascii")),
                (7, self.payee_account_number.encode("ascii")),
                (8, _text(self.payee_name)),
                (9, _text(self.remitter_name)),
                (10, self.remitter_phone.encode("ascii")),
            ],
        )

    def digest(self) -> bytes:
        """SHA-256 of the canonical encoding: what the signing key signs."""
        return hashlib.sha256(self.to_bytes()).digest()

    def to_dict(self) -> dict[str, object]:
        """JSON-able fields (the nonce as hex), for the journal."""
        return {
            "nonce": self.nonce.hex(),
            "terminal_id": self.terminal_id,
            "amount_yen": self.amount_yen,
            "payee_bank_code": self.payee_bank_code,
            "payee_branch_code": self.payee_branch_code,
            "payee_account_type": self.payee_account_type.value,
            "payee_account_number": self.payee_account_number,
            "payee_name": self.payee_name,
            "remitter_name": self.remitter_name,
            "remitter_phone": self.remitter_phone,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> TransferStatement:
        """Rebuild from :meth:`to_dict` output.

        Raises:
            ValueError, KeyError: the data is not a statement.
        """
        return cls(
            nonce=bytes.fromhex(str(data["nonce"])),
            terminal_id=str(data["terminal_id"]),
            amount_yen=int(str(data["amount_yen"])),
            payee_bank_code=str(data["payee_bank_code"]),
            payee_branch_code=str(data["payee_branch_code"]),
            payee_account_type=AccountType(str(data["payee_account_type"])),
            payee_account_number=str(data["payee_account_number"]),
            payee_name=str(data["payee_name"]),
            remitter_name=str(data["remitter_name"]),
            remitter_phone=str(data["remitter_phone"]),
        )
