# SPDX-License-Identifier: Apache-2.0
"""Card-verifiable certificates and public-key blobs of the 券面 applications.

Both 券面 APs hold their own RSA-2048 key, publish it in a CV certificate
(EF 0004) signed by the card issuer, and repeat it inside their signed
records so a host can check the ``80 2A 00 00`` self-signature against it
(jpki-card.md §3.2, §3.3). Layout of EF 0004, 568 bytes (SOL ``data.rs``)::

    7F 21 82 02 33
       5F 4E 82 01 29  issuer key id (16) ‖ subject key id (16)
                       ‖ 90 03 01 00 01 ‖ 91 82 01 00 <modulus 256>
       5F 37 82 01 00  <signature 256>

UNCONFIRMED choices, since only the layout is known: a key id is the first
16 bytes of SHA-256 over the modulus; the signature is RSASSA-PKCS1-v1_5
with SHA-256 by the card-data issuer key (``TestPki.card_data_key``) over
the whole ``5F 4E`` object, tag and length included.
"""

from __future__ import annotations

import hashlib
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from hw_sim.card.tlv import tlv

__all__ = ["CV_CERT_SIZE", "cv_certificate", "key_id", "public_key_blob"]

#: EF 0004's size in both 券面 APs (§3.2; MYNA-go reads exactly 568 bytes).
CV_CERT_SIZE: Final = 568
_MODULUS_BYTES: Final = 256


def public_key_blob(key: rsa.RSAPublicKey) -> bytes:
    """Return ``90 03 <e> 91 82 01 00 <n>``: the cards' public-key encoding (§3.2).

    Raises:
        ValueError: the key is not RSA-2048 with a 3-byte exponent.
    """
    numbers = key.public_numbers()
    exponent = numbers.e.to_bytes(3, "big")
    if numbers.n.bit_length() != _MODULUS_BYTES * 8 or numbers.e >= 1 << 24:
        raise ValueError("card keys are RSA-2048 with e = 65537")
    return tlv(b"\x90", exponent) + tlv(b"\x91", numbers.n.to_bytes(_MODULUS_BYTES, "big"))


def key_id(key: rsa.RSAPublicKey) -> bytes:
    """Return the 16-byte key id of ``key`` (UNCONFIRMED derivation, see above)."""
    modulus = key.public_numbers().n.to_bytes(_MODULUS_BYTES, "big")
    return hashlib.sha256(modulus).digest()[:16]


def cv_certificate(subject: rsa.RSAPublicKey, issuer: rsa.RSAPrivateKey) -> bytes:
    """Return the 568-byte CV certificate of ``subject`` signed by ``issuer``."""
    body = key_id(issuer.public_key()) + key_id(subject) + public_key_blob(subject)
    content = tlv(b"\x5f\x4e", body)
    signature = issuer.sign(content, padding.PKCS1v15(), hashes.SHA256())
    certificate = tlv(b"\x7f\x21", content + tlv(b"\x5f\x37", signature))
    if len(certificate) != CV_CERT_SIZE:
        raise ValueError("card keys are RSA-2048")
    return certificate
