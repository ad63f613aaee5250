# SPDX-License-Identifier: Apache-2.0
"""The card-info AP's integrity record (EF 0003), checked against what was read.

EF 0003 is ``FF 30 { DF31 SHA-256(EF 0001 as stored, filler included),
DF32 SHA-256(EF 0002 from the DF22 tag to the end of the FF20 object), DF33
RSA signature }`` (jpki-card.md §3.2). The hashes catch a garbled read on a
noisy contactless link; the signature, made by the card-data issuer over
``DF31 value || DF32 value`` (PKCS#1 v1.5, SHA-256), proves the data was
written by the issuer. The hashes are always checked; the signature only when
the caller trusts an issuer public key. Everything here is pure, so an altered
file can be fed in directly by tests.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from host.card import constants as c
from host.errors import DataFormatError, IntegrityError
from host.tlv import Tlv, parse_one

__all__ = [
    "IntegrityRecord",
    "IntegrityStatus",
    "basic_four_signed_span",
    "check_integrity",
    "parse_integrity_record",
]


@dataclass(frozen=True)
class IntegrityRecord:
    """The parsed EF 0003.

    Attributes:
        my_number_hash: DF31, SHA-256 of EF 0001 as stored.
        basic_four_hash: DF32, SHA-256 of the signed span of EF 0002.
        signature: DF33, the issuer's RSA signature over DF31 || DF32 values.
    """

    my_number_hash: bytes
    basic_four_hash: bytes
    signature: bytes


@dataclass(frozen=True)
class IntegrityStatus:
    """What a successful :func:`check_integrity` confirmed.

    Attributes:
        hashes_ok: the hashes of every file given matched (always True once
            returned: a mismatch raises).
        my_number_checked: EF 0001 was given and its hash matched.
        signature_verified: the issuer's signature was checked and matched.
    """

    hashes_ok: bool
    my_number_checked: bool
    signature_verified: bool


def _only(outer: Tlv, tag: int) -> Tlv:
    found = [item for item in outer.children() if item.tag == tag]
    if len(found) != 1:
        raise DataFormatError(f"integrity record holds {len(found)} {tag:X} objects, not 1")
    return found[0]


def parse_integrity_record(raw: bytes) -> IntegrityRecord:
    """Parse EF 0003 (``FF`` filler after the object is fine).

    Raises:
        DataFormatError: wrong tags, missing objects, or hashes not 32 bytes.
    """
    outer = parse_one(raw)
    if outer.tag != c.TAG_INTEGRITY:
        raise DataFormatError(f"integrity file starts with tag {outer.tag:X}, not FF30")
    my_number_hash = _only(outer, c.TAG_INT_MY_NUMBER_HASH).value
    basic_four_hash = _only(outer, c.TAG_INT_BASIC_FOUR_HASH).value
    signature = _only(outer, c.TAG_INT_SIGNATURE).value
    for value in (my_number_hash, basic_four_hash):
        if len(value) != c.SHA256_DIGEST_LENGTH:
            raise DataFormatError("integrity hash is not 32 bytes")
    if not signature:
        raise DataFormatError("integrity signature is empty")
    return IntegrityRecord(my_number_hash, basic_four_hash, signature)


def basic_four_signed_span(basic_four_ef: bytes) -> bytes:
    """Return the bytes of EF 0002 that DF32 hashes: DF22's tag to the FF20 object's end.

    Raises:
        DataFormatError: the file is not an FF20 object holding DF22.
    """
    outer = parse_one(basic_four_ef)
    if outer.tag != c.TAG_BASIC_FOUR:
        raise DataFormatError(f"basic-four file starts with tag {outer.tag:X}, not FF20")
    name = outer.child(c.TAG_BF_NAME)
    return bytes(basic_four_ef[name.offset : outer.end])


def check_integrity(
    record: IntegrityRecord,
    *,
    basic_four_ef: bytes | None = None,
    my_number_ef: bytes | None = None,
    issuer_key: rsa.RSAPublicKey | None = None,
) -> IntegrityStatus:
    """Check files read from the card against their integrity record.

    Args:
        record: the parsed EF 0003.
        basic_four_ef: EF 0002 as read (filler after the object is ignored).
        my_number_ef: EF 0001 exactly as stored, filler included (DF31 covers
            the physical content).
        issuer_key: the card-data issuer's public key; None skips the signature.

    Returns:
        what was checked.

    Raises:
        IntegrityError: a hash or the signature does not match.
        DataFormatError: ``basic_four_ef`` does not parse.
    """
    if basic_four_ef is not None:
        digest = hashlib.sha256(basic_four_signed_span(basic_four_ef)).digest()
        if not hmac.compare_digest(digest, record.basic_four_hash):
            raise IntegrityError("basic-four file does not match its integrity hash")
    if my_number_ef is not None:
        digest = hashlib.sha256(my_number_ef).digest()
        if not hmac.compare_digest(digest, record.my_number_hash):
            raise IntegrityError("My Number file does not match its integrity hash")
    if issuer_key is not None:
        try:
            issuer_key.verify(
                record.signature,
                record.my_number_hash + record.basic_four_hash,
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature as exc:
            raise IntegrityError("integrity record is not signed by the trusted issuer") from exc
    return IntegrityStatus(
        hashes_ok=True,
        my_number_checked=my_number_ef is not None,
        signature_verified=issuer_key is not None,
    )
