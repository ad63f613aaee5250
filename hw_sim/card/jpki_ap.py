# SPDX-License-Identifier: Apache-2.0
"""The JPKI application (公的個人認証AP): certificates, keys, PINs, token info.

Files (jpki-card.md §3.1):

====  ==================================  =====================================
EF    content                             condition
====  ==================================  =====================================
0001  signing certificate (DER + FF)      readable after 001B verified
0002  signing CA certificate              none
0006  token info, 160 bytes               none
0008  certificate availability (3 B)      none
000A  user-auth certificate               none (physical card)
000B  user-auth CA certificate            none
0017  user-auth private key               signing needs 0018
0018  user-auth PIN, 4 digits, 3 tries    —
001A  signing private key                 signing needs 001B
001B  signing password, 6-16, 5 tries     —
====  ==================================  =====================================

Certificates sit in EFs larger than themselves with ``FF`` filler, and start
``30 82 HH LL`` so OpenSC can size them from 4 bytes (§1.3, §6).
UNCONFIRMED: the physical sizes of the certificate EFs; we use at least
2048 bytes, in whole 256-byte blocks. For a holder under 15 EF 0001 is
present but empty (all ``FF``) and EF 001A holds no key, so a signature
attempt is ``6985``; the signing password object stays, so OpenSC's bind
(which queries both counters, §1.3) still works. That layout is our choice:
the sources only say the certificate is missing (§3.1, §5).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives.asymmetric import rsa

from hw_sim.card.constants import AID_JPKI
from hw_sim.card.filesystem import Application, Ef, KeyEf, PinEf, TransparentEf
from hw_sim.card.pins import AUTH_PIN, SIGN_PASSWORD
from hw_sim.card.tlv import padded_file

__all__ = [
    "EF_AUTH_CA",
    "EF_AUTH_CERT",
    "EF_AUTH_KEY",
    "EF_AUTH_PIN",
    "EF_AVAILABILITY",
    "EF_SIGN_CA",
    "EF_SIGN_CERT",
    "EF_SIGN_KEY",
    "EF_SIGN_PASSWORD",
    "EF_TOKEN_INFO",
    "TOKEN_LABEL",
    "JpkiContent",
    "build_jpki_application",
    "token_info",
]

EF_SIGN_CERT: Final = 0x0001
EF_SIGN_CA: Final = 0x0002
EF_TOKEN_INFO: Final = 0x0006
EF_AVAILABILITY: Final = 0x0008
EF_AUTH_CERT: Final = 0x000A
EF_AUTH_CA: Final = 0x000B
EF_AUTH_KEY: Final = 0x0017
EF_AUTH_PIN: Final = 0x0018
EF_SIGN_KEY: Final = 0x001A
EF_SIGN_PASSWORD: Final = 0x001B

#: The label that identifies a physical My Number card (§3.1, §10).
TOKEN_LABEL: Final = "JPKIAPICCTOKEN2"  # noqa: S105 (a label, not a password)
# UNCONFIRMED: certificate EF sizes (§6 only says "sizes vary").
_CERT_EF_MINIMUM: Final = 2048
#: EF 0008: byte 0 = sign cert present, byte 1 = auth cert present (§3.1, SOL).
_PRESENT: Final = 0x8F
_ABSENT: Final = 0x00


@dataclass(frozen=True)
class JpkiContent:
    """What the JPKI application is built from.

    Attributes:
        auth_certificate, auth_ca: DER of the auth certificate and its CA.
        sign_certificate: DER of the signing certificate, or None (under 15).
        sign_ca: DER of the signing CA certificate.
        auth_key: the user-authentication key.
        sign_key: the signing key, or None (under 15).
        serial_number: 16 ASCII characters for the token info.
        token_label: EF 0006's label (a phone's differs, ``phones``).
        auth_cert_needs_pin: EF 000A readable only after 0018 (phones, §3.1).
        aliases: further DF names of the application (a phone's own AID).
    """

    auth_certificate: bytes = field(repr=False)
    auth_ca: bytes = field(repr=False)
    sign_certificate: bytes | None = field(repr=False)
    sign_ca: bytes = field(repr=False)
    auth_key: rsa.RSAPrivateKey = field(repr=False)
    sign_key: rsa.RSAPrivateKey | None = field(repr=False)
    serial_number: str
    token_label: str = TOKEN_LABEL
    auth_cert_needs_pin: bool = False
    aliases: tuple[bytes, ...] = ()


def token_info(serial_number: str, label: str = TOKEN_LABEL) -> bytes:
    """Return EF 0006: a 160-byte PKCS#11 ``CK_TOKEN_INFO`` image (§3.1).

    Only the label is relied on by hosts; the other values copy SOL's
    physical-card unit test and are UNCONFIRMED for real cards. utcTime is
    blank (16 spaces): a token without a clock, UNCONFIRMED.
    """
    if len(serial_number) != 16 or not serial_number.isascii():
        raise ValueError("the token serial number is 16 ASCII characters")
    return (
        label.ljust(32).encode("ascii")
        + ("0" * 31 + "1").encode("ascii")  # manufacturerID
        + b"E16R01NJ".ljust(16)  # model
        + serial_number.encode("ascii")
        + struct.pack(">I", 0x0000040D)  # RNG|LOGIN_REQUIRED|USER_PIN_INITIALIZED|TOKEN_INITIALIZED
        + struct.pack(">IIII", 1, 0, 1, 0)  # max/cur session, max/cur RW session
        + struct.pack(">II", SIGN_PASSWORD.max_length, SIGN_PASSWORD.min_length)
        + b"\xff" * 16  # total/free public/private memory
        + b"03"  # hardwareVersion
        + b"01"  # firmwareVersion
        + b" " * 16  # utcTime
    )


def build_jpki_application(content: JpkiContent) -> Application:
    """Return the JPKI application holding ``content``."""
    sign_present = content.sign_certificate is not None
    availability = bytes([_PRESENT if sign_present else _ABSENT, _PRESENT, 0x00])
    files: list[Ef] = [
        TransparentEf(
            EF_SIGN_CERT,
            padded_file(content.sign_certificate or b"", minimum=_CERT_EF_MINIMUM),
            frozenset({EF_SIGN_PASSWORD}),  # §3.1: JOSC-2, OSC-p15 PRIVATE
        ),
        TransparentEf(EF_SIGN_CA, padded_file(content.sign_ca, minimum=_CERT_EF_MINIMUM)),
        TransparentEf(EF_TOKEN_INFO, token_info(content.serial_number, content.token_label)),
        TransparentEf(EF_AVAILABILITY, availability),
        TransparentEf(
            EF_AUTH_CERT,
            padded_file(content.auth_certificate, minimum=_CERT_EF_MINIMUM),
            frozenset({EF_AUTH_PIN}) if content.auth_cert_needs_pin else frozenset(),
        ),
        TransparentEf(EF_AUTH_CA, padded_file(content.auth_ca, minimum=_CERT_EF_MINIMUM)),
        KeyEf(EF_AUTH_KEY, content.auth_key, frozenset({EF_AUTH_PIN})),
        PinEf(EF_AUTH_PIN, AUTH_PIN),
        KeyEf(EF_SIGN_KEY, content.sign_key, frozenset({EF_SIGN_PASSWORD})),
        PinEf(EF_SIGN_PASSWORD, SIGN_PASSWORD),
    ]
    return Application(
        "jpki", AID_JPKI, {ef.fid: ef for ef in files}, aliases=tuple(content.aliases)
    )
