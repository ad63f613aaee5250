# SPDX-License-Identifier: Apache-2.0
"""The basic four items and the My Number, parsed from card-info AP files.

EF 0002 holds ``FF 20 { DF21 offsets, DF22 name, DF23 address, DF24 birth
date, DF25 sex }`` and EF 0001 holds ``FF 10 0C`` + 12 digits (jpki-card.md
§3.2). Both are personal data: the types here redact their reprs, and the
parsers' errors describe structure only, never content. The DF21 offsets are
checked against where the tags really are, and the My Number's check digit is
validated, so a corrupted read fails loudly instead of yielding a wrong person.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from host.card import constants as c
from host.errors import DataFormatError
from host.tlv import Tlv, parse_one

__all__ = [
    "MY_NUMBER_LENGTH",
    "SEX_CODES",
    "BasicFour",
    "my_number_check_digit",
    "parse_basic_four",
    "parse_birth_date",
    "parse_my_number",
]

MY_NUMBER_LENGTH: Final = 12
#: DF25 codes (ISO/IEC 5218): 0 unknown, 1 male, 2 female, 9 not applicable.
SEX_CODES: Final = frozenset({"0", "1", "2", "9"})
_ITEM_TAGS: Final = (c.TAG_BF_NAME, c.TAG_BF_ADDRESS, c.TAG_BF_BIRTH_DATE, c.TAG_BF_SEX)


@dataclass(frozen=True, repr=False)
class BasicFour:
    """基本4情報: name, address, birth date and sex, as the card holds them.

    Attributes:
        name: 氏名; family and given name separated by U+3000.
        address: 住所, with full-width digits.
        birth_date: Gregorian birth date.
        sex: one ISO/IEC 5218 digit (see ``SEX_CODES``).
    """

    name: str
    address: str
    birth_date: dt.date
    sex: str

    def __repr__(self) -> str:
        return "BasicFour(<redacted>)"

    __str__ = __repr__


def parse_birth_date(text: str) -> dt.date:
    """Parse ``YYYYMMDD`` (8 ASCII digits).

    Raises:
        DataFormatError: not 8 digits or not a real date.
    """
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        raise DataFormatError("birth date is not 8 digits")
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise DataFormatError("birth date is not a valid date") from None


def _text(item: Tlv, what: str) -> str:
    try:
        return item.value.decode("utf-8")
    except UnicodeDecodeError:
        raise DataFormatError(f"{what} is not UTF-8") from None


def parse_basic_four(raw: bytes) -> BasicFour:
    """Parse EF 0002 of the card-info AP (``FF`` filler after the object is fine).

    Raises:
        DataFormatError: wrong tags, missing items, DF21 offsets that do not
            point at the items, or undecodable values.
    """
    outer = parse_one(raw)
    if outer.tag != c.TAG_BASIC_FOUR:
        raise DataFormatError(f"basic-four file starts with tag {outer.tag:X}, not FF20")
    children = outer.children()
    by_tag: dict[int, Tlv] = {}
    for item in children:
        by_tag.setdefault(item.tag, item)
    missing = [tag for tag in (c.TAG_BF_OFFSETS, *_ITEM_TAGS) if tag not in by_tag]
    if missing:
        raise DataFormatError("basic-four file lacks " + ", ".join(f"{t:X}" for t in missing))
    offsets = by_tag[c.TAG_BF_OFFSETS].value
    if len(offsets) != 2 * len(_ITEM_TAGS):
        raise DataFormatError(f"DF21 holds {len(offsets)} bytes, not 8")
    for index, tag in enumerate(_ITEM_TAGS):
        # Offsets count from the first byte of the file (§3.2).
        pointed = int.from_bytes(offsets[2 * index : 2 * index + 2], "big")
        if pointed != by_tag[tag].offset:
            raise DataFormatError(f"DF21 offset for {tag:X} does not point at it")
    sex = _text(by_tag[c.TAG_BF_SEX], "sex")
    if len(sex) != 1 or not sex.isascii() or not sex.isdigit():
        raise DataFormatError("sex is not one digit")
    return BasicFour(
        name=_text(by_tag[c.TAG_BF_NAME], "name"),
        address=_text(by_tag[c.TAG_BF_ADDRESS], "address"),
        birth_date=parse_birth_date(_text(by_tag[c.TAG_BF_BIRTH_DATE], "birth date")),
        sex=sex,
    )


def my_number_check_digit(first_eleven: str) -> int:
    """Return the check digit for the first 11 digits of a My Number.

    With p_n the n-th digit counted from the right (n = 1..11) and q_n = n+1
    for n <= 6, else n-5: r = sum(p_n * q_n) mod 11, and the check digit is
    0 when r <= 1, else 11 - r.

    Raises:
        ValueError: not 11 ASCII digits.
    """
    if len(first_eleven) != 11 or not first_eleven.isascii() or not first_eleven.isdigit():
        raise ValueError("expected 11 ASCII digits")
    total = 0
    for n, char in enumerate(reversed(first_eleven), start=1):
        total += int(char) * (n + 1 if n <= 6 else n - 5)
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def parse_my_number(raw: bytes) -> str:
    """Parse EF 0001 of the card-info AP: ``FF 10 0C`` + 12 digits (+ filler).

    Raises:
        DataFormatError: wrong tag or length, non-digits, or a bad check digit.
    """
    item = parse_one(raw)
    if item.tag != c.TAG_MY_NUMBER:
        raise DataFormatError(f"My Number file starts with tag {item.tag:X}, not FF10")
    value = item.value
    if len(value) != MY_NUMBER_LENGTH or not all(0x30 <= b <= 0x39 for b in value):
        raise DataFormatError("My Number is not 12 ASCII digits")
    number = value.decode("ascii")
    if my_number_check_digit(number[:11]) != int(number[11]):
        raise DataFormatError("My Number check digit does not match")
    return number
