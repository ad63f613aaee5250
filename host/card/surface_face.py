# SPDX-License-Identifier: Apache-2.0
"""The card face (券面) of the card-surface AP: parsed, and its signature checked.

EF 0002 holds ``FF 20 { DF21 offsets, DF22 birth date YYYYMMDD, DF23 sex,
DF24 the AP's public key, DF25 name image, DF26 address image, DF27 photo,
DF28 signature, DF29 expiry YYYYMMDD, DF2A security-code image }``
(jpki-card.md §3.3). DF28 covers DF22-DF27 only: three SHA-256 digests, over
DF22‖DF23‖DF24, over DF25‖DF26 and over DF27 (SOL). DF29 and DF2A come after
the signature and are not covered, so the expiry is *printed* data, checked
against the sky only by the staff reading the plastic.

UNCONFIRMED, as the simulator chose (``hw_sim.card.surface_ap``): the
digests run over whole TLVs; DF28 is PKCS#1 v1.5 type-1 padding around the
bare 96 digest bytes (no DigestInfo), made by the card-data issuer key that
also signs the card-info AP's integrity record; DF21 lists the offsets, from
byte 0, of all nine following objects. The check recovers the padded
payload with the issuer's public key and compares it in constant time.

Everything here is personal data: reprs are redacted and errors describe
structure only. Pure functions, so a forged face can be fed in directly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from host.card import constants as c
from host.card.basic_four import BasicFour, parse_birth_date
from host.errors import DataFormatError, IntegrityError
from host.tlv import Tlv, parse_one

__all__ = [
    "FACE_TAGS",
    "CardFace",
    "check_face_signature",
    "face_differences",
    "face_digests",
    "parse_card_face",
]

#: The nine objects after DF21, in the order DF21 lists them.
FACE_TAGS: Final = (
    c.TAG_FACE_BIRTH_DATE,
    c.TAG_FACE_SEX,
    c.TAG_FACE_AP_KEY,
    c.TAG_FACE_NAME_IMAGE,
    c.TAG_FACE_ADDRESS_IMAGE,
    c.TAG_FACE_PHOTO,
    c.TAG_FACE_SIGNATURE,
    c.TAG_FACE_EXPIRY,
    c.TAG_FACE_CODE_IMAGE,
)
_SIGNED: Final = FACE_TAGS[:6]
_SEX_CODES: Final = frozenset({"0", "1", "2", "9"})


@dataclass(frozen=True, repr=False)
class CardFace:
    """What the card face holds.

    Attributes:
        birth_date: DF22.
        sex: DF23, one ISO/IEC 5218 digit.
        expiry: DF29, the card's expiry date (not covered by the signature).
        name_image, address_image: DF25/DF26, images of the printed text.
        photo: DF27, the face photo as stored (JPEG 2000 on real cards).
        security_code_image: DF2A.
        ap_public_key: DF24, the AP's own public key (for its self-signature).
        signature: DF28.
        digests: the 96 bytes DF28 should sign, computed from what was read.
    """

    birth_date: dt.date
    sex: str
    expiry: dt.date
    name_image: bytes
    address_image: bytes
    photo: bytes
    security_code_image: bytes
    ap_public_key: bytes
    signature: bytes
    digests: bytes

    def __repr__(self) -> str:
        return "CardFace(<redacted>)"

    __str__ = __repr__


def _date(item: Tlv, what: str) -> dt.date:
    try:
        text = item.value.decode("ascii")
    except UnicodeDecodeError:
        raise DataFormatError(f"{what} is not ASCII") from None
    try:
        return parse_birth_date(text)
    except DataFormatError:
        raise DataFormatError(f"{what} is not a YYYYMMDD date") from None


def face_digests(raw: bytes, items: dict[int, Tlv]) -> bytes:
    """Return the 96 bytes DF28 signs, from the whole TLVs DF22..DF27 in ``raw``."""

    def whole(tag: int) -> bytes:
        item = items[tag]
        return raw[item.offset : item.end]

    return (
        hashlib.sha256(b"".join(whole(t) for t in _SIGNED[0:3])).digest()
        + hashlib.sha256(b"".join(whole(t) for t in _SIGNED[3:5])).digest()
        + hashlib.sha256(whole(_SIGNED[5])).digest()
    )


def parse_card_face(raw: bytes) -> CardFace:
    """Parse EF 0002 of the card-surface AP (``FF`` filler after the object is fine).

    Raises:
        DataFormatError: wrong tags, a missing or repeated item, DF21 offsets
            that do not point at the items, a bad date or sex, empty images.
    """
    outer = parse_one(raw)
    if outer.tag != c.TAG_FACE:
        raise DataFormatError(f"card-face file starts with tag {outer.tag:X}, not FF20")
    by_tag: dict[int, Tlv] = {}
    for item in outer.children():
        if item.tag in by_tag:
            raise DataFormatError(f"card-face file holds {item.tag:X} twice")
        by_tag[item.tag] = item
    missing = [t for t in (c.TAG_FACE_OFFSETS, *FACE_TAGS) if t not in by_tag]
    if missing:
        raise DataFormatError("card-face file lacks " + ", ".join(f"{t:X}" for t in missing))
    offsets = by_tag[c.TAG_FACE_OFFSETS].value
    if len(offsets) != 2 * len(FACE_TAGS):
        raise DataFormatError(f"DF21 holds {len(offsets)} bytes, not {2 * len(FACE_TAGS)}")
    for index, tag in enumerate(FACE_TAGS):
        pointed = int.from_bytes(offsets[2 * index : 2 * index + 2], "big")
        if pointed != by_tag[tag].offset:
            raise DataFormatError(f"DF21 offset for {tag:X} does not point at it")
    sex_raw = by_tag[c.TAG_FACE_SEX].value
    sex = sex_raw.decode("latin-1")
    if sex not in _SEX_CODES:
        raise DataFormatError("sex is not an ISO/IEC 5218 digit")
    for tag in (c.TAG_FACE_NAME_IMAGE, c.TAG_FACE_ADDRESS_IMAGE, c.TAG_FACE_PHOTO):
        if not by_tag[tag].value:
            raise DataFormatError(f"card-face item {tag:X} is empty")
    if not by_tag[c.TAG_FACE_SIGNATURE].value:
        raise DataFormatError("card-face signature is empty")
    return CardFace(
        birth_date=_date(by_tag[c.TAG_FACE_BIRTH_DATE], "birth date"),
        sex=sex,
        expiry=_date(by_tag[c.TAG_FACE_EXPIRY], "expiry date"),
        name_image=by_tag[c.TAG_FACE_NAME_IMAGE].value,
        address_image=by_tag[c.TAG_FACE_ADDRESS_IMAGE].value,
        photo=by_tag[c.TAG_FACE_PHOTO].value,
        security_code_image=by_tag[c.TAG_FACE_CODE_IMAGE].value,
        ap_public_key=by_tag[c.TAG_FACE_AP_KEY].value,
        signature=by_tag[c.TAG_FACE_SIGNATURE].value,
        digests=face_digests(raw, by_tag),
    )


def check_face_signature(face: CardFace, issuer_key: rsa.RSAPublicKey) -> None:
    """Check DF28 against the card-data issuer's public key.

    Raises:
        IntegrityError: the signature is not the issuer's over what was read
            (a forged or altered face, or another issuer).
    """
    try:
        signed = issuer_key.recover_data_from_signature(face.signature, padding.PKCS1v15(), None)
    except (InvalidSignature, ValueError):
        raise IntegrityError("card face is not signed by the trusted issuer") from None
    if not hmac.compare_digest(signed, face.digests):
        raise IntegrityError("card face does not match its issuer signature")


def face_differences(face: CardFace, basic_four: BasicFour) -> tuple[str, ...]:
    """Name the items the card face and the card-info AP disagree on.

    The face carries birth date and sex as text (name and address only as
    images), so those two are compared; a genuine card never differs.
    """
    differing: list[str] = []
    if face.birth_date != basic_four.birth_date:
        differing.append("birth_date")
    if face.sex != basic_four.sex:
        differing.append("sex")
    return tuple(differing)
