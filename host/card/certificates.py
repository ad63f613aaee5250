# SPDX-License-Identifier: Apache-2.0
"""Holder certificates: parsing DER from the card and summarising them.

A flow shows "whose card is this, valid until when" and the signing
certificate also carries the basic four items in subjectAltName otherName
entries (jpki-card.md §6), each ``[0] EXPLICIT`` around a string. This module
turns the card's DER into a ``cryptography`` certificate, and a certificate
into a ``CertificateSummary`` whose repr redacts the personal part. Errors are
``DataFormatError``: the bytes came from the card.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509

from host.card import constants as c
from host.card.basic_four import BasicFour, parse_birth_date
from host.card.kinds import KeyKind
from host.errors import DataFormatError
from host.tlv import parse_one

__all__ = [
    "CertificateSummary",
    "decode_san_basic_four",
    "parse_certificate",
    "summarize_certificate",
]

# ASN.1 universal string tags a SAN value may use. The card's type is
# UNCONFIRMED (§6, §10): UTF8String is expected; the others cost nothing.
_UTF8_STRING = 0x0C
_PRINTABLE_STRING = 0x13
_IA5_STRING = 0x16
_BMP_STRING = 0x1E


@dataclass(frozen=True)
class CertificateSummary:
    """What a flow shows of a holder certificate.

    Attributes:
        kind: which key pair the certificate belongs to.
        subject, issuer: RFC 4514 strings (no personal data in JPKI subjects
            beyond the municipality of a signing certificate).
        serial: the serial number.
        not_before, not_after: validity, timezone-aware UTC.
        basic_four: for a signing certificate, the basic four items from the
            SAN (redacted in the repr); None for an authentication one.
    """

    kind: KeyKind
    subject: str
    issuer: str
    serial: int
    not_before: dt.datetime
    not_after: dt.datetime
    basic_four: BasicFour | None = None


def parse_certificate(der: bytes) -> x509.Certificate:
    """Parse a DER certificate read from the card.

    Raises:
        DataFormatError: not a DER X.509 certificate.
    """
    try:
        return x509.load_der_x509_certificate(bytes(der))
    except (ValueError, x509.InvalidVersion) as exc:  # InvalidVersion is no ValueError
        raise DataFormatError("certificate on the card is not valid DER X.509") from exc


def _san_string(value: bytes) -> str:
    item = parse_one(value)
    try:
        if item.tag == _UTF8_STRING:
            return item.value.decode("utf-8")
        if item.tag in (_PRINTABLE_STRING, _IA5_STRING):
            return item.value.decode("ascii")
        if item.tag == _BMP_STRING:
            return item.value.decode("utf-16-be")
    except UnicodeDecodeError:
        raise DataFormatError("subjectAltName value is not a valid string") from None
    raise DataFormatError(f"subjectAltName value has string tag {item.tag:X}")


def _san_birth_date(text: str) -> dt.date:
    # "EYYYYMMDD" with an era digit first, per a third party reading the
    # profile spec (UNCONFIRMED, §6); plain YYYYMMDD is accepted too.
    if len(text) == 9:
        text = text[1:]
    return parse_birth_date(text)


def decode_san_basic_four(cert: x509.Certificate) -> BasicFour:
    """Read the basic four items from a signing certificate's subjectAltName.

    Raises:
        DataFormatError: no SAN, an item missing, or a value that does not parse.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise DataFormatError("signing certificate has no subjectAltName") from None
    except ValueError as exc:
        raise DataFormatError("signing certificate has a malformed extension") from exc
    values: dict[x509.ObjectIdentifier, str] = {}
    for other in san.get_values_for_type(x509.OtherName):
        values.setdefault(other.type_id, _san_string(other.value))
    wanted = (c.OID_SAN_NAME, c.OID_SAN_ADDRESS, c.OID_SAN_BIRTH_DATE, c.OID_SAN_GENDER)
    missing = [oid.dotted_string for oid in wanted if oid not in values]
    if missing:
        raise DataFormatError("subjectAltName lacks " + ", ".join(missing))
    sex = values[c.OID_SAN_GENDER]
    if len(sex) != 1 or not sex.isascii() or not sex.isdigit():
        raise DataFormatError("subjectAltName gender is not one digit")
    return BasicFour(
        name=values[c.OID_SAN_NAME],
        address=values[c.OID_SAN_ADDRESS],
        birth_date=_san_birth_date(values[c.OID_SAN_BIRTH_DATE]),
        sex=sex,
    )


def summarize_certificate(cert: x509.Certificate, kind: KeyKind) -> CertificateSummary:
    """Summarise a holder certificate; SIGN certificates get their basic four decoded.

    Raises:
        DataFormatError: the certificate's names or SAN do not parse.
    """
    try:
        subject = cert.subject.rfc4514_string()
        issuer = cert.issuer.rfc4514_string()
    except ValueError as exc:
        raise DataFormatError("certificate names do not parse") from exc
    return CertificateSummary(
        kind=kind,
        subject=subject,
        issuer=issuer,
        serial=cert.serial_number,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        basic_four=decode_san_basic_four(cert) if kind is KeyKind.SIGN else None,
    )
