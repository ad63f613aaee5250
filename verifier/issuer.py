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
* authorisation = AES-CMAC(issuer key, ``"MYNA-EDGE/RESET/2"`` || card_id ||
  card challenge (8 bytes, GET CHALLENGE) || operation (1 byte: 01 signing
  password, 02 authentication PIN) || SHA-256(DER of the proving
  certificate)), checked by EXTERNAL AUTHENTICATE.

Why the proving certificate is in the MAC (version 2, issue 22): the
authentication PIN is reset with a proof by the *signing* key, and nothing
in a signing certificate names the card id (JPKI keeps the two certificates
unlinkable). Version 1 let a kiosk prove with card A's signing key and get
an authorisation for card B. Now the card recomputes the MAC over ITS OWN
certificate of the proving key (op 01: EF 000A, op 02: EF 0001), so an
authorisation fits only the card that holds both the card id and the
certificate the verifier checked.
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
_MAC_LABEL: Final = b"MYNA-EDGE/RESET/2"
_OTP_LABEL: Final = b"MYNA-EDGE/OTP/1"


def card_id(auth_certificate_der: bytes) -> bytes:
    """The card's issuer-facing id from its authentication certificate."""
    return hashlib.sha256(auth_certificate_der).digest()[:CARD_ID_BYTES]


def diversify(master_key: bytes, card: bytes) -> bytes:
    """The card's own AES-128 issuer key."""
    return hmac.new(master_key, _KEY_LABEL + card, hashlib.sha256).digest()[:16]


def issuer_authorization(
    master_key: bytes,
    card: bytes,
    challenge: bytes,
    operation: int,
    *,
    proof_certificate_der: bytes,
) -> bytes:
    """The 16-byte MAC the card checks before RESET RETRY COUNTER.

    ``proof_certificate_der`` is the certificate whose key proved the card
    to the verifier (the authentication certificate for operation 1, the
    signing certificate for operation 2).

    Raises:
        ValueError: wrong card id or challenge size, an operation outside 1-2,
            or no proving certificate.
    """
    if not proof_certificate_der:
        raise ValueError("the proving certificate is required")
    if len(card) != CARD_ID_BYTES or len(challenge) != CARD_CHALLENGE_BYTES:
        raise ValueError("card id is 16 bytes and the challenge 8")
    if operation not in (1, 2):
        raise ValueError("operation is 1 (signing password) or 2 (authentication PIN)")
    mac = cmac.CMAC(algorithms.AES(diversify(master_key, card)))
    proof = hashlib.sha256(proof_certificate_der).digest()
    mac.update(_MAC_LABEL + card + challenge + bytes([operation]) + proof)
    return mac.finalize()


def one_time_password(master_key: bytes, reservation_id: str) -> str:
    """The 8-digit OTP of a reservation, derived so it is never stored."""
    digest = hmac.new(master_key, _OTP_LABEL + reservation_id.encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 100_000_000:08d}"
