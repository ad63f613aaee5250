# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.card.signing``: the raw PKCS#1 v1.5 operation and SOL's schemes."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from hw_sim.card.signing import (
    DIGEST_INFO_SHA256,
    MAX_RAW_INPUT,
    SCHEMES,
    pkcs1_v15_raw,
    sign_with_scheme,
)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_raw_equals_the_library_for_a_digest_info(key: rsa.RSAPrivateKey) -> None:
    digest = hashlib.sha256(b"abc").digest()
    ours = pkcs1_v15_raw(key, DIGEST_INFO_SHA256 + digest)
    # PKCS#1 v1.5 signing is deterministic, so the bytes must be identical.
    assert ours == key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


def test_raw_limits(key: rsa.RSAPrivateKey) -> None:
    assert len(pkcs1_v15_raw(key, b"\x00" * MAX_RAW_INPUT)) == 256
    for payload in (b"", b"\x00" * (MAX_RAW_INPUT + 1)):
        with pytest.raises(ValueError, match="does not fit"):
            pkcs1_v15_raw(key, payload)


def test_schemes(key: rsa.RSAPrivateKey) -> None:
    public = key.public_key()
    digest = hashlib.sha256(b"msg").digest()
    prehashed = utils.Prehashed(hashes.SHA256())
    for scheme, data in ((0x02, digest), (0x03, b"msg")):
        signature = sign_with_scheme(key, scheme, data)
        assert signature is not None
        public.verify(signature, digest, padding.PKCS1v15(), prehashed)
    assert sign_with_scheme(key, 0x00, b"\x01" * 246) is None
    assert sign_with_scheme(key, 0x00, b"") is None
    assert sign_with_scheme(key, 0x02, b"\x01" * 20) is None
    assert sign_with_scheme(key, 0x04, b"\x01" * 33) is None
    assert frozenset(range(6)) == SCHEMES
    with pytest.raises(ValueError, match="unknown signature scheme"):
        sign_with_scheme(key, 0x06, b"x")
