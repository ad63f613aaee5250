# SPDX-License-Identifier: Apache-2.0
"""The card-info input support application (券面事項入力補助AP).

Files (jpki-card.md §3.2):

====  =============================================  =========================
EF    content                                        opened by
====  =============================================  =========================
0001  My Number ``FF 10 0C`` + 12 digits + ``FF FF``   PIN 0011 or 照合番号A 0014
0002  basic four ``FF 20 L {DF21 … DF25}`` + filler    PIN 0011 or 照合番号B 0015
0003  integrity record, 336 bytes (below)            PIN, A or B
0004  the AP's CV certificate, 568 bytes             none
0005  AP basic info, 256 bytes                       none
0011  PIN, 4 digits, 3 tries                         —
0012  key reference blocked at issuance              —
0014  照合番号A = My Number, 12 digits                 —
0015  照合番号B, 14 digits                             —
====  =============================================  =========================

EF 0002: DF21 holds four big-endian u16 offsets, counted from byte 0 of the
file, of DF22 name (UTF-8), DF23 address (UTF-8), DF24 birth date
``YYYYMMDD`` and DF25 sex (one ISO 5218 digit). Lengths are minimal BER; an
object of 128 bytes or more uses ``81 xx`` (``82 xx xx`` from 256 on):
UNCONFIRMED, a card might write ``82 00 xx`` instead, and hosts must accept
both (§3.2). UNCONFIRMED: the physical size of EF 0002; we use at least 256
bytes, in whole 256-byte blocks.

**EF 0003 integrity record: the contract a host checks.** UNCONFIRMED:
the sources give the layout but not exactly what is signed (§3.2). Here::

    FF 30 82 01 4B
       DF 31 20        SHA-256 of EF 0001's whole physical content (17 bytes,
                       filler included)
       DF 32 20        SHA-256 of EF 0002 from the DF22 tag to the end of the
                       FF 20 object (no FF 20 header, no DF21, no filler)
       DF 33 82 01 00  RSASSA-PKCS1-v1_5 with SHA-256, by the card-data issuer
                       key (``TestPki.card_data_key()``), over the 64 bytes
                       DF31 value ‖ DF32 value

so ``public_key.verify(DF33, DF31 ‖ DF32, PKCS1v15(), SHA256())`` succeeds.

EF 0005 is ``FF 40 82 00 9F {DF41 04 01 03 0E 01, DF42 10 <key id>, DF43 82
00 80 <32 bytes + 96 × FF>}`` padded to 256 bytes. The two ``82 00 xx``
lengths are inferred from MYNA's BER test object ``FF 40 82 00 9F``, whose
length 0x9F fits this layout only with them (§3.2); UNCONFIRMED beyond that.
The 32 DF43 bytes are opaque; ours are derived from the card serial.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from hw_sim.card.constants import AID_TEXT
from hw_sim.card.cv_cert import cv_certificate, key_id
from hw_sim.card.filesystem import Application, Ef, PinEf, TransparentEf
from hw_sim.card.pins import BLOCKED_KEY, CODE_A, CODE_B, TEXT_PIN
from hw_sim.card.tlv import offset_indexed, pad, padded_file, tlv, tlv_wide
from hw_sim.identity import Person

__all__ = [
    "EF_BASIC_FOUR",
    "EF_BASIC_INFO",
    "EF_BLOCKED_KEY",
    "EF_CODE_A",
    "EF_CODE_B",
    "EF_CV_CERT",
    "EF_INTEGRITY",
    "EF_MY_NUMBER",
    "EF_PIN",
    "INTEGRITY_SIZE",
    "TextContent",
    "basic_four",
    "basic_four_signed_part",
    "build_text_application",
    "integrity_record",
    "my_number_file",
]

EF_MY_NUMBER: Final = 0x0001
EF_BASIC_FOUR: Final = 0x0002
EF_INTEGRITY: Final = 0x0003
EF_CV_CERT: Final = 0x0004
EF_BASIC_INFO: Final = 0x0005
EF_PIN: Final = 0x0011
EF_BLOCKED_KEY: Final = 0x0012
EF_CODE_A: Final = 0x0014
EF_CODE_B: Final = 0x0015

#: EF 0003 size (§3.2; MYNA-go reads exactly 336 bytes).
INTEGRITY_SIZE: Final = 336
_BASIC_INFO_SIZE: Final = 256  # MYNA-go reads 256 bytes of EF 0005
_BASIC_FOUR_MINIMUM: Final = 256  # UNCONFIRMED, see above
#: DF41: spec version, extended Lc/Le support, vendor id, vendor byte (SOL).
_TEXT_BASIC_INFO_VERSION: Final = bytes.fromhex("01 03 0E 01")


@dataclass(frozen=True)
class TextContent:
    """What the card-info AP is built from.

    Attributes:
        person: the holder.
        serial_number: the card serial (seeds the opaque DF43 bytes).
        card_data_key: the issuer key signing EF 0003 and the CV certificate.
        ap_key: the application's own key (CV certificate, self-signature).
    """

    person: Person
    serial_number: str
    card_data_key: rsa.RSAPrivateKey = field(repr=False)
    ap_key: rsa.RSAPrivateKey = field(repr=False)


def my_number_file(number: str) -> bytes:
    """Return EF 0001: ``FF 10 0C`` + the 12 digits + ``FF FF`` (17 bytes)."""
    return b"\xff\x10\x0c" + number.encode("ascii") + b"\xff\xff"


def basic_four(person: Person) -> bytes:
    """Return the ``FF 20`` basic-four object (no filler), with DF21 offsets from byte 0."""
    items = [
        tlv(b"\xdf\x22", person.name.encode("utf-8")),
        tlv(b"\xdf\x23", person.address.encode("utf-8")),
        tlv(b"\xdf\x24", person.birth_date.strftime("%Y%m%d").encode("ascii")),
        tlv(b"\xdf\x25", person.sex.value.encode("ascii")),
    ]
    return offset_indexed(b"\xff\x20", items)  # DF 21 08 <4 × u16>, then DF22-DF25


def basic_four_signed_part(obj: bytes) -> bytes:
    """Return the bytes DF32 hashes: from the DF22 tag to the end of the object."""
    first_offset = int.from_bytes(_df21_value(obj)[:2], "big")
    return obj[first_offset:]


def _df21_value(obj: bytes) -> bytes:
    header = 2 + (1 if obj[2] < 0x80 else 1 + (obj[2] & 0x7F))
    if obj[header : header + 3] != b"\xdf\x21\x08":
        raise ValueError("not a basic-four object")
    return obj[header + 3 : header + 11]


def integrity_record(my_number_ef: bytes, basic_four_obj: bytes, key: rsa.RSAPrivateKey) -> bytes:
    """Return EF 0003 (336 bytes), signed with ``key`` as the module docstring says."""
    df31 = hashlib.sha256(my_number_ef).digest()
    df32 = hashlib.sha256(basic_four_signed_part(basic_four_obj)).digest()
    signature = key.sign(df31 + df32, padding.PKCS1v15(), hashes.SHA256())
    body = tlv(b"\xdf\x31", df31) + tlv(b"\xdf\x32", df32) + tlv(b"\xdf\x33", signature)
    record = tlv(b"\xff\x30", body)
    if len(record) != INTEGRITY_SIZE:
        raise ValueError("the card-data key must be RSA-2048")
    return record


def _basic_info(ap_key_id: bytes, serial_number: str) -> bytes:
    opaque = hashlib.sha256(b"text-ap-basic-info:" + serial_number.encode("ascii")).digest()
    body = (
        tlv(b"\xdf\x41", _TEXT_BASIC_INFO_VERSION)
        + tlv(b"\xdf\x42", ap_key_id)
        + tlv_wide(b"\xdf\x43", opaque + b"\xff" * 96)
    )
    return pad(tlv_wide(b"\xff\x40", body), _BASIC_INFO_SIZE)


def build_text_application(content: TextContent) -> Application:
    """Return the card-info input support application for ``content``."""
    number_ef = my_number_file(content.person.my_number)
    four = basic_four(content.person)
    ap_public = content.ap_key.public_key()
    files: list[Ef] = [
        TransparentEf(EF_MY_NUMBER, number_ef, frozenset({EF_PIN, EF_CODE_A})),
        TransparentEf(
            EF_BASIC_FOUR,
            padded_file(four, minimum=_BASIC_FOUR_MINIMUM),
            frozenset({EF_PIN, EF_CODE_B}),  # §3.2: A does not open it
        ),
        TransparentEf(
            EF_INTEGRITY,
            integrity_record(number_ef, four, content.card_data_key),
            frozenset({EF_PIN, EF_CODE_A, EF_CODE_B}),
        ),
        TransparentEf(EF_CV_CERT, cv_certificate(ap_public, content.card_data_key)),
        TransparentEf(EF_BASIC_INFO, _basic_info(key_id(ap_public), content.serial_number)),
        PinEf(EF_PIN, TEXT_PIN),
        PinEf(EF_BLOCKED_KEY, BLOCKED_KEY),
        PinEf(EF_CODE_A, CODE_A),
        PinEf(EF_CODE_B, CODE_B),
    ]
    return Application("text", AID_TEXT, {ef.fid: ef for ef in files}, self_sign_key=content.ap_key)
