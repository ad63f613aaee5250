# SPDX-License-Identifier: Apache-2.0
"""The transfer statement: what an ATM application asks for, and what the card signs.

Why one type in two steps: the ATM application's request and the statement
the card signs are the same eight fields; only the session's nonce and this
terminal's id, which the flow alone knows, are added when the statement is
made. So ``TransferStatement`` *is* a ``TransferRequest`` bound to a session
(``TransferRequest.bind`` is the one way to make one from a request), the
fields and their rules are declared once, and the API can refuse a bad
request (naming the field, ``TransferFieldError``) before any flow runs.

The statement's bytes are "Canonical encodings v1" (verifier/README.md),
rebuilt here from the documented format rather than imported from the
verifier (STYLE §1); the golden vector is checked in the tests.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Final

from host.client.canonical import STATEMENT_DOMAIN, encode, text
from host.client.models import AccountType

__all__ = ["TransferFieldError", "TransferRequest", "TransferStatement"]

#: The amounts a statement may carry (the verifier enforces the same range).
_AMOUNT_RANGE: Final = range(1, 1_000_000_000_000)
#: Fields that are fixed-length ASCII digits, and their lengths.
_DIGIT_FIELDS: Final = {"payee_bank_code": 4, "payee_branch_code": 3, "payee_account_number": 7}
#: Fields that are names, and their length limits in characters.
_NAME_FIELDS: Final = ("payee_name", "remitter_name")
_NAME_LENGTH: Final = range(1, 49)


class TransferFieldError(ValueError):
    """A field of a transfer request is out of format; ``field`` names it."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field


@dataclass(frozen=True, kw_only=True)
class TransferRequest:
    """What the ATM application asks for: a transfer not yet bound to a session.

    Raises:
        TransferFieldError: a field is out of format (the first one found);
            nothing else runs.
    """

    amount_yen: int
    payee_bank_code: str
    payee_branch_code: str
    payee_account_type: AccountType
    payee_account_number: str
    payee_name: str
    remitter_name: str
    remitter_phone: str

    def __post_init__(self) -> None:
        if self.amount_yen not in _AMOUNT_RANGE:
            raise TransferFieldError("amount_yen", "must be 1 .. 999,999,999,999")
        for name, length in _DIGIT_FIELDS.items():
            value = getattr(self, name)
            if len(value) != length or not value.isascii() or not value.isdigit():
                raise TransferFieldError(name, f"must be exactly {length} ASCII digits")
        for name in _NAME_FIELDS:
            if len(getattr(self, name)) not in _NAME_LENGTH:
                raise TransferFieldError(name, "1-48 characters required")
        try:
            AccountType(self.payee_account_type)
        except ValueError:
            raise TransferFieldError("payee_account_type", "ORDINARY, CURRENT or SAVINGS") from None

    def bind(self, *, nonce: bytes, terminal_id: str) -> TransferStatement:
        """The statement the card signs: this request bound to a session and a terminal."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(TransferRequest)}
        return TransferStatement(nonce=nonce, terminal_id=terminal_id, **fields)


@dataclass(frozen=True, kw_only=True)
class TransferStatement(TransferRequest):
    """A transfer exactly as the card signs it and the verifier authorises it."""

    nonce: bytes
    terminal_id: str

    def to_bytes(self) -> bytes:
        """The canonical encoding (tags 1-10 in order)."""
        return encode(
            STATEMENT_DOMAIN,
            [
                (1, self.nonce),
                (2, text(self.terminal_id)),
                (3, str(self.amount_yen).encode("ascii")),
                (4, self.payee_bank_code.encode("ascii")),
                (5, self.payee_branch_code.encode("ascii")),
                (6, str(self.payee_account_type.code).encode("ascii")),
                (7, self.payee_account_number.encode("ascii")),
                (8, text(self.payee_name)),
                (9, text(self.remitter_name)),
                (10, self.remitter_phone.encode("ascii")),
            ],
        )

    def digest(self) -> bytes:
        """SHA-256 of the canonical encoding: what the signing key signs."""
        return hashlib.sha256(self.to_bytes()).digest()

    def to_dict(self) -> dict[str, object]:
        """JSON-able fields (the nonce as hex), for the journal."""
        data: dict[str, object] = dataclasses.asdict(self)
        data["nonce"] = self.nonce.hex()
        data["payee_account_type"] = self.payee_account_type.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> TransferStatement:
        """Rebuild from :meth:`to_dict` output.

        Raises:
            ValueError, KeyError: the data is not a statement.
        """
        request = TransferRequest(
            amount_yen=int(str(data["amount_yen"])),
            payee_bank_code=str(data["payee_bank_code"]),
            payee_branch_code=str(data["payee_branch_code"]),
            payee_account_type=AccountType(str(data["payee_account_type"])),
            payee_account_number=str(data["payee_account_number"]),
            payee_name=str(data["payee_name"]),
            remitter_name=str(data["remitter_name"]),
            remitter_phone=str(data["remitter_phone"]),
        )
        return request.bind(
            nonce=bytes.fromhex(str(data["nonce"])), terminal_id=str(data["terminal_id"])
        )
