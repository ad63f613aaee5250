# SPDX-License-Identifier: Apache-2.0
"""Reading the card-info AP: the basic four items and, if asked, the My Number.

One PIN verification opens every file (jpki-card.md §3.2), and the files are
checked against the integrity record EF 0003 before they are parsed. The My
Number is read only when the caller asks: it is the most sensitive item on
the card, and the basic four's integrity does not need it (DF32 alone covers
EF 0002; DF31 is checked when EF 0001 is read). Nothing read here is logged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa

from host.card import constants as c
from host.card import files, pins
from host.card.basic_four import BasicFour, parse_basic_four, parse_my_number
from host.card.files import ReadStrategy
from host.card.integrity import IntegrityStatus, check_integrity, parse_integrity_record
from host.card.pin_policy import PinKind
from host.channel import ApduChannel

__all__ = ["CardInfo", "read_card_info"]


@dataclass(frozen=True, repr=False)
class CardInfo:
    """What the card-info AP says about the holder.

    Attributes:
        basic_four: name, address, birth date, sex.
        my_number: the 12-digit individual number, or None when not read.
        integrity: what the integrity record confirmed (the hashes always;
            the issuer's signature when a key was given).
    """

    basic_four: BasicFour
    my_number: str | None
    integrity: IntegrityStatus

    @property
    def name(self) -> str:
        """氏名."""
        return self.basic_four.name

    @property
    def address(self) -> str:
        """住所."""
        return self.basic_four.address

    @property
    def birth_date(self) -> dt.date:
        """生年月日."""
        return self.basic_four.birth_date

    @property
    def sex(self) -> str:
        """性別, one ISO/IEC 5218 digit."""
        return self.basic_four.sex

    def __repr__(self) -> str:
        return f"CardInfo(<redacted>, integrity={self.integrity!r})"

    __str__ = __repr__


def read_card_info(
    channel: ApduChannel,
    pin: bytes,
    *,
    include_my_number: bool = False,
    issuer_key: rsa.RSAPublicKey | None = None,
    strategy: ReadStrategy = ReadStrategy.AUTO,
) -> CardInfo:
    """Verify the card-info PIN once, read the files, check integrity, parse.

    Args:
        pin: the card-info PIN, already policy-checked.
        include_my_number: also read EF 0001.
        issuer_key: the card-data issuer's key; None skips the signature check.

    Raises:
        PinBlockedError, WrongPinError: as ``pins.verify``.
        IntegrityError: a file does not match EF 0003.
        DataFormatError: a file does not parse.
        CardError: another refusal.
    """
    pins.verify(channel, PinKind.TEXT, pin)
    my_number_ef: bytes | None = None
    if include_my_number:
        files.select_file(channel, c.FID_MY_NUMBER)
        # DF31 hashes the file as stored, filler included.
        my_number_ef = files.read_physical(channel, strategy)
    files.select_file(channel, c.FID_BASIC_FOUR)
    basic_four_ef = files.read_object(channel, strategy)
    files.select_file(channel, c.FID_INTEGRITY)
    record = parse_integrity_record(files.read_object(channel, strategy))
    status = check_integrity(
        record, basic_four_ef=basic_four_ef, my_number_ef=my_number_ef, issuer_key=issuer_key
    )
    return CardInfo(
        basic_four=parse_basic_four(basic_four_ef),
        my_number=parse_my_number(my_number_ef) if my_number_ef is not None else None,
        integrity=status,
    )
