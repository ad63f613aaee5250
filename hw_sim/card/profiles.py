# SPDX-License-Identifier: Apache-2.0
# These are documented test credentials of fictional test cards, not secrets.
# ruff: noqa: S106
"""The catalogue of virtual cards: fictional holders in the states tests need.

Every profile is a *test card*: its PINs are documented here and in
``myna-edge sim cards --json`` on purpose, so anyone can drive it. The
people are invented; their My Numbers carry a valid check digit
(``my_number``) so host-side validation runs as it would on a real card.

Derived credentials (jpki-card.md §5):

* 照合番号A = the 12-digit My Number;
* 照合番号B = birth date as Japanese-era ``YYMMDD`` ‖ card expiry year
  ``YYYY`` ‖ the card's 4-digit security code (SOL's on-card example
  ``55021720352285``);
* birth-date key (surface AP) = era ``YYMMDD``.

=================  ==============================  ==============================
profile            state                           what it exercises
=================  ==============================  ==============================
default            normal                          §9 transcripts (山田　太郎)
rare-kanji         normal                          non-BMP kanji, long name
long-address       normal                          EF 0002 over 127 bytes
foreign-resident   normal                          alphabet name
sign-locked        sign-password-locked            signing password counter 0
auth-last-try      auth-pin-one-try-left           auth PIN counter 1
revoked            revoked                         both certificates revoked
expired            expired                         both certificates expired
minor              no-signing-certificate          under 15: no signing cert
android-*, iphone-*                                smartphones (``phone_profiles``)
=================  ==============================  ==============================

``device`` says what carries the credential (``sim cards`` shows it as
KIND); phones differ as ``hw_sim.card.phones`` documents.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Final

from hw_sim.card.constants import ATR_CONTACT
from hw_sim.card.contactless import Contactless, pcsc_atr
from hw_sim.card.phone_profiles import PHONES, PhoneSpec
from hw_sim.card.phones import Approval, DeviceKind, phone_contactless
from hw_sim.card.pins import AUTH_PIN, SIGN_PASSWORD, TEXT_PIN
from hw_sim.errors import UnknownProfileError
from hw_sim.identity import Person, Sex
from hw_sim.pki.profile import ERA_STARTS

__all__ = [
    "CardProfile",
    "CertStatus",
    "era_date",
    "get_profile",
    "my_number",
    "my_number_check_digit",
    "profiles",
]


class CertStatus(enum.StrEnum):
    """How a profile's JPKI certificates are issued."""

    VALID = "valid"
    REVOKED = "revoked"  # issued, then revoked in the test PKI
    EXPIRED = "expired"  # issued with TestPki.issue_expired


def my_number_check_digit(first11: str) -> str:
    """Return the check digit of an 11-digit My Number body.

    For p_n, the n-th digit counted from the right (n = 1..11), with weight
    q_n = n + 1 for n ≤ 6 and n − 5 otherwise: r = Σ p_n·q_n mod 11, and the
    check digit is 0 when r ≤ 1, else 11 − r.

    Raises:
        ValueError: ``first11`` is not 11 ASCII digits.
    """
    if len(first11) != 11 or not first11.isdigit() or not first11.isascii():
        raise ValueError("a My Number body is 11 ASCII digits")
    total = 0
    for n, digit in enumerate(reversed(first11), start=1):
        total += int(digit) * (n + 1 if n <= 6 else n - 5)
    remainder = total % 11
    return "0" if remainder <= 1 else str(11 - remainder)


def my_number(first11: str) -> str:
    """Return ``first11`` followed by its check digit."""
    return first11 + my_number_check_digit(first11)


def era_date(date: dt.date) -> str:
    """Return ``date`` as Japanese-era ``YYMMDD`` (昭和55年1月1日 → ``550101``).

    Raises:
        ValueError: ``date`` is before the Meiji era.
    """
    for start, _code in ERA_STARTS:
        if date >= start:
            return f"{date.year - start.year + 1:02d}{date.month:02d}{date.day:02d}"
    raise ValueError("dates before the Meiji era have no era year")


