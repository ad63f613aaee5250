# SPDX-License-Identifier: Apache-2.0
"""The card's RSA private-key operations for COMPUTE DIGITAL SIGNATURE.

JPKI hosts send a DER DigestInfo and the card adds PKCS#1 v1.5 type-1
padding around exactly those bytes (jpki-card.md §4.1, OSC-card). The
``cryptography`` API only signs a hash it wraps itself, so scheme ``00`` is
done by hand: EM = ``00 01 FF…FF 00 ‖ input`` and s = EM^d mod n, computed
with the CRT parameters. Any input of 1..245 bytes (k − 11) is padded as
given, just as the card does; the host is responsible for the DigestInfo.

SOL found five more schemes selected by P1 (§4.1); they are single-source
and implemented here as SOL describes them:

====  ========================================================================
P1    input and operation
====  ========================================================================
00    1..245 bytes, padded as given (every other source uses only this)
01    any bytes; the card hashes them with SHA-256 and pads the bare hash
02    a 32-byte SHA-256 hash; the card wraps it in a DigestInfo
03    any bytes; the card hashes and wraps (plain sha256WithRSAEncryption)
04    a 32-byte SHA-256 hash; RSASSA-PSS
05    any bytes; the card hashes them; RSASSA-PSS
====  ========================================================================
"""

from __future__ import annotations

import hashlib
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

__all__ = [
    "DIGEST_INFO_SHA256",
    "MAX_RAW_INPUT",
    "SCHEMES",
    "pkcs1_v15_raw",
    "sign_with_scheme",
]

#: DER DigestInfo prefix for SHA-256 (§4.1): 19 bytes, then the 32-byte hash.
DIGEST_INFO_SHA256: Final = bytes.fromhex(
    "30 31 30 0D 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20"
)
#: The longest input scheme 00 pads: k − 11 for RSA-2048 (§4.1, SOL).
MAX_RAW_INPUT: Final = 245
#: P1 values COMPUTE DIGITAL SIGNATURE accepts; any other P1 is ``6A86`` (SOL).
SCHEMES: Final = frozenset(range(6))
# UNCONFIRMED: the PSS salt length of schemes 04/05 (SOL does not say); we
# use the hash length, the usual choice.
_PSS_SALT_LENGTH: Final = 32
_SHA256_SIZE: Final = 32


def pkcs1_v15_raw(key: rsa.RSAPrivateKey, payload: bytes) -> bytes:
    """Return the RSA signature of ``payload`` with PKCS#1 v1.5 type-1 padding.

    ``payload`` is padded as given (usually a DigestInfo).

    Raises:
        ValueError: ``payload`` is empty or longer than the key allows (k − 11).
    """
    numbers = key.private_numbers()
    public = numbers.public_numbers
    size = (public.n.bit_length() + 7) // 8
    if not payload or len(payload) > size - 11:
        raise ValueError("payload does not fit PKCS#1 v1.5 type-1 padding")
    encoded = b"\x00\x01" + b"\xff" * (size - 3 - len(payload)) + b"\x00" + payload
    message = int.from_bytes(encoded, "big")
    # CRT: four times faster than pow(m, d, n), same result.
    s1 = pow(message, numbers.dmp1, numbers.p)
    s2 = pow(message, numbers.dmq1, numbers.q)
    h = (numbers.iqmp * (s1 - s2)) % numbers.p
    signature = s2 + h * numbers.q
    return signature.to_bytes(size, "big")


def sign_with_scheme(key: rsa.RSAPrivateKey, scheme: int, data: bytes) -> bytes | None:
    """Sign ``data`` with the P1 ``scheme`` (table above).

    Returns:
        The signature, or None when ``data`` has the wrong length for the
        scheme (the card answers ``6700``).

    Raises:
        ValueError: ``scheme`` is not in ``SCHEMES``.
    """
    if not data:
        return None
    if scheme == 0x00:
        return pkcs1_v15_raw(key, data) if len(data) <= MAX_RAW_INPUT else None
    if scheme == 0x01:
        return pkcs1_v15_raw(key, hashlib.sha256(data).digest())
    if scheme in (0x02, 0x04) and len(data) != _SHA256_SIZE:
        return None
    digest = data if scheme in (0x02, 0x04) else hashlib.sha256(data).digest()
    if scheme in (0x02, 0x03):
        return pkcs1_v15_raw(key, DIGEST_INFO_SHA256 + digest)
    if scheme in (0x04, 0x05):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=_PSS_SALT_LENGTH)
        return key.sign(digest, pss, utils.Prehashed(hashes.SHA256()))
    raise ValueError(f"unknown signature scheme {scheme:#04x}")
