# SPDX-License-Identifier: Apache-2.0
"""Relaying the issuer's authorisation to reset a JPKI secret (the kiosk's card side).

The kiosk never knows a card key: it asks the card for a challenge, lets
the verifier (holder of the issuer master key) compute the authorisation
over it, and relays that to the card with EXTERNAL AUTHENTICATE before
RESET RETRY COUNTER sets the new secret. The command shapes follow the
project's issuer model (``verifier/issuer.py``,
``hw_sim/card/issuer_commands.py``): UNCONFIRMED against a real card, whose
issuer protocol is not public (jpki-card.md §4.1, §8.1).

    GET CHALLENGE            00 84 00 00 08
    EXTERNAL AUTHENTICATE    00 82 00 <op> 10 <16-byte authorisation>
    RESET RETRY COUNTER      00 2C 02 <98|9B> Lc <new value>   (sensitive)

``op`` 01 resets the signing password (PIN object 9B), 02 the
user-authentication PIN (98). The new value is policy-checked by the caller
(``normalize_pin(..., new=True)``) before anything is sent.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Final

from host.apdu import CommandApdu
from host.card import constants as c
from host.card.commands import select_aid
from host.card.pin_policy import PinKind
from host.channel import ApduChannel
from host.errors import MalformedResponseError

__all__ = [
    "CARD_ID_LENGTH",
    "CHALLENGE_LENGTH",
    "RESET_TARGETS",
    "apply_issuer_reset",
    "card_id",
    "get_challenge",
]

_log = logging.getLogger(__name__)

CHALLENGE_LENGTH: Final = 8
CARD_ID_LENGTH: Final = 16
_INS_GET_CHALLENGE: Final = 0x84
_INS_EXTERNAL_AUTHENTICATE: Final = 0x82
_INS_RESET_RETRY_COUNTER: Final = 0x2C
_P1_NEW_VALUE: Final = 0x02  # ISO 7816-4: new reference data, counter reset

#: operation byte -> (the PIN it resets, P2 naming its PIN object)
RESET_TARGETS: Final = {0x01: (PinKind.SIGN, 0x9B), 0x02: (PinKind.AUTH, 0x98)}


def card_id(auth_certificate_der: bytes) -> bytes:
    """The card's issuer id: SHA-256 of its DER user-authentication certificate, first 16 bytes."""
    return hashlib.sha256(auth_certificate_der).digest()[:CARD_ID_LENGTH]


def get_challenge(channel: ApduChannel) -> bytes:
    """Arm and return the card's 8-byte challenge (single use, volatile).

    Raises:
        MalformedResponseError: the answer is not 8 bytes.
        CardError: the card refused.
    """
    channel.send(select_aid(c.JPKI_AID))
    response = channel.send(
        CommandApdu(c.CLA_ISO, _INS_GET_CHALLENGE, 0, 0, le=CHALLENGE_LENGTH, name="GET CHALLENGE")
    )
    if len(response.data) != CHALLENGE_LENGTH:
        raise MalformedResponseError("GET CHALLENGE did not return 8 bytes")
    return response.data


def apply_issuer_reset(
    channel: ApduChannel, operation: int, authorization: bytes, new: bytes
) -> None:
    """EXTERNAL AUTHENTICATE with ``authorization``, then RESET RETRY COUNTER to ``new``.

    Args:
        operation: 1 (signing password) or 2 (authentication PIN).
        authorization: the verifier's 16-byte issuer authorisation.
        new: the new value, already checked against the PIN's rule.

    Raises:
        ValueError: an unknown operation or a malformed authorisation.
        CardError: the card refused (6300: wrong authorisation, 6985: no
            challenge armed, 6A80: the value breaks the rule).
    """
    if operation not in RESET_TARGETS:
        raise ValueError("operation must be 1 (signing password) or 2 (authentication PIN)")
    if len(authorization) != 16:
        raise ValueError("an issuer authorisation is 16 bytes")
    _, p2 = RESET_TARGETS[operation]
    # The proof between GET CHALLENGE and here selected EFs of the JPKI AP;
    # select the AP itself again. The model card keeps the armed challenge
    # across selection; whether a real card does is UNCONFIRMED (§8.1).
    channel.send(select_aid(c.JPKI_AID))
    channel.send(
        CommandApdu(
            c.CLA_ISO,
            _INS_EXTERNAL_AUTHENTICATE,
            0,
            operation,
            authorization,
            name="EXTERNAL AUTHENTICATE",
        )
    )
    channel.send(
        CommandApdu(
            c.CLA_ISO,
            _INS_RESET_RETRY_COUNTER,
            _P1_NEW_VALUE,
            p2,
            new,
            name="RESET RETRY COUNTER",
            sensitive=True,
        )
    )
    _log.info("issuer reset applied (operation %d)", operation)
