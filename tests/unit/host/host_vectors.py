# SPDX-License-Identifier: Apache-2.0
"""Golden vectors for the host tests, as spaced hex that reads like a wire trace.

The card-info file is jpki-card.md §9.3 verbatim; APDUs are from §9.1/§9.2.
"""

from __future__ import annotations

import hashlib

__all__ = [
    "BASIC_FOUR_9_3",
    "MY_NUMBER_9_3",
    "MY_NUMBER_VALID",
    "h",
    "integrity_record",
    "my_number_file",
]


def h(text: str) -> bytes:
    """Bytes from spaced, multi-line hex."""
    return bytes.fromhex(" ".join(text.split()))


#: §9.3 "Whole file": name 山田　太郎, address 東京都千代田区霞が関１－１－１,
#: born 1980-01-01, sex 1 (95 bytes).
BASIC_FOUR_9_3 = h(
    """
    FF 20 5C DF 21 08 00 0E 00 20 00 50 00 5B
    DF 22 0F E5 B1 B1 E7 94 B0 E3 80 80 E5 A4 AA E9 83 8E
    DF 23 2D E6 9D B1 E4 BA AC E9 83 BD E5 8D 83 E4 BB A3 E7 94 B0 E5 8C BA E9 9C 9E E3 81 8C
             E9 96 A2 EF BC 91 EF BC 8D EF BC 91 EF BC 8D EF BC 91
    DF 24 08 31 39 38 30 30 31 30 31
    DF 25 01 31
    """
)

#: §9.3 My Number answer data (synthetic; its check digit is wrong: 8 is right).
MY_NUMBER_9_3 = h("FF 10 0C 31 32 33 34 35 36 37 38 39 30 31 32 FF FF")

#: A My Number with a valid check digit.
MY_NUMBER_VALID = "123456789018"


def my_number_file(number: str) -> bytes:
    """EF 0001 as stored: FF 10 0C, 12 digits, FF FF filler."""
    return h("FF 10 0C") + number.encode("ascii") + h("FF FF")


def integrity_record(
    my_number_ef: bytes, basic_four_signed: bytes, signature: bytes = b"\x00" * 256
) -> bytes:
    """EF 0003: FF 30 82 01 4B {DF31 20 .., DF32 20 .., DF33 82 01 00 ..} (336 bytes)."""
    body = (
        h("DF 31 20")
        + hashlib.sha256(my_number_ef).digest()
        + h("DF 32 20")
        + hashlib.sha256(basic_four_signed).digest()
        + h("DF 33 82")
        + len(signature).to_bytes(2, "big")
        + signature
    )
    return h("FF 30 82") + len(body).to_bytes(2, "big") + body
