# SPDX-License-Identifier: Apache-2.0
"""The JPKI certificate profile as constants: names, OIDs, key sizes, validity.

Kept apart from the code that builds certificates so that every card fact has
one place, with its source in ``reference/jpki-card.md`` §6 next to it, and so
that a reader can check the profile without reading builder code. The host
driver decodes the same subjectAltName OIDs; it keeps its own copy, because
``host/`` must not import ``hw_sim/`` (STYLE §1).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from cryptography import x509
from cryptography.x509.oid import NameOID

__all__ = [
    "AUTH_POLICY_OID",
    "CA_DN_COMMON",
    "CA_KEY_USAGE",
    "CA_VALIDITY",
    "CRL_URL_TEMPLATE",
    "ERA_STARTS",
    "HOLDER_ID_ALPHABET",
    "HOLDER_ID_LENGTH",
    "HOLDER_KEY_USAGE",
    "HOLDER_VALIDITY_YEARS",
    "JST",
    "KEY_SIZE",
    "OID_ADDRESS",
    "OID_ADDRESS_SUBSTITUTE",
    "OID_BIRTH_DATE",
    "OID_GENDER",
    "OID_NAME",
    "OID_NAME_SUBSTITUTE",
    "PUBLIC_EXPONENT",
    "SAN_OIDS",
    "SAN_VALUE_TAG",
    "SIGN_POLICY_OID",
    "TEST_ORGANIZATION",
    "VALIDITY_END_TIME",
    "CaFamily",
    "CertKind",
    "ca_name",
    "crl_url",
    "era_code",
]


class CertKind(StrEnum):
    """The two JPKI certificate kinds, each with its own CA (§6)."""

    AUTH = "auth"  # 利用者証明用: user authentication, PIN 4 digits
    SIGN = "sign"  # 署名用: digital signature, 6-16 character password


class CaFamily(StrEnum):
    """Which credentials a set of CAs issues for: the card, or smartphones.

    UNCONFIRMED: that smartphone certificates (Android since 2023, iPhone
    since 2025) chain to issuing CAs of their own. J-LIS publishes
    separate "スマホ用電子証明書" services, but no source we read shows the
    chain, so the simulator keeps them apart (``hw_sim.pki.mobile``) and a
    verifier can tell a phone certificate from a card one by its issuer.
    """

    CARD = "card"
    MOBILE = "mobile"


#: RSA modulus size in bits for every key: holders, CAs, card data issuer (§6).
KEY_SIZE: Final = 2048
#: RSA public exponent for every key (§6).
PUBLIC_EXPONENT: Final = 65537

#: Real cards use O=JPKI; J-LIS test cards use O=JPKI-TEST (§6, SOL), and a
#: simulator must never produce something that looks like a production chain.
TEST_ORGANIZATION: Final = "JPKI-TEST"
#: The OU that both real CA DNs end with (§6, MYNA ``ta/*.pem``).
CA_DN_COMMON: Final = "Japan Agency for Local Authority Information Systems"
_CA_OU: Final = MappingProxyType(
    {
        CertKind.AUTH: "JPKI for user authentication",
        CertKind.SIGN: "JPKI for digital signature",
    }
)
# UNCONFIRMED: the mobile CAs' OU (see ``CaFamily``); our wording.
_MOBILE_CA_OU: Final = MappingProxyType(
    {
        CertKind.AUTH: "JPKI for smartphone user authentication",
        CertKind.SIGN: "JPKI for smartphone digital signature",
    }
)

#: Real J-LIS root generations run ten years each (§6: 2015-2025, 2019-2029,
#: 2023-2033).
CA_VALIDITY: Final = dt.timedelta(days=3652)

#: Japan Standard Time. Certificates end on a birthday, and a birthday is a
#: date in Japan, so "the day" is reckoned in JST.
JST: Final = dt.timezone(dt.timedelta(hours=9), "JST")

#: The opaque holder identifier in the subject CN, shaped like the test card's
#: ``997794E9AGCIEG13221003A`` (§6). Its inner structure is unknown, so it is
#: random here.
HOLDER_ID_LENGTH: Final = 23
HOLDER_ID_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# subjectAltName otherName type ids carrying the basic four items in the
# signing certificate (§6: MYNA-go, the jsrsasign OID list and the PocketSign
# schema agree on this numbering).
OID_NAME: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.1")  # 氏名
OID_NAME_SUBSTITUTE: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.2")  # 氏名代替文字
OID_GENDER: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.3")  # 性別
OID_BIRTH_DATE: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.4")  # 生年月日
OID_ADDRESS: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.5")  # 住所
OID_ADDRESS_SUBSTITUTE: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.6")  # 住所代替文字

#: Field name to otherName OID, in the order the entries appear in the SAN.
SAN_OIDS: Final = MappingProxyType(
    {
        "name": OID_NAME,
        "name_substitute": OID_NAME_SUBSTITUTE,
        "gender": OID_GENDER,
        "birth_date": OID_BIRTH_DATE,
        "address": OID_ADDRESS,
        "address_substitute": OID_ADDRESS_SUBSTITUTE,
    }
)

# UNCONFIRMED: the ASN.1 string type of the otherName values (§6, §10). We use
# UTF8String (universal tag 12): the names and addresses are kanji, which only
# UTF8String and BMPString can carry, and UTF8String is what RFC 5280 asks
# new certificates to use.
SAN_VALUE_TAG: Final = 0x0C


def _key_usage(
    *,
    digital_signature: bool = False,
    content_commitment: bool = False,  # nonRepudiation
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    """A KeyUsage with only the named bits set; no encipherment or key agreement."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


