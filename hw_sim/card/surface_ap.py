# SPDX-License-Identifier: Apache-2.0
"""The card-surface application (券面事項確認AP): the card face, as signed data.

Files (jpki-card.md §3.3):

====  ================================================  ========================
EF    content                                           opened by
====  ================================================  ========================
0001  age record ``FF 10 82 02 1E {DF11 birth, DF12     birth-date key 0011
      AP public key, DF13 signature}``
0002  card face ``FF 20 {DF21 offsets, DF22 birth,      照合番号A 0013 or B 0012
      DF23 sex, DF24 AP public key, DF25 name image,
      DF26 address image, DF27 photo, DF28 signature,
      DF29 expiry, DF2A security-code image}``
0003  AP basic info ``FF 30 {DF31 06 03 0E 01, DF32     none
      key id, DF33 version, DF34 municipality code,
      DF35 opaque}``
0004  the AP's CV certificate (568 bytes)               none
0005  rendered My Number ``FF 40 {DF41 72×12 PNG,       照合番号A only
      DF42 AP public key, DF43 signature}``
0011  birth-date key, era ``YYMMDD``                     —
0012  照合番号B                                          —
0013  照合番号A = My Number                               —
====  ================================================  ========================

The application signs with its own key and no credential (``80 2A 00 00``),
and a host checks that against the public key inside these signed records.

UNCONFIRMED, chosen here (only layouts are known): DF21 lists the offsets,
from byte 0, of all nine following objects; DF28 is a PKCS#1 v1.5 type-1
signature by the card-data issuer key over the 96 bytes SHA-256(DF22‖DF23‖DF24)
‖ SHA-256(DF25‖DF26) ‖ SHA-256(DF27), each over whole TLVs (SOL: three digests,
DF29/DF2A not covered); DF13 and DF43 are RSASSA-PKCS1-v1_5 SHA-256
signatures by the same key over the preceding TLVs of their record;
physical EF sizes are whole 256-byte blocks with ``FF`` filler. The photo
is greyscale JPEG 2000, as on real cards (``images.face_photo``). The host
driver (``host.card.surface_face``) checks exactly this contract.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from hw_sim.card import images
from hw_sim.card.constants import AID_SURFACE
from hw_sim.card.cv_cert import cv_certificate, key_id, public_key_blob
from hw_sim.card.filesystem import Application, Ef, PinEf, TransparentEf
from hw_sim.card.pins import BIRTH_DATE_KEY, CODE_A, CODE_B
from hw_sim.card.signing import pkcs1_v15_raw
from hw_sim.card.tlv import offset_indexed, padded_file, tlv
from hw_sim.identity import Person

__all__ = [
    "EF_AGE",
    "EF_BASIC_INFO",
    "EF_BIRTH_DATE_KEY",
    "EF_CODE_A",
    "EF_CODE_B",
    "EF_CV_CERT",
    "EF_FACE",
    "EF_NUMBER_IMAGE",
    "SurfaceContent",
    "build_surface_application",
    "card_face",
    "face_digests",
]

EF_AGE: Final = 0x0001
EF_FACE: Final = 0x0002
EF_BASIC_INFO: Final = 0x0003
EF_CV_CERT: Final = 0x0004
EF_NUMBER_IMAGE: Final = 0x0005
EF_BIRTH_DATE_KEY: Final = 0x0011
EF_CODE_B: Final = 0x0012
EF_CODE_A: Final = 0x0013

#: DF31: spec version etc., as read from a card by SOL (§3.3).
_SURFACE_BASIC_INFO_VERSION: Final = bytes.fromhex("06 03 0E 01")
_OPAQUE_DF35_SIZE: Final = 0x110  # DF35 82 01 10 (§3.3)
_BLOCK: Final = 256


@dataclass(frozen=True)
class SurfaceContent:
    """What the card-surface AP is built from.

    Attributes:
        person: the holder.
        card_expiry: printed on the card face (DF29).
        security_code: the 4-digit code printed on the face (DF2A image).
        serial_number: the card serial (seeds opaque bytes).
        card_data_key: the issuer key signing the records.
        ap_key: the application's own key.
    """

    person: Person
    card_expiry: dt.date
    security_code: str = field(repr=False)
    serial_number: str
    card_data_key: rsa.RSAPrivateKey = field(repr=False)
    ap_key: rsa.RSAPrivateKey = field(repr=False)


def _sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def _age_record(content: SurfaceContent, blob: bytes) -> bytes:
    signed = tlv(b"\xdf\x11", _yyyymmdd(content.person.birth_date)) + tlv(b"\xdf\x12", blob)
    return tlv(b"\xff\x10", signed + tlv(b"\xdf\x13", _sign(content.card_data_key, signed)))


def face_digests(items: list[bytes]) -> bytes:
    """Return the 96 bytes DF28 signs, from the TLVs DF22..DF27 in order."""
    return (
        hashlib.sha256(b"".join(items[0:3])).digest()
        + hashlib.sha256(b"".join(items[3:5])).digest()
        + hashlib.sha256(items[5]).digest()
    )


def card_face(content: SurfaceContent, blob: bytes) -> bytes:
    """Return the ``FF 20`` card-face object (no filler)."""
    person = content.person
    signed_items = [
        tlv(b"\xdf\x22", _yyyymmdd(person.birth_date)),
        tlv(b"\xdf\x23", person.sex.value.encode("ascii")),
        tlv(b"\xdf\x24", blob),
        tlv(b"\xdf\x25", images.pattern_image(person.name)),
        tlv(b"\xdf\x26", images.pattern_image(person.address, width=128)),
        tlv(b"\xdf\x27", images.face_photo(content.serial_number)),
    ]
    signature = pkcs1_v15_raw(content.card_data_key, face_digests(signed_items))
    items = [
        *signed_items,
        tlv(b"\xdf\x28", signature),
        tlv(b"\xdf\x29", _yyyymmdd(content.card_expiry)),
        tlv(b"\xdf\x2a", images.number_image(content.security_code)),
    ]
    return offset_indexed(b"\xff\x20", items)


def _basic_info(content: SurfaceContent) -> bytes:
    opaque = hashlib.shake_256(b"surface-basic-info:" + content.serial_number.encode()).digest(
        _OPAQUE_DF35_SIZE
    )
    body = (
        tlv(b"\xdf\x31", _SURFACE_BASIC_INFO_VERSION)
        + tlv(b"\xdf\x32", key_id(content.ap_key.public_key()))
        + tlv(b"\xdf\x33", b"\x01")
        + tlv(b"\xdf\x34", content.person.municipality_code[:5].encode("ascii"))
        + tlv(b"\xdf\x35", opaque)
    )
    return tlv(b"\xff\x30", body)


def _number_record(content: SurfaceContent, blob: bytes) -> bytes:
    signed = tlv(b"\xdf\x41", images.number_image(content.person.my_number))
    signed += tlv(b"\xdf\x42", blob)
    return tlv(b"\xff\x40", signed + tlv(b"\xdf\x43", _sign(content.card_data_key, signed)))


def _yyyymmdd(date: dt.date) -> bytes:
    return date.strftime("%Y%m%d").encode("ascii")


def build_surface_application(content: SurfaceContent) -> Application:
    """Return the card-surface application for ``content``."""
    ap_public = content.ap_key.public_key()
    blob = public_key_blob(ap_public)
    files: list[Ef] = [
        TransparentEf(
            EF_AGE,
            padded_file(_age_record(content, blob), minimum=_BLOCK),
            frozenset({EF_BIRTH_DATE_KEY}),
        ),
        TransparentEf(
            EF_FACE,
            padded_file(card_face(content, blob), minimum=_BLOCK),
            frozenset({EF_CODE_A, EF_CODE_B}),
        ),
        TransparentEf(EF_BASIC_INFO, padded_file(_basic_info(content), minimum=_BLOCK)),
        TransparentEf(EF_CV_CERT, cv_certificate(ap_public, content.card_data_key)),
        TransparentEf(
            EF_NUMBER_IMAGE,
            padded_file(_number_record(content, blob), minimum=_BLOCK),
            frozenset({EF_CODE_A}),
        ),
        PinEf(EF_BIRTH_DATE_KEY, BIRTH_DATE_KEY),
        PinEf(EF_CODE_B, CODE_B),
        PinEf(EF_CODE_A, CODE_A),
    ]
    return Application(
        "surface", AID_SURFACE, {ef.fid: ef for ef in files}, self_sign_key=content.ap_key
    )
