# SPDX-License-Identifier: Apache-2.0
"""照合番号A and B: the card-face codes that open the two 券面 applications.

照合番号A is the 12-digit My Number; 照合番号B is 14 digits printed on the
card face: the birth date as a **Japanese-era** ``YYMMDD``, the card's
expiry year ``YYYY`` (Gregorian) and the 4-digit security code
(jpki-card.md §5; SOL confirmed the era form on a card, JRS's Gregorian
comment is contradicted there). Both live in the card-info AP (EF 0014/0015)
and in the card-surface AP (EF 0013/0012), each with its own counter.

A code that cannot be right would still cost a try if sent, so its format is
checked first, as the PINs are (``pin_policy``): digits and length, the My
Number's check digit for A, a plausible month and day for B. Messages name
the rule, never the code: both codes are secrets here, held in ``Secret``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from host.card import constants as c
from host.card.basic_four import my_number_check_digit
from host.errors import PinPolicyError
from host.secret import Secret

__all__ = [
    "CODE_RULES",
    "CodeKind",
    "CodeRule",
    "CodeTarget",
    "code_b",
    "era_yymmdd",
    "normalize_code",
]

#: Japanese era starts, newest first (令和, 平成, 昭和, 大正, 明治). The era
#: year counts from 1 in the year the era began.
_ERA_STARTS: Final = (
    dt.date(2019, 5, 1),
    dt.date(1989, 1, 8),
    dt.date(1926, 12, 25),
    dt.date(1912, 7, 30),
    dt.date(1868, 10, 23),
)


class CodeKind(StrEnum):
    """Which card-face code is given."""

    A = "code-a"  # 照合番号A: the My Number
    B = "code-b"  # 照合番号B: era birth date, expiry year, security code


class CodeTarget(StrEnum):
    """The application whose copy of the code is verified (separate counters)."""

    SURFACE = "surface"  # 券面事項確認AP
    TEXT = "text"  # 券面事項入力補助AP

    @property
    def aid(self) -> bytes:
        """The application's AID."""
        return c.SURFACE_AID if self is CodeTarget.SURFACE else c.TEXT_AID

    def fid(self, kind: CodeKind) -> int:
        """The code's internal EF in this application (§3.2, §3.3)."""
        if self is CodeTarget.SURFACE:
            return c.SURFACE_FID_CODE_A if kind is CodeKind.A else c.SURFACE_FID_CODE_B
        return c.TEXT_FID_CODE_A if kind is CodeKind.A else c.TEXT_FID_CODE_B


@dataclass(frozen=True)
class CodeRule:
    """What the card accepts for one code.

    Attributes:
        length: the number of ASCII digits.
        max_tries: the counter's start value. UNCONFIRMED for both codes
            (§5, §10): 10, as a vendor note quoted second-hand says for B.
        name: what staff call the code.
    """

    length: int
    max_tries: int
    name: str


CODE_RULES: Final = {
    CodeKind.A: CodeRule(12, 10, "照合番号A (My Number)"),
    CodeKind.B: CodeRule(14, 10, "照合番号B"),
}


def normalize_code(kind: CodeKind, secret: Secret) -> bytes:
    """Check ``secret`` against ``kind``'s format and return the bytes to send.

    Raises:
        PinPolicyError: the format is wrong; the message names the rule only.
        TypeError: ``secret`` is not a ``Secret``.
        ValueError: ``secret`` was wiped.
    """
    if not isinstance(secret, Secret):
        raise TypeError("a code must be passed as a host.secret.Secret")
    rule = CODE_RULES[kind]
    raw = secret.reveal()
    if len(raw) != rule.length or not all(0x30 <= b <= 0x39 for b in raw):
        raise PinPolicyError(f"{rule.name} must be {rule.length} digits")
    if kind is CodeKind.A:
        text = raw.decode("ascii")
        if my_number_check_digit(text[:11]) != int(text[11]):
            raise PinPolicyError(f"{rule.name}: the check digit does not match")
        return raw
    month, day = int(raw[2:4]), int(raw[4:6])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise PinPolicyError(f"{rule.name} must start with an era birth date YYMMDD")
    return raw


def era_yymmdd(date: dt.date) -> str:
    """Return ``date`` as Japanese-era ``YYMMDD`` (1980-02-17, 昭和55 → ``550217``).

    Raises:
        ValueError: ``date`` is before the Meiji era.
    """
    for start in _ERA_STARTS:
        if date >= start:
            return f"{date.year - start.year + 1:02d}{date.month:02d}{date.day:02d}"
    raise ValueError("dates before the Meiji era have no era year")


def code_b(birth_date: dt.date, expiry_year: int, security_code: str) -> Secret:
    """Compose 照合番号B from what is printed on the card face.

    Raises:
        ValueError: the security code is not 4 digits, or the year not 4 digits
            (the messages do not echo the values).
    """
    if len(security_code) != 4 or not security_code.isascii() or not security_code.isdigit():
        raise ValueError("the security code is 4 digits")
    if not 1000 <= expiry_year <= 9999:
        raise ValueError("the expiry year is 4 digits")
    return Secret.from_text(f"{era_yymmdd(birth_date)}{expiry_year:04d}{security_code}")
