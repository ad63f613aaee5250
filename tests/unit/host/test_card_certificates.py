# SPDX-License-Identifier: Apache-2.0
"""host.card.certificates: DER parsing, summaries, the basic four from the SAN."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from host.card import KeyKind, summarize_certificate
from host.card import constants as c
from host.card.certificates import decode_san_basic_four, parse_certificate
from host.errors import DataFormatError
from tests.unit.host.host_vectors import h

NAME = "山田\u3000太郎"
ADDRESS = "東京都千代田区霞が関１－１－１"


def utf8(text: str) -> bytes:
    body = text.encode("utf-8")
    assert len(body) < 128
    return bytes([0x0C, len(body)]) + body


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_cert(
    key: rsa.RSAPrivateKey, san: dict[x509.ObjectIdentifier, bytes] | None
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "997794E9AGCIEG13221003A")])
    issuer = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI-TEST")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(0x1234)
        .not_valid_before(dt.datetime(2025, 10, 27, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2030, 2, 17, 14, 59, 59, tzinfo=dt.UTC))
    )
    if san is not None:
        entries = [x509.OtherName(oid, value) for oid, value in san.items()]
        builder = builder.add_extension(x509.SubjectAlternativeName(entries), critical=False)
    return builder.sign(key, hashes.SHA256())


def full_san() -> dict[x509.ObjectIdentifier, bytes]:
    return {
        c.OID_SAN_NAME: utf8(NAME),
        c.OID_SAN_NAME_SUBSTITUTE: utf8(NAME),
        c.OID_SAN_GENDER: utf8("2"),
        c.OID_SAN_BIRTH_DATE: utf8("419890108"),  # era digit + YYYYMMDD
        c.OID_SAN_ADDRESS: utf8(ADDRESS),
        c.OID_SAN_ADDRESS_SUBSTITUTE: utf8(ADDRESS),
    }


def test_sign_summary_decodes_basic_four(key: rsa.RSAPrivateKey) -> None:
    cert = make_cert(key, full_san())
    summary = summarize_certificate(cert, KeyKind.SIGN)
    assert summary.kind is KeyKind.SIGN
    assert summary.serial == 0x1234
    assert summary.subject == "CN=997794E9AGCIEG13221003A"
    assert summary.issuer == "O=JPKI-TEST"
    assert summary.not_after == dt.datetime(2030, 2, 17, 14, 59, 59, tzinfo=dt.UTC)
    assert summary.not_before.tzinfo is not None
    four = summary.basic_four
    assert four is not None
    assert (four.name, four.address, four.sex) == (NAME, ADDRESS, "2")
    assert four.birth_date == dt.date(1989, 1, 8)
    assert NAME not in repr(summary)
    assert ADDRESS not in repr(summary)


def test_auth_summary_has_no_basic_four(key: rsa.RSAPrivateKey) -> None:
    summary = summarize_certificate(make_cert(key, None), KeyKind.AUTH)
    assert summary.basic_four is None


def test_eight_digit_birth_date_and_other_string_types(key: rsa.RSAPrivateKey) -> None:
    san = full_san()
    san[c.OID_SAN_BIRTH_DATE] = h("13 08") + b"19890108"  # PrintableString
    san[c.OID_SAN_NAME] = h("1E 04") + "山田".encode("utf-16-be")  # BMPString
    four = decode_san_basic_four(make_cert(key, san))
    assert four.birth_date == dt.date(1989, 1, 8)
    assert four.name == "山田"


@pytest.mark.parametrize(
    ("oid", "value"),
    [
        (c.OID_SAN_GENDER, None),  # missing
        (c.OID_SAN_GENDER, h("0C 02 31 32")),  # two digits
        (c.OID_SAN_BIRTH_DATE, h("0C 03 31 32 33")),  # not a date
        (c.OID_SAN_NAME, h("04 02 41 42")),  # OCTET STRING, not a string type
        (c.OID_SAN_ADDRESS, h("0C 02 FF FE")),  # invalid UTF-8
    ],
)
def test_bad_san_values(
    key: rsa.RSAPrivateKey, oid: x509.ObjectIdentifier, value: bytes | None
) -> None:
    san = full_san()
    if value is None:
        del san[oid]
    else:
        san[oid] = value
    with pytest.raises(DataFormatError):
        decode_san_basic_four(make_cert(key, san))


def test_sign_cert_without_san(key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(DataFormatError, match="subjectAltName"):
        summarize_certificate(make_cert(key, None), KeyKind.SIGN)


def test_parse_certificate_roundtrip_and_filler(key: rsa.RSAPrivateKey) -> None:
    der = make_cert(key, None).public_bytes(serialization.Encoding.DER)
    assert parse_certificate(der).serial_number == 0x1234
    with pytest.raises(DataFormatError):
        parse_certificate(der[:-10])


@given(st.binary(max_size=300))
def test_fuzz_parse_certificate(raw: bytes) -> None:
    with contextlib.suppress(DataFormatError):
        parse_certificate(raw)
