# SPDX-License-Identifier: Apache-2.0
"""host.card.integrity: EF 0003 parsing, the hashes, the issuer signature."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given
from hypothesis import strategies as st

from host.card.integrity import (
    IntegrityRecord,
    basic_four_signed_span,
    check_integrity,
    parse_integrity_record,
)
from host.errors import DataFormatError, IntegrityError
from tests.unit.host.host_vectors import (
    BASIC_FOUR_9_3,
    MY_NUMBER_VALID,
    h,
    integrity_record,
    my_number_file,
)

MY_NUMBER_EF = my_number_file(MY_NUMBER_VALID)
SIGNED_SPAN = BASIC_FOUR_9_3[0x0E:]  # DF22's tag to the end of FF20


@pytest.fixture(scope="module")
def issuer() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def signed_record(issuer: rsa.RSAPrivateKey) -> bytes:
    hashes_ = hashlib.sha256(MY_NUMBER_EF).digest() + hashlib.sha256(SIGNED_SPAN).digest()
    signature = issuer.sign(hashes_, padding.PKCS1v15(), hashes.SHA256())
    return integrity_record(MY_NUMBER_EF, SIGNED_SPAN, signature)


def test_signed_span_is_df22_to_end() -> None:
    assert basic_four_signed_span(BASIC_FOUR_9_3 + b"\xff" * 8) == SIGNED_SPAN
    assert basic_four_signed_span(BASIC_FOUR_9_3)[:2] == h("DF 22")


def test_record_layout_is_336_bytes(issuer: rsa.RSAPrivateKey) -> None:
    raw = signed_record(issuer)
    assert len(raw) == 336
    assert raw[:5] == h("FF 30 82 01 4B")
    record = parse_integrity_record(raw + b"\xff" * 16)
    assert record.my_number_hash == hashlib.sha256(MY_NUMBER_EF).digest()
    assert len(record.signature) == 256


def test_everything_matches(issuer: rsa.RSAPrivateKey) -> None:
    record = parse_integrity_record(signed_record(issuer))
    status = check_integrity(
        record,
        basic_four_ef=BASIC_FOUR_9_3,
        my_number_ef=MY_NUMBER_EF,
        issuer_key=issuer.public_key(),
    )
    assert status.hashes_ok
    assert status.my_number_checked
    assert status.signature_verified


def test_hashes_only_without_key(issuer: rsa.RSAPrivateKey) -> None:
    record = parse_integrity_record(signed_record(issuer))
    status = check_integrity(record, basic_four_ef=BASIC_FOUR_9_3)
    assert status.hashes_ok
    assert not status.my_number_checked
    assert not status.signature_verified


def test_altered_basic_four_fails(issuer: rsa.RSAPrivateKey) -> None:
    record = parse_integrity_record(signed_record(issuer))
    altered = BASIC_FOUR_9_3.replace(b"19800101", b"19800102")
    with pytest.raises(IntegrityError, match="basic-four"):
        check_integrity(record, basic_four_ef=altered)


def test_altered_my_number_filler_fails(issuer: rsa.RSAPrivateKey) -> None:
    # DF31 covers the physical file, filler included
    record = parse_integrity_record(signed_record(issuer))
    with pytest.raises(IntegrityError, match="My Number"):
        check_integrity(record, my_number_ef=MY_NUMBER_EF[:-1] + b"\x00")


def test_foreign_issuer_fails(issuer: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    record = parse_integrity_record(signed_record(issuer))
    with pytest.raises(IntegrityError, match="trusted issuer"):
        check_integrity(record, basic_four_ef=BASIC_FOUR_9_3, issuer_key=other.public_key())


def test_tampered_hash_field_breaks_signature(issuer: rsa.RSAPrivateKey) -> None:
    good = parse_integrity_record(signed_record(issuer))
    forged = IntegrityRecord(
        my_number_hash=b"\x00" * 32,
        basic_four_hash=good.basic_four_hash,
        signature=good.signature,
    )
    with pytest.raises(IntegrityError):
        check_integrity(forged, issuer_key=issuer.public_key())


@pytest.mark.parametrize(
    "raw",
    [
        "FF 31 00",  # wrong tag
        "FF 30 03 DF 31 00",  # missing DF32/DF33, short hash
        "FF 30 0C DF 31 01 00 DF 32 01 00 DF 33 01 00",  # hashes not 32 bytes
        "FF 30 82 01 4B DF 31 20",  # truncated
    ],
)
def test_malformed_records(raw: str) -> None:
    with pytest.raises(DataFormatError):
        parse_integrity_record(h(raw))


def test_duplicate_objects_refused() -> None:
    digest = b"\x00" * 32
    body = (h("DF 31 20") + digest) * 2 + h("DF 32 20") + digest + h("DF 33 01 00")
    with pytest.raises(DataFormatError, match="2 DF31"):
        parse_integrity_record(h("FF 30 81") + bytes([len(body)]) + body)


@given(st.binary(max_size=400))
def test_fuzz_only_typed_errors(raw: bytes) -> None:
    try:
        record = parse_integrity_record(raw)
        check_integrity(record, basic_four_ef=raw, my_number_ef=raw)
    except (DataFormatError, IntegrityError):
        pass
