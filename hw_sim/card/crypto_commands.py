# SPDX-License-Identifier: Apache-2.0
"""COMPUTE DIGITAL SIGNATURE, GET CHALLENGE and GET DATA.

COMPUTE DIGITAL SIGNATURE ``80 2A P1 P2 Lc <input> [Le]`` (jpki-card.md
§1.3, §4.1, §9.2):

* ``P2=80``: the key is the current EF (selected with ``00 A4 02 0C``);
  ``P2=80|SFI`` names it (``97`` auth key, ``9A`` sign key, SOL);
  ``P2=00`` uses the application's own key with no credential, which only
  the 券面 APs have (§3.3); elsewhere ``P2=00`` is ``6A86``.
* ``P1`` selects the scheme (``hw_sim.card.signing``); others are ``6A86``.
* The key's PIN object must be verified in this application, else
  ``6982`` (UNCONFIRMED: the real SW for signing without the PIN, §10).
* No input, a short Le below 256, or an input of the wrong length for the
  scheme (over 245 bytes for ``P1=00``) is ``6700``.
* A key slot with no key (an under-15 holder's signing key) is ``6985``.

GET CHALLENGE ``00 84 00 00 Le``: 1-256 random bytes; the extended form is
``6985`` (SOL). GET DATA ``00 CA <tag> Le``: the card's few data objects
(§3.5); an absent tag is ``6A88``, a short Le below the object's size
``6700``.
"""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives.asymmetric import rsa

from hw_sim.card.apdu import CommandApdu, ResponseApdu, status
from hw_sim.card.constants import Sw
from hw_sim.card.filesystem import KeyEf
from hw_sim.card.session import CardContext
from hw_sim.card.signing import SCHEMES, sign_with_scheme

__all__ = ["compute_digital_signature", "get_challenge", "get_data"]

_P2_SELF_KEY: Final = 0x00
_SIGNATURE_SIZE: Final = 256


def compute_digital_signature(ctx: CardContext, cmd: CommandApdu) -> ResponseApdu:
    """Handle COMPUTE DIGITAL SIGNATURE (``80 2A``)."""
    if cmd.p1 not in SCHEMES:
        return status(Sw.WRONG_P1P2)
    found = _key(ctx, cmd.p2)
    if isinstance(found, Sw):
        return status(found)
    key, condition = found
    if not cmd.data or (cmd.le is not None and cmd.le < _SIGNATURE_SIZE):
        return status(Sw.WRONG_LENGTH)
    refused = ctx.refusal(condition)
    if refused is not None:
        return status(refused)
    if key is None:
        return status(Sw.CONDITIONS_NOT_SATISFIED)
    signature = sign_with_scheme(key, cmd.p1, cmd.data)
    if signature is None:
        return status(Sw.WRONG_LENGTH)
    return ResponseApdu(signature, Sw.OK)


def _key(ctx: CardContext, p2: int) -> tuple[rsa.RSAPrivateKey | None, frozenset[int]] | Sw:
    """Find the key P2 names: (key, PIN condition) or the SW to answer."""
    application = ctx.security.application
    if p2 == _P2_SELF_KEY:
        if application is None or application.self_sign_key is None:
            return Sw.WRONG_P1P2
        return application.self_sign_key, frozenset()
    ef = ctx.referenced_ef(p2, KeyEf)
    if isinstance(ef, Sw):
        return ef
    return ef.key, ef.use_condition


def get_challenge(ctx: CardContext, cmd: CommandApdu) -> ResponseApdu:
    """Handle GET CHALLENGE (``00 84``)."""
    if cmd.p1 or cmd.p2:
        return status(Sw.WRONG_P1P2)
    if cmd.data or cmd.le is None:
        return status(Sw.WRONG_LENGTH)
    if cmd.extended:
        return status(Sw.CONDITIONS_NOT_SATISFIED)  # SOL: extended form refused
    value = ctx.random_bytes(cmd.le)
    # An 8-byte challenge is what EXTERNAL AUTHENTICATE checks (issuer_commands).
    ctx.security.challenge = value if cmd.le == 8 else None
    return ResponseApdu(value, Sw.OK)


def get_data(ctx: CardContext, cmd: CommandApdu) -> ResponseApdu:
    """Handle GET DATA (``00 CA``)."""
    if cmd.data or cmd.le is None:
        return status(Sw.WRONG_LENGTH)
    value = ctx.image.data_objects.get((cmd.p1 << 8) | cmd.p2)
    if value is None:
        return status(Sw.DATA_NOT_FOUND)
    if len(value) > cmd.le:
        return status(Sw.WRONG_LENGTH)  # §3.5: large objects refuse a short Le
    return ResponseApdu(value, Sw.OK)
