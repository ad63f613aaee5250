# SPDX-License-Identifier: Apache-2.0
"""A transfer's steps, and how it ended.

Apart from the flow so that the outcome's meaning (``identity_verified``,
``receipt_lines``) is read in one place. The request itself and its rules
are the statement's (``host.client.statement``): one type, declared once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from host.client import TransferFieldError, TransferRequest, TransferState
from host.flows.events import Outcome

__all__ = ["TransferFieldError", "TransferOutcome", "TransferRequest", "TransferStep"]


class TransferStep(StrEnum):
    """The states of the transfer flow."""

    START = "start"
    SESSION = "session"
    CONFIRM_STATEMENT = "confirm_statement"
    WAIT_CARD = "wait_card"
    ENTER_PASSWORD = "enter_password"  # noqa: S105 - a state name
    APPROVE_ON_PHONE = "approve_on_phone"  # the phone verifies its holder instead
    SIGNING = "signing"
    AUTHORIZING = "authorizing"
    CONFIRM_MONEY = "confirm_money"
    COMMITTING = "committing"
    REVERSING = "reversing"
    PRINTING = "printing"
    REMOVE_CARD = "remove_card"
    DONE = "done"
    FAILED = "failed"


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
