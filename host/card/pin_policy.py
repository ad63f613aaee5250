# SPDX-License-Identifier: Apache-2.0
"""The card's three secrets and their rules, checked before anything is sent.

A PIN that cannot be right (wrong length, a letter in a 4-digit PIN) would
still cost a try if sent, and a blocked JPKI secret means a trip to the
municipal office or the kiosk reset flow. So the driver checks the rules of
jpki-card.md §5 first and sends nothing when they fail. The signing password
is upper-cased first, as clients do (MYNA, MYNA-go, NFCPY), so a user who
types lower case is not punished. Messages name the rule, never the PIN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from host.card import constants as c
from host.errors import PinPolicyError
from host.secret import Secret

__all__ = ["PIN_RULES", "PinKind", "PinRule", "check_pin", "normalize_pin"]

_DIGITS: Final = frozenset(b"0123456789")
_UPPER: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True)
class PinRule:
    """What the card accepts for one secret.

    Attributes:
        min_length, max_length: bounds on the number of characters.
        alphabet: the allowed ASCII bytes.
        max_tries: the retry counter's start value.
        upper_case: fold a-z to A-Z before checking and sending.
        name: what users call the secret.
        format: the rule in words, for messages.
    """

    min_length: int
    max_length: int
    alphabet: frozenset[int]
    max_tries: int
    upper_case: bool
    name: str
    format: str


class PinKind(StrEnum):
    """The three secrets this driver handles (jpki-card.md §5)."""

    AUTH = "auth"  # 利用者証明用 PIN: JPKI EF 0018
    SIGN = "sign"  # 署名用パスワード: JPKI EF 001B
    TEXT = "text"  # 券面事項入力補助用暗証番号: card-info AP EF 0011

    @property
    def rule(self) -> PinRule:
        """The card's rule for this secret."""
        return PIN_RULES[self]

    @property
    def max_tries(self) -> int:
        """The counter's start value (3 or 5)."""
        return PIN_RULES[self].max_tries

    @property
    def description(self) -> str:
        """The secret and its format in words, for prompts and reports."""
        rule = PIN_RULES[self]
        return f"{rule.name}, {rule.format}"

    @property
    def aid(self) -> bytes:
        """The application holding this secret."""
        return c.TEXT_AID if self is PinKind.TEXT else c.JPKI_AID

    @property
    def fid(self) -> int:
        """The secret's internal EF, which VERIFY with P2=80 refers to."""
        return _FIDS[self]


_FIDS: Final = MappingProxyType(
    {PinKind.AUTH: c.FID_AUTH_PIN, PinKind.SIGN: c.FID_SIGN_PIN, PinKind.TEXT: c.FID_TEXT_PIN}
)

PIN_RULES: Final[Mapping[PinKind, PinRule]] = MappingProxyType(
    {
        PinKind.AUTH: PinRule(4, 4, _DIGITS, 3, False, "user-authentication PIN", "4 digits"),
        PinKind.SIGN: PinRule(
            6, 16, _DIGITS | _UPPER, 5, True, "signing password", "6-16 characters A-Z 0-9"
        ),
        PinKind.TEXT: PinRule(4, 4, _DIGITS, 3, False, "card-info PIN", "4 digits"),
    }
)


def normalize_pin(kind: PinKind, secret: Secret, *, new: bool = False) -> bytes:
    """Check ``secret`` against ``kind``'s rule and return the bytes to send.

    Args:
        kind: which secret this is.
        secret: the value as entered.
        new: the value is to become the new secret; a new signing password
            must then also hold at least one letter and one digit (official
            pages, natori in §5). An existing one is checked for length and
            alphabet only, so a card set under older rules still works.

    Raises:
        PinPolicyError: the rule is broken; the message names the rule only.
        TypeError: ``secret`` is not a ``Secret``.
        ValueError: ``secret`` was wiped.
    """
    if not isinstance(secret, Secret):
        raise TypeError("a PIN must be passed as a host.secret.Secret")
    rule = PIN_RULES[kind]
    raw = secret.reveal()
    if rule.upper_case:
        raw = raw.upper()  # bytes.upper folds ASCII letters only
    if not rule.min_length <= len(raw) <= rule.max_length or not set(raw) <= rule.alphabet:
        raise PinPolicyError(f"the {rule.name} must be {rule.format}")
    if new and kind is PinKind.SIGN and not (set(raw) & _DIGITS and set(raw) & _UPPER):
        raise PinPolicyError(f"a new {rule.name} must hold at least one letter and one digit")
    return raw


def check_pin(kind: PinKind, secret: Secret, *, new: bool = False) -> None:
    """Raise ``PinPolicyError`` unless ``secret`` follows ``kind``'s rule.

    See :func:`normalize_pin` for the arguments and errors.
    """
    normalize_pin(kind, secret, new=new)
