# SPDX-License-Identifier: Apache-2.0
"""What an ATM application asks a transfer for, its steps, and how it ended.

Apart from the flow so that the API can check a request (and name the
offending field, ``TransferFieldError``) without the flow's machinery, and
so that the outcome's meaning (``identity_verified``, ``receipt_lines``) is
read in one place.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum

from host.client import AccountType, TransferState, TransferStatement
from host.flows.events import Outcome

__all__ = ["TransferFieldError", "TransferOutcome", "TransferRequest", "TransferStep"]


class TransferStep(StrEnum):
    """The states of the transfer flow."""

    START = "start"
    SESSION = "session"
    CONFIRM_STATEMENT = "confirm_statement"
    WAIT_CARD = "wait_card"
    ENTER_PASSWORD = "enter_password"  # noqa: S105 - a state name
    SIGNING = "signing"
    AUTHORIZING = "authorizing"
    CONFIRM_MONEY = "confirm_money"
    COMMITTING = "committing"
    REVERSING = "reversing"
    PRINTING = "printing"
    REMOVE_CARD = "remove_card"
    DONE = "done"
    FAILED = "failed"


class TransferFieldError(ValueError):
    """A field of the ATM application's request is out of format; ``field`` names it."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field


@dataclass(frozen=True, kw_only=True)
class TransferRequest:
    """What the ATM application asks for: the statement without its session binding.

    These are ``TransferStatement``'s fields less ``nonce`` and
    ``terminal_id``, which only the flow knows (the verifier's session and
    this ATM); ``bind`` adds them and is the one way a statement is made
    from a request. The statement's own rules (the amount's range) stay the
    statement's: the request checks formats the statement does not, and
    names the offending field for the API's ``invalid_field``.
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
        # Bad input from the ATM application is refused before anything runs.
        # Raises TransferFieldError (a ValueError) naming the first bad field.
        try:  # the statement's rule, asked of an unbound probe
            self.bind(nonce=b"", terminal_id="")
        except ValueError:
            raise TransferFieldError("amount_yen", "must be 1 .. 999,999,999,999") from None
        digits = {"payee_bank_code": 4, "payee_branch_code": 3, "payee_account_number": 7}
        for name, length in digits.items():
            value = getattr(self, name)
            if len(value) != length or not value.isascii() or not value.isdigit():
                raise TransferFieldError(name, f"must be exactly {length} ASCII digits")
        if not 1 <= len(self.payee_name) <= 48:
            raise TransferFieldError("payee_name", "1-48 characters required")
        if not 1 <= len(self.remitter_name) <= 48:
            raise TransferFieldError("remitter_name", "1-48 characters required")
        try:
            AccountType(self.payee_account_type)
        except ValueError:
            raise TransferFieldError("payee_account_type", "ORDINARY, CURRENT or SAVINGS") from None

    def bind(self, *, nonce: bytes, terminal_id: str) -> TransferStatement:
        """The statement the card signs: this request bound to a session and a terminal.

        Raises:
            ValueError: the statement refuses a field (the amount's range).
        """
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return TransferStatement(nonce=nonce, terminal_id=terminal_id, **fields)


@dataclass(frozen=True)
class TransferOutcome:
    """How a transfer run ended."""

    outcome: Outcome
    op_id: str
    authorization_id: str = ""
    state: TransferState = TransferState.UNSPECIFIED
    reason: str = ""
    #: The verifier checked the card holder's signature over this statement
    #: (certificate chain, revocation, signature) and recorded it. Set as
    #: soon as the authorisation says so and kept whatever follows (declined,
    #: cancelled, reversed): it says who was identified, not whether money moved.
    identity_verified: bool = False
    receipt_printed: bool = False
    #: The receipt's lines (committed transfers), for ATMs that print themselves.
    receipt_lines: tuple[str, ...] = ()

    @property
    def reference(self) -> str:
        """The authorisation id (empty when nothing was authorised)."""
        return self.authorization_id