@dataclass(frozen=True)
class CardProfile:
    """One virtual card: holder, test credentials, and the state it is issued in.

    Attributes:
        name: catalogue key, also the holder-key label prefix (``[a-z0-9-]``).
        description: one line for ``sim cards``.
        state: a short tag for the interesting state (``normal``, ...).
        person: the holder.
        auth_pin: JPKI user-authentication PIN (4 digits). Test card only.
        sign_password: JPKI signing password (6-16 of A-Z 0-9). Test card only.
        text_pin: card-info input support PIN (4 digits). Test card only.
        security_code: the 4-digit code on the card face, part of 照合番号B.
        card_expiry: the card's expiry date (its year is part of 照合番号B).
        auth_tries_left, sign_tries_left, text_tries_left: counters at issue;
            None means the maximum.
        certificates: how the JPKI certificates are issued.
        has_sign_certificate: False for holders under 15 (EF 0008 ``00 8F 00``).
        atr: the answer to reset.
        reselect_clears_security: SELECT of the current AP clears its
            security status (OpenSC's assumption); default keeps it (SOL).
        device: card, Android or iPhone (``phones``).
        approval: an iPhone's on-phone verification at first use, else None.
    """

    name: str
    description: str
    state: str
    person: Person
    auth_pin: str = field(repr=False)
    sign_password: str = field(repr=False)
    text_pin: str = field(repr=False)
    security_code: str = field(repr=False)
    card_expiry: dt.date
    auth_tries_left: int | None = None
    sign_tries_left: int | None = None
    text_tries_left: int | None = None
    certificates: CertStatus = CertStatus.VALID
    has_sign_certificate: bool = True
    atr: bytes = ATR_CONTACT
    reselect_clears_security: bool = False
    device: DeviceKind = DeviceKind.CARD
    approval: Approval | None = None

    def __post_init__(self) -> None:
        if (self.approval is not None) != (self.device is DeviceKind.IPHONE):
            raise ValueError(f"{self.name}: an approval state belongs to iPhones only")
        for policy, value in (
            (AUTH_PIN, self.auth_pin),
            (SIGN_PASSWORD, self.sign_password),
            (TEXT_PIN, self.text_pin),
        ):
            if not policy.accepts(value.encode("ascii", "replace")):
                raise ValueError(f"{self.name}: the {policy.label} breaks its format")
        if len(self.security_code) != 4 or not self.security_code.isdigit():
            raise ValueError(f"{self.name}: the security code is 4 digits")

    @property
    def contactless(self) -> Contactless | None:
        """A phone's RF answers; None for a card (the readers' Type B default)."""
        return phone_contactless(self.device, self.name) if self.device.is_phone else None

    @property
    def verification_code_a(self) -> str:
        """照合番号A: the My Number."""
        return self.person.my_number

    @property
    def verification_code_b(self) -> str:
        """照合番号B: era birth date ‖ expiry year ‖ security code (14 digits)."""
        return f"{era_date(self.person.birth_date)}{self.card_expiry.year:04d}{self.security_code}"

    @property
    def birth_date_key(self) -> str:
        """The surface AP's birth-date key: era ``YYMMDD``."""
        return era_date(self.person.birth_date)


def _person(
    name: str, address: str, born: dt.date, sex: Sex, body: str, city: str, code: str
) -> Person:
    return Person(name, address, born, sex, my_number(body), city, code)


_DEFAULT_PERSON: Final = _person(
    "山田　太郎",
    "東京都千代田区霞が関１－１－１",
    dt.date(1980, 1, 1),
    Sex.MALE,
    "12345678901",
    "Chiyoda-ku",
    "131016",
)

