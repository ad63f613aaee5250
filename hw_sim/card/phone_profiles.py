# SPDX-License-Identifier: Apache-2.0
# These are documented test credentials of fictional test phones, not secrets.
# ruff: noqa: S106
"""The catalogue's smartphones: ``android-*`` and ``iphone-*`` profiles.

Kept apart from ``profiles`` (which turns each ``PhoneSpec`` into a
``CardProfile``) so the card catalogue stays readable and the phone facts
sit beside ``phones``. A phone is a *separate credential* of a person who
may also hold a card: ``android-default`` and ``iphone-default`` belong to
the holder of the ``default`` card, with their own certificates from the
mobile CAs and (Android) their own PIN and password, set by the user.

An iPhone takes no PIN at the terminal (the user approves on the phone,
``phones.Approval``); its PIN fields only satisfy the profile format and
are never accepted over the air.

================  =======  ===========  ======================================
profile           device   approval     what it exercises
================  =======  ===========  ======================================
android-default   android  —            own 4-digit PIN, own signing password
android-lost      android  —            phone lost: both certificates revoked
iphone-default    iphone   approved     Face ID passed before the tap
iphone-declined   iphone   declined     user declined on the phone
iphone-lost       iphone   approved     phone lost: both certificates revoked
================  =======  ===========  ======================================
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final

from hw_sim.card.phones import Approval, DeviceKind
from hw_sim.identity import Person, Sex

__all__ = ["PHONES", "PhoneSpec"]


@dataclass(frozen=True)
class PhoneSpec:
    """One virtual phone before it becomes a ``CardProfile`` (same field names).

    ``person`` None means the holder of the ``default`` card.
    """

    name: str
    description: str
    state: str
    device: DeviceKind
    auth_pin: str = field(repr=False)
    sign_password: str = field(repr=False)
    revoked: bool = False
    approval: Approval | None = None
    person: Person | None = None
    # UNCONFIRMED: a phone certificate's lifetime; we keep the card rule
    # (5th birthday), so only the phone "expiry" used for 照合番号B differs.
    expiry: dt.date = dt.date(2030, 6, 24)


_LOST_ANDROID: Final = Person(
    "中村　修",
    "兵庫県神戸市中央区加納町９－９－９",
    dt.date(1988, 3, 3),
    Sex.MALE,
    "333333333332",
    "Kobe-shi Chuo-ku",
    "281107",
)
_LOST_IPHONE: Final = Person(
    "山本　さくら",
    "広島県広島市中区基町９－９－９",
    dt.date(1999, 4, 1),
    Sex.FEMALE,
    "444444444440",
    "Hiroshima-shi Naka-ku",
    "341011",
)

PHONES: Final = (
    PhoneSpec(
        "android-default",
        "山田　太郎's Android: JPKI in the secure element, own PIN and password",
        "normal",
        DeviceKind.ANDROID,
        auth_pin="2580",
        sign_password="PHONE2580",
    ),
    PhoneSpec(
        "android-lost",
        "Android reported lost: both mobile certificates revoked",
        "revoked",
        DeviceKind.ANDROID,
        auth_pin="1470",
        sign_password="LOSTPHONE1470",
        revoked=True,
        person=_LOST_ANDROID,
    ),
    PhoneSpec(
        "iphone-default",
        "山田　太郎's iPhone: the user approves on the phone (Face ID), no PIN",
        "approved",
        DeviceKind.IPHONE,
        auth_pin="0000",
        sign_password="UNUSED0000",
        approval=Approval.APPROVED,
    ),
    PhoneSpec(
        "iphone-declined",
        "iPhone whose user declines on the phone: signing answers 66 00",
        "declined",
        DeviceKind.IPHONE,
        auth_pin="0000",
        sign_password="UNUSED0000",
        approval=Approval.DECLINED,
    ),
    PhoneSpec(
        "iphone-lost",
        "iPhone reported lost: both mobile certificates revoked",
        "revoked",
        DeviceKind.IPHONE,
        auth_pin="0000",
        sign_password="UNUSED0000",
        revoked=True,
        approval=Approval.APPROVED,
        person=_LOST_IPHONE,
    ),
)
