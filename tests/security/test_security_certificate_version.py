# SPDX-License-Identifier: Apache-2.0
"""A certificate whose X.509 version is out of range is a typed refusal on every side.

Why: ``cryptography`` raises ``x509.InvalidVersion`` for it, which is not a
``ValueError``; the fuzz campaign flipped one bit of a card certificate's
version and the municipality answered UNKNOWN (an unhandled exception). The
same parse sits in the agent's card driver and the verifier's PKI.
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from host.card.certificates import parse_certificate
from host.errors import DataFormatError
from municipal.service import certificate_link
from verifier.codes import Reason
from verifier.pki import TrustStore

#: DER of ``version [0] EXPLICIT INTEGER 2`` (v3), as every certificate here starts.
_V3: bytes = b"\xa0\x03\x02\x01\x02"


def _bad_version_der() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "card")])
    now = dt.datetime.now(dt.UTC)
    der = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    assert der.count(_V3) >= 1
    return der.replace(_V3, b"\xa0\x03\x02\x01\x12", 1)  # version 18, as the fuzzer made it


def test_cryptography_still_raises_something_other_than_value_error() -> None:
    # If this ever becomes a ValueError, the special cases below may go.
    with pytest.raises(x509.InvalidVersion):
        x509.load_der_x509_certificate(_bad_version_der())


def test_the_agent_refuses_it_as_bad_card_data() -> None:
    with pytest.raises(DataFormatError):
        parse_certificate(_bad_version_der())


def test_the_municipality_refuses_it_as_invalid_input() -> None:
    with pytest.raises(ValueError, match="version"):
        certificate_link(_bad_version_der())


def test_the_verifier_calls_it_malformed() -> None:
    # _check_static needs no trust material for a certificate that does not parse.
    store = object.__new__(TrustStore)
    assert store._check_static("auth", _bad_version_der()).reason is Reason.CERTIFICATE_MALFORMED