#: The roots' KeyUsage: certificate and CRL signing only.
CA_KEY_USAGE: Final = _key_usage(key_cert_sign=True, crl_sign=True)

# UNCONFIRMED: the holder certificates' KeyUsage (§6, §10). OpenSC gives the
# auth key usage SIGN and the signing key SIGN|NONREPUDIATION (OSC-p15), so we
# mirror that, critical as RFC 5280 recommends.
HOLDER_KEY_USAGE: Final = MappingProxyType(
    {
        CertKind.AUTH: _key_usage(digital_signature=True),
        CertKind.SIGN: _key_usage(digital_signature=True, content_commitment=True),
    }
)

#: Holder certificates run until the holder's 5th birthday after issue (§6,
#: JPKI app FAQ; the test card's auth cert ends on the birthday).
HOLDER_VALIDITY_YEARS: Final = 5
# UNCONFIRMED: the time of day on that birthday. We end at the last second of
# the day in Japan; the sources only give the date. Someone born on 29 February
# gets 28 February in common years (also UNCONFIRMED; Japanese law counts age
# from the day before the birthday, which points the same way).
VALIDITY_END_TIME: Final = dt.time(23, 59, 59, tzinfo=JST)

# UNCONFIRMED: the policy OIDs appear in the jsrsasign OID list, but no source
# shows them inside a card's certificates (§6). We include them because a
# verifier that checks policies is then testable, and one that ignores them
# loses nothing.
SIGN_POLICY_OID: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.1.1.20")
AUTH_POLICY_OID: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.1.3.30")

#: CRL distribution point. The .invalid TLD never resolves (RFC 2606), so a
#: verifier that tries to fetch it fails fast instead of reaching the Internet.
CRL_URL_TEMPLATE: Final = "http://crl.jpki-test.invalid/{kind}.crl"

# UNCONFIRMED: the era digit in the birth-date value (EYYYYMMDD, §6). We use
# the order of the eras, which is also the era code of Japan's residence
# record systems: 1 明治, 2 大正, 3 昭和, 4 平成, 5 令和. Start dates are
# Gregorian; Meiji is taken from its proclamation (1868-10-23).
ERA_STARTS: Final = (
    (dt.date(2019, 5, 1), "5"),  # 令和
    (dt.date(1989, 1, 8), "4"),  # 平成
    (dt.date(1926, 12, 25), "3"),  # 昭和
    (dt.date(1912, 7, 30), "2"),  # 大正
    (dt.date(1868, 10, 23), "1"),  # 明治
)


def ca_name(kind: CertKind, family: CaFamily = CaFamily.CARD) -> x509.Name:
    """Return the DN of the ``kind`` CA of ``family``, both its subject and issuer."""
    units = _MOBILE_CA_OU if family is CaFamily.MOBILE else _CA_OU
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, units[kind]),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, CA_DN_COMMON),
        ]
    )


def crl_url(kind: CertKind, family: CaFamily = CaFamily.CARD) -> str:
    """Return the CRL distribution point URL written into ``kind`` certificates."""
    name = kind.value if family is CaFamily.CARD else f"{family.value}-{kind.value}"
    return CRL_URL_TEMPLATE.format(kind=name)


def era_code(date: dt.date) -> str:
    """Return the one-digit era code for ``date`` (see ``ERA_STARTS``).

    Raises:
        ValueError: ``date`` is before the Meiji era.
    """
    for start, code in ERA_STARTS:
        if date >= start:
            return code
    raise ValueError("dates before the Meiji era have no era code")
