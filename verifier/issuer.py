# SPDX-License-Identifier: Apache-2.0
"""The issuer side of the issuer-protected PIN reset (our model; see hw_sim/card).

Why a model: the real card's issuer protocol is not public (jpki-card.md §4.1:
RESET RETRY COUNTER is used by no open implementation). Ours follows the
usual smart-card pattern, specified here and implemented independently on
the virtual card:

* ``card_id`` = first 16 bytes of SHA-256(DER of the card's user-authentication
  certificate); the card computes it from its own EF 000A.
* issuer key (AES-128) = first 16 bytes of
  HMAC-SHA256(master, ``"MYNA-EDGE/ISSUER-KEY/1"`` || card_id): each card
  holds only its own key, the service holds the master.
* authorisation = AES-CMAC(issuer key, ``"MYNA-EDGE/RESET/1"`` || card_id ||
  card challenge (8 bytes, GET CHALLENGE) || operation (1 byte: 01 signing
  password, 02 authentication PIN)), checked by EXTERNAL AUTHENTICATE.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms

__all__ = [
    "CARD_CHALLENGE_BYTES",
    "CARD_ID_BYTES",
    "card_id",
    "diversify",
    "issuer_authorization",
    "one_time_password",
]

CARD_ID_BYTES: Final = 16
CARD_CHALLENGE_BYTES: Final = 8
_KEY_LABEL: Final = b"MYNA-EDGE/ISSUER-KEY/1"
_MAC_LABEL: Final = b"MYNA-EDGE/RESET/1"
_OTP_LABEL: Final = b"MYNA-EDGE/OTP/1"


def card_id(auth_certificate_der: bytes) -> bytes:
    """The card's issuer-facing id from its authentication certificate."""
    return hashlib.sha256(auth_certificate_der).digest()[:CARD_ID_BYTES]


def diversify(master_key: bytes, card: bytes) -> bytes:
    """The card's own AES-128 issuer key."""
    return hmac.new(master_key, _KEY_LABEL + card, hashlib.sha256).digest()[:16]


def issuer_authorization(master_key: bytes, card: bytes, challenge: bytes, operation: int) -> bytes:
    """The 16-byte MAC the card checks before RESET RETRY COUNTER.

    Raises:
        ValueError: wrong card id or challenge size, or an operation outside 1-2.
    """
    if len(card) != CARD_ID_BYTES or len(challenge) != CARD_CHALLENGE_BYTES:
        raise ValueError("card id is 16 bytes and the challenge 8")
    if operation not in (1, 2):
        raise ValueError("operation is 1 (signing password) or 2 (authentication PIN)")
    mac = cmac.CMAC(algorithms.AES(diversify(master_key, card)))
    mac.update(_MAC_LABEL + card + challenge + bytes([operation]))
    return mac.finalize()


def one_time_password(master_key: bytes, reservation_id: str) -> str:
    """The 8-digit OTP of a reservation, derived so it is never stored."""
    digest = hmac.new(master_key, _OTP_LABEL + reservation_id.encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 100_000_000:08d}"
