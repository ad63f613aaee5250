# SPDX-License-Identifier: Apache-2.0
"""EXTERNAL AUTHENTICATE and RESET RETRY COUNTER: our model of the issuer-protected reset.

Why a model: the real card's issuer protocol is not public (jpki-card.md
§4.1: no open implementation sends RESET RETRY COUNTER; §8.1: what the kiosk
sends is UNCONFIRMED). This is the usual smart-card pattern, specified in
``verifier/issuer.py`` and implemented here independently, so the verifier
and the card only share the written rules:

* ``card_id`` = SHA-256(DER of the card's user-authentication certificate)
  truncated to 16 bytes; the card's AES-128 issuer key is
  HMAC-SHA256(master, ``"MYNA-EDGE/ISSUER-KEY/1"`` || card_id)[:16], made at
  issue from the test PKI's ``issuer-master.key``. The card never holds the
  master key.
* GET CHALLENGE with Le = 8 arms a challenge (volatile, single use).
* EXTERNAL AUTHENTICATE ``00 82 00 <op> 10 <MAC>`` in the JPKI AP, op 01 =
  reset the signing password, 02 = reset the authentication PIN: MAC =
  AES-CMAC(issuer key, ``"MYNA-EDGE/RESET/2"`` || card_id || challenge || op
  || SHA-256(the card's own certificate of the key that proves op: EF 000A
  for 01, EF 0001 for 02)). The certificate binds the authorisation to the
  card whose key the verifier checked (issue 22: a signing certificate does
  not name the card id). Right → ``9000`` and op authorised; wrong →
  ``6300``; no armed challenge or no such certificate → ``6985``. The
  challenge is consumed either way.
* RESET RETRY COUNTER ``00 2C 02 <80|SFI> Lc <new value>`` (ISO 7816-4 P1=02:
  new reference data, counter reset) on the PIN object the authorised op
  names: without authorisation ``6982``; a value breaking the PIN's rule
  ``6A80`` (authorisation kept); success sets the value, restores the
  counter (unblocking it) and ends the authorisation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms

from hw_sim.card.apdu import CommandApdu, ResponseApdu, status
from hw_sim.card.constants import AID_JPKI, Sw
from hw_sim.card.filesystem import Application, PinEf, TransparentEf
from hw_sim.card.jpki_ap import EF_AUTH_CERT, EF_AUTH_PIN, EF_SIGN_CERT, EF_SIGN_PASSWORD
from hw_sim.card.session import CardContext
from hw_sim.pki import store

__all__ = [
    "MASTER_KEY_FILE",
    "OPERATIONS",
    "card_id",
    "diversify",
    "external_authenticate",
    "issuer_master_key",
    "reset_retry_counter",
]

#: The test PKI's issuer master key, hex, in the PKI folder.
MASTER_KEY_FILE: Final = "issuer-master.key"
#: Operation byte -> the PIN object it may reset.
OPERATIONS: Final = {0x01: EF_SIGN_PASSWORD, 0x02: EF_AUTH_PIN}
_KEY_LABEL: Final = b"MYNA-EDGE/ISSUER-KEY/1"
_MAC_LABEL: Final = b"MYNA-EDGE/RESET/2"
#: Operation byte -> the certificate of the key that proves it (what the MAC covers).
_PROOF_CERTIFICATES: Final = {0x01: EF_AUTH_CERT, 0x02: EF_SIGN_CERT}
_MAC_BYTES: Final = 16


def card_id(auth_certificate_der: bytes) -> bytes:
    """The 16-byte issuer-facing card id."""
    return hashlib.sha256(auth_certificate_der).digest()[:16]


def diversify(master_key: bytes, card: bytes) -> bytes:
    """The card's own AES-128 issuer key."""
    return hmac.new(master_key, _KEY_LABEL + card, hashlib.sha256).digest()[:16]


def issuer_master_key(pki_directory: Path) -> bytes:
    """The test issuer's master key (32 bytes), created on first use."""
    path = pki_directory / MASTER_KEY_FILE
    if not path.exists():
        with store.locked(pki_directory):
            if not path.exists():
                store.atomic_write(path, secrets.token_hex(32).encode("ascii"), private=True)
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def _certificate_digest(application: Application, fid: int) -> bytes | None:
    """SHA-256 of the DER certificate in EF ``fid`` (filler stripped), or None when absent."""
    ef = application.file(fid)
    if not isinstance(ef, TransparentEf):
        return None
    data = ef.content
    # A DER SEQUENCE with a long-form length (30 81 LL / 30 82 HH LL), then FF filler.
    if len(data) < 4 or data[0] != 0x30 or data[1] not in (0x81, 0x82):
        return None  # an empty EF (all FF): an under-15 card has no signing certificate
    width = data[1] & 0x7F
    end = 2 + width + int.from_bytes(data[2 : 2 + width], "big")
    return hashlib.sha256(data[:end]).digest() if end <= len(data) else None


def external_authenticate(ctx: CardContext, cmd: CommandApdu) -> ResponseApdu:
    """Handle EXTERNAL AUTHENTICATE (``00 82``) per the model above."""
    application = ctx.security.application
    if application is None or application.aid != AID_JPKI:
        return status(Sw.CONDITIONS_NOT_SATISFIED)
    if cmd.p1 != 0x00 or cmd.p2 not in OPERATIONS:
        return status(Sw.WRONG_P1P2)
    if cmd.case != 3 or len(cmd.data) != _MAC_BYTES:
        return status(Sw.WRONG_LENGTH)
    challenge, ctx.security.challenge = ctx.security.challenge, None
    key, card = ctx.image.issuer_key, ctx.image.card_id
    proof = _certificate_digest(application, _PROOF_CERTIFICATES[cmd.p2])
    if challenge is None or key is None or card is None or proof is None:
        return status(Sw.CONDITIONS_NOT_SATISFIED)
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(_MAC_LABEL + card + challenge + bytes([cmd.p2]) + proof)
    if not hmac.compare_digest(mac.finalize(), cmd.data):
        ctx.security.issuer_authorized = None
        return status(Sw.AUTHENTICATION_FAILED)
    ctx.security.issuer_authorized = cmd.p2
    return status(Sw.OK)


def reset_retry_counter(ctx: CardContext, cmd: CommandApdu) -> ResponseApdu:
    """Handle RESET RETRY COUNTER (``00 2C 02``) per the model above."""
    if cmd.p1 != 0x02:
        return status(Sw.WRONG_P1P2)
    ef = ctx.referenced_ef(cmd.p2, PinEf)
    if isinstance(ef, Sw):
        return status(ef)
    if cmd.case != 3:
        return status(Sw.WRONG_LENGTH)
    authorized = ctx.security.issuer_authorized
    key = ctx.pin_key(ef.fid)
    if authorized is None or OPERATIONS.get(authorized) != ef.fid or key is None:
        return status(Sw.SECURITY_NOT_SATISFIED)
    if not ctx.pins.record(key).policy.accepts(cmd.data):
        return status(Sw.WRONG_DATA)
    ctx.pins.change(key, cmd.data)
    ctx.security.issuer_authorized = None
    return status(Sw.OK)