_CARDS: Final = (
    CardProfile(
        "default",
        "山田　太郎, Tokyo; the holder of the §9 transcripts",
        "normal",
        _DEFAULT_PERSON,
        auth_pin="1234",
        sign_password="ABCD1234",
        text_pin="1234",
        security_code="2285",
        card_expiry=dt.date(2035, 1, 1),
    ),
    CardProfile(
        "rare-kanji",
        "long name with kanji outside the BMP (𠮷, 𩸽)",
        "normal",
        _person(
            "勅使河原　𠮷右衛門𩸽之丞",
            "京都府京都市左京区北白川西町９９－９",
            dt.date(1952, 11, 3),
            Sex.MALE,
            "20481632641",
            "Kyoto-shi Sakyo-ku",
            "261033",
        ),
        auth_pin="2468",
        sign_password="KANJI2468",
        text_pin="1357",
        security_code="4711",
        card_expiry=dt.date(2032, 11, 3),
    ),
    CardProfile(
        "long-address",
        "address over 60 characters: EF 0002 needs a long BER length",
        "normal",
        _person(
            "佐藤　花子",
            "北海道札幌市中央区北一条西二十丁目１２３番地４５　サンプルヒルズ北一条"
            "レジデンス第二期東棟三十二階三二〇五号室（管理組合気付）",
            dt.date(1995, 6, 15),
            Sex.FEMALE,
            "31415926535",
            "Sapporo-shi Chuo-ku",
            "011011",
        ),
        auth_pin="5678",
        sign_password="SAPPORO5678",
        text_pin="8765",
        security_code="0615",
        card_expiry=dt.date(2034, 6, 15),
    ),
    CardProfile(
        "foreign-resident",
        "foreign resident with an alphabet name",
        "normal",
        _person(
            "SMITH JOHN",
            "神奈川県横浜市中区山下町９９９－１",
            dt.date(1978, 4, 12),
            Sex.MALE,
            "27182818284",
            "Yokohama-shi Naka-ku",
            "141046",
        ),
        auth_pin="4321",
        sign_password="SMITH4321",
        text_pin="9876",
        security_code="1204",
        card_expiry=dt.date(2030, 4, 12),
    ),
    CardProfile(
        "sign-locked",
        "signing password blocked (counter 0): VERIFY 001B gives 6984",
        "sign-password-locked",
        _person(
            "鈴木　一郎",
            "大阪府大阪市北区梅田９－９－９",
            dt.date(1965, 9, 30),
            Sex.MALE,
            "16180339887",
            "Osaka-shi Kita-ku",
            "271276",
        ),
        auth_pin="1111",
        sign_password="LOCKED1111",
        text_pin="2222",
        security_code="3090",
        card_expiry=dt.date(2033, 9, 30),
        sign_tries_left=0,
    ),
    CardProfile(
        "auth-last-try",
        "authentication PIN with one try left (63C1)",
        "auth-pin-one-try-left",
        _person(
            "高橋　美咲",
            "愛知県名古屋市中区三の丸９－９－９",
            dt.date(2001, 2, 28),
            Sex.FEMALE,
            "14142135623",
            "Nagoya-shi Naka-ku",
            "231061",
        ),
        auth_pin="3333",
        sign_password="LASTTRY3333",
        text_pin="4444",
        security_code="2802",
        card_expiry=dt.date(2031, 2, 28),
        auth_tries_left=1,
    ),
    CardProfile(
        "revoked",
        "both JPKI certificates revoked in the test PKI",
        "revoked",
        _person(
            "田中　健二",
            "福岡県福岡市博多区博多駅前９－９－９",
            dt.date(1970, 12, 24),
            Sex.MALE,
            "17320508075",
            "Fukuoka-shi Hakata-ku",
            "401323",
        ),
        auth_pin="5555",
        sign_password="REVOKED5555",
        text_pin="6666",
        security_code="2412",
        card_expiry=dt.date(2034, 12, 24),
        certificates=CertStatus.REVOKED,
    ),
    CardProfile(
        "expired",
        "both JPKI certificates past their validity",
        "expired",
        _person(
            "伊藤　由美",
            "宮城県仙台市青葉区国分町９－９－９",
            dt.date(1958, 5, 5),
            Sex.FEMALE,
            "22360679774",
            "Sendai-shi Aoba-ku",
            "041017",
        ),
        auth_pin="7777",
        sign_password="EXPIRED7777",
        text_pin="8888",
        security_code="0505",
        card_expiry=dt.date(2029, 5, 5),
        certificates=CertStatus.EXPIRED,
    ),
    CardProfile(
        "minor",
        "holder under 15: no signing certificate or key (EF 0008 = 00 8F 00)",
        "no-signing-certificate",
        _person(
            "小林　翔太",
            "埼玉県さいたま市浦和区高砂９－９－９",
            dt.date(2015, 8, 20),
            Sex.MALE,
            "26457513110",
            "Saitama-shi Urawa-ku",
            "111074",
        ),
        auth_pin="9999",
        sign_password="MINOR9999",
        text_pin="0000",
        security_code="2008",
        card_expiry=dt.date(2030, 8, 20),
        has_sign_certificate=False,
    ),
)


def _phone(spec: PhoneSpec) -> CardProfile:
    contactless = phone_contactless(spec.device, spec.name)
    if contactless.type_a is None:  # pragma: no cover - every phone answers Type A
        raise ValueError(f"{spec.name}: a phone answers Type A")
    return CardProfile(
        spec.name,
        spec.description,
        spec.state,
        spec.person or _DEFAULT_PERSON,
        auth_pin=spec.auth_pin,
        sign_password=spec.sign_password,
        text_pin="0000",  # unused: phones carry no card-info AP
        security_code="0000",
        card_expiry=spec.expiry,
        certificates=CertStatus.REVOKED if spec.revoked else CertStatus.VALID,
        # PC/SC part 3: a contactless Type A target's ATR from its ATS.
        atr=pcsc_atr(contactless.type_a.historical),
        device=spec.device,
        approval=spec.approval,
    )


_CATALOGUE: Final = _CARDS + tuple(_phone(spec) for spec in PHONES)
_BY_NAME: Final = {profile.name: profile for profile in _CATALOGUE}


def profiles() -> list[CardProfile]:
    """Return the catalogue in a stable order, ``default`` first."""
    return list(_CATALOGUE)


def get_profile(name: str) -> CardProfile:
    """Return the profile called ``name``.

    Raises:
        UnknownProfileError: no such profile (a ``LookupError``).
    """
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise UnknownProfileError(str(name)) from None
