# SPDX-License-Identifier: Apache-2.0
"""The typed events a flow emits, for the touchscreen, the ATM application and the API.

Shaped after XFS4IoT's event stream (docs/terminal-api.md §1): prompts say
what the user must do and how many tries are left; a warning comes before
the last try; a key on the secure PIN pad is reported by what it did and
the length so far (never its value); "working" marks a long step; the card
must be removed; what was presented (card, Android, iPhone: ``CredentialPresented``,
the kind only, never an identifier); and every flow ends with exactly one ``FlowResult``
(preceded by ``FlowFailed`` when it did not complete). Events carry no
secret and no personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from host.card import CredentialKind, UserVerification
from host.messages import UserText

__all__ = [
    "CredentialPresented",
    "Event",
    "FlowFailed",
    "FlowResult",
    "LastTryWarning",
    "Outcome",
    "PadKey",
    "PadKeyAction",
    "PaymentInserted",
    "Prompt",
    "PromptKind",
    "RemoveCard",
    "Working",
]


class PromptKind(StrEnum):
    """What a prompt asks for."""

    INSERT_CARD = "insert_card"
    CONFIRM_STATEMENT = "confirm_statement"
    SIGNING_PASSWORD = "signing_password"  # noqa: S105 - a prompt name, not a secret
    AUTH_PIN = "auth_pin"
    CARD_INFO_PIN = "card_info_pin"
    ONE_TIME_PASSWORD = "one_time_password"  # noqa: S105 - a prompt name
    NEW_SECRET = "new_secret"  # noqa: S105 - a prompt name
    CONFIRM_MONEY_MOVED = "confirm_money_moved"
    # certificate issuance (MFP)
    CONFIRM_FEE = "confirm_fee"  # the document and its fee: agree to pay
    INSERT_PAYMENT = "insert_payment"  # display only: the payment device answers
    TAKE_DOCUMENT = "take_document"  # display only: the printed document (取り忘れ注意)
    # smartphones: display only, the phone answers (side button + Face ID)
    APPROVE_ON_PHONE = "approve_on_phone"


class Outcome(StrEnum):
    """How a flow ended."""

    COMPLETED = "completed"
    REFUSED = "refused"  # the verifier said no (revoked card, ...)
    CANCELLED = "cancelled"
    FAILED = "failed"  # timeout, card removed, verifier unreachable, device error


@dataclass(frozen=True)
class Prompt:
    """The user must act; ``tries_left`` is set for secrets the card counts.

    ``text`` is English; ``message`` (when set) is the key and both languages
    from ``host.messages`` (the API falls back to the kind's default prompt).
    """

    kind: PromptKind
    text: str = ""
    tries_left: int | None = None
    last_try: bool = False
    message: UserText | None = None


@dataclass(frozen=True)
class LastTryWarning:
    """Emitted before prompting for a secret that has one try left."""

    kind: PromptKind
    tries_left: int = 1


class PadKeyAction(StrEnum):
    """What a key on the secure PIN pad did to the entry (the board's ENTRY_KEY)."""

    PRESSED = "pressed"  # a character added (or, multi-tap, the pending letter changed)
    DELETED = "deleted"
    REFUSED = "refused"  # full, not a key of this entry, or ENTER too early


@dataclass(frozen=True)
class PadKey:
    """A key on the secure PIN pad during an entry: what it did, never which key.

    Why an event: a person typing on the pad does nothing the screen sees,
    so without it the touchscreen's idle timer clears the screen mid-entry
    (issue 24, WCAG 2.2.1), and a screen reader cannot say how many
    characters are in. ``length`` is the count entered so far; no key value
    exists anywhere in the event.
    """

    action: PadKeyAction
    length: int


@dataclass(frozen=True)
class CredentialPresented:
    """What the person presented, learnt from its answers (issue 15).

    Why an event: the screen words its next prompt by it ("authenticate on
    your phone" instead of a PIN pad), and the application records which
    credential a transaction used; a card and the same person's phone are
    different credentials. The kind only: no identifier, no personal data.
    """

    kind: CredentialKind
    verification: UserVerification


@dataclass(frozen=True)
class Working:
    """A step is under way (card command, verifier call, printing)."""

    step: str


@dataclass(frozen=True)
class RemoveCard:
    """The user should take the card now."""


@dataclass(frozen=True)
class PaymentInserted:
    """Money went into the payment device while the fee is collected (display only).

    ``inserted_yen`` is everything in so far, so a screen shows it and what
    is still missing (``fee_yen - inserted_yen``) without counting coins.
    """

    fee_yen: int
    inserted_yen: int


@dataclass(frozen=True)
class FlowFailed:
    """The flow stops short; ``code`` is stable (``card_removed``, ``timeout``...)."""

    code: str
    message: str


@dataclass(frozen=True)
class FlowResult:
    """The one final event of a flow run."""

    flow: str
    outcome: Outcome
    reference: str = ""
    reason: str = ""


Event = (
    Prompt
    | LastTryWarning
    | PadKey
    | CredentialPresented
    | Working
    | RemoveCard
    | PaymentInserted
    | FlowFailed
    | FlowResult
)
