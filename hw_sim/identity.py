# SPDX-License-Identifier: Apache-2.0
"""The people the simulator issues cards to.

A ``Person`` is what the municipality knows about a card holder: the basic
four items as printed on the card face and written into the chip, plus the
My Number and the municipality. The test PKI puts these into signing
certificates and the virtual card into its card-info application, so both
read from one record and can never disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Person", "Sex"]


class Sex(StrEnum):
    """Sex codes as the card-info AP stores them (DF25, one ASCII digit).

    Values follow ISO/IEC 5218, as the card does (jpki-card.md §3.2).
    """

    UNKNOWN = "0"
    MALE = "1"
    FEMALE = "2"
    NOT_APPLICABLE = "9"


@dataclass(frozen=True)
class Person:
    """A card holder.

    Attributes:
        name: 氏名 as registered: family and given name separated by U+3000
            for Japanese names; a foreign resident's alphabet name as written
            in the residence record (``SMITH JOHN``).
        address: 住所, with full-width digits as the card stores it.
        birth_date: Gregorian birth date.
        sex: ISO/IEC 5218 code.
        my_number: the 12-digit individual number (check digit included).
        municipality: the issuing municipality in romaji, as the signing
            certificate's locality (``Chiyoda-ku``).
        municipality_code: the 6-digit local government code.
    """

    name: str
    address: str
    birth_date: dt.date
    sex: Sex
    my_number: str
    municipality: str
    municipality_code: str

    def __post_init__(self) -> None:
        if len(self.my_number) != 12 or not self.my_number.isdigit():
            raise ValueError("my_number must be 12 ASCII digits")
        if not self.name or not self.address:
            raise ValueError("name and address must not be empty")

    def __repr__(self) -> str:
        # Personal data stays out of reprs (STYLE §7): tracebacks and logs of
        # tests would otherwise carry names and My Numbers.
        return "Person(<redacted>)"
