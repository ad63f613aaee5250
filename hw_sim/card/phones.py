# SPDX-License-Identifier: Apache-2.0
"""Smartphones as the card: what makes an Android or iPhone credential differ.

JPKI on smartphones (Android since 2023-05, in the GlobalPlatform secure
element of the NFC chip; iPhone since 2025-06, iOS 18.5+) runs the JPKI
application (jpki-card.md §3.1: MYNA selects the same AP on an Android
phone and reads the token label ``JPKIAPGPSETOKEN``; SOL names the iPhone
label ``JPKIAPIOSTOKEN``). The phones' applet interfaces are not public, so
every other difference below is **our model**, marked UNCONFIRMED, and kept
here and in one host module (``host/card/detection.py``), so that a real
phone's differences are a driver change, never a flow change:

=====================  ======================  ===============================
difference             Android                 iPhone
=====================  ======================  ===============================
extra DF name          ``AID_JPKI_ANDROID``    ``AID_JPKI_IPHONE``
token label (EF 0006)  ``JPKIAPGPSETOKEN``     ``JPKIAPIOSTOKEN``
EF 000A (auth cert)    after VERIFY 0018       after approval on the phone
PIN / password         the user's own, typed   none at the terminal: VERIFY
                       at the terminal         with data is ``6985``
signing, cert 0001     after VERIFY            after approval (``Approval``)
CHANGE REFERENCE DATA  ``6985`` (on the phone) ``6985``
RF                     Type A and Type B       Type A
certificates           the mobile CAs of the test PKI (``hw_sim.pki.mobile``)
card-info / surface    absent (``6A82``)       absent in this phase
issuer PIN reset       absent                  absent
=====================  ======================  ===============================

The iPhone's user verification (side button + Face ID) is a state a test
or the simulator sets with ``VirtualCard.set_approval``: while it is not
``APPROVED``, key use and protected reads answer ``SW_APPROVAL_DECLINED``
(``66 00``) or ``SW_APPROVAL_PENDING`` (``64 01``) — both UNCONFIRMED, our
documented choice from ISO/IEC 7816-4's "security-related issue" and
"immediate response required" codes, so a host can tell "declined on the
phone" from "no answer yet" from "PIN needed" (``6982``).
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Final

from hw_sim.card.contactless import Contactless, TypeA, TypeB

__all__ = [
    "AID_JPKI_ANDROID",
    "AID_JPKI_IPHONE",
    "LABEL_ANDROID",
    "LABEL_CARD",
    "LABEL_IPHONE",
    "Approval",
    "DeviceKind",
    "phone_contactless",
]


class DeviceKind(StrEnum):
    """What carries the JPKI credential."""

    CARD = "card"
    ANDROID = "android"
    IPHONE = "iphone"

    @property
    def is_phone(self) -> bool:
        """Whether this is a smartphone."""
        return self is not DeviceKind.CARD


class Approval(StrEnum):
    """The iPhone's on-phone user verification (side button + Face ID)."""

    APPROVED = "approved"
    DECLINED = "declined"
    NO_ANSWER = "no-answer"


# UNCONFIRMED: phone-specific DF names. They share the JPKI AP's RID and
# differ in the last byte; a physical card answers them 6A82 (no prefix of
# its AIDs), which is what lets a host tell the credentials apart.
AID_JPKI_ANDROID: Final = bytes.fromhex("D3 92 F0 00 26 01 00 00 00 21")
AID_JPKI_IPHONE: Final = bytes.fromhex("D3 92 F0 00 26 01 00 00 00 31")

#: Token labels of EF 0006 (jpki-card.md §3.1: MYNA, MYNA-go, SOL).
LABEL_CARD: Final = "JPKIAPICCTOKEN2"
LABEL_ANDROID: Final = "JPKIAPGPSETOKEN"
LABEL_IPHONE: Final = "JPKIAPIOSTOKEN"

# UNCONFIRMED: RF parameters of phones. ATQA 00 04 with SAK 20 (ISO 14443-4)
# is what phones emulating an ISO-DEP card commonly answer; the UID is a
# random single-size UID (first byte 08, ISO/IEC 14443-3 §6.5.4), fixed per
# profile here so tests are stable. ATS: TL, T0 78 (TA TB TC, FSCI 8 = 256
# bytes), TA 80 (106 kbps only), TB 70 (FWI 7), TC 02 (CID supported), then
# historical bytes that name the platform (our choice).
_ATQA: Final = bytes.fromhex("0004")
_SAK: Final = 0x20
_ATS_HEAD: Final = bytes.fromhex("78 80 70 02")
_HISTORICAL: Final = {
    DeviceKind.ANDROID: b"JPKI-GPSE",
    DeviceKind.IPHONE: b"JPKI-IOS",
}
# UNCONFIRMED: Android on Type B: application data 00000000, protocol info
# as the card's (B3 81 A1), ATTRIB_RES 01.
_TYPE_B_TAIL: Final = bytes.fromhex("00000000 B381A1")


def _uid_bytes(profile_name: str, size: int) -> bytes:
    digest = hashlib.sha256(b"myna-edge phone uid:" + profile_name.encode("utf-8")).digest()
    return digest[:size]


def phone_contactless(kind: DeviceKind, profile_name: str) -> Contactless:
    """Return the RF answers of phone ``profile_name`` (Type A; Android also B).

    Raises:
        ValueError: ``kind`` is not a phone.
    """
    if not kind.is_phone:
        raise ValueError("a card's RF answers live with the reader emulators")
    historical = _HISTORICAL[kind]
    ats = bytes([len(_ATS_HEAD) + len(historical) + 1]) + _ATS_HEAD + historical
    type_a = TypeA(_ATQA, _SAK, b"\x08" + _uid_bytes(profile_name, 3), ats)
    type_b = None
    if kind is DeviceKind.ANDROID:
        type_b = TypeB(b"\x50" + _uid_bytes(profile_name, 4) + _TYPE_B_TAIL, b"\x01")
    return Contactless(type_a=type_a, type_b=type_b)
