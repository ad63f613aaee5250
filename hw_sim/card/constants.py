# SPDX-License-Identifier: Apache-2.0
"""Card-wide constants: ATR, application identifiers, instructions, status words.

One place for the numbers the virtual card shares with every host that talks
to it, each with the section of ``reference/jpki-card.md`` it comes from, so
that a reviewer can check them against the reference without reading the
engine. File identifiers live with the application that owns them.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

__all__ = [
    "AID_JPKI",
    "AID_SURFACE",
    "AID_TEXT",
    "ATR_CONTACT",
    "KNOWN_SWS",
    "MIN_AID_PREFIX",
    "TRACE",
    "Ins",
    "Sw",
    "sw_tries",
]

#: Level below DEBUG for wire traffic (STYLE §7); packages never configure
#: logging, so the level is used without registering a name.
TRACE: Final = 5

#: The contact ATR in OpenSC's jpki table (§1.2, OSC-card). It short-circuits
#: OpenSC's driver matching; PCSCT calls it "JUKICARD", and real My Number
#: cards show other ATRs, so profiles may override it.
ATR_CONTACT: Final = bytes.fromhex("3B E0 00 FF 81 31 FE 45 14")

#: 公的個人認証AP (§2).
AID_JPKI: Final = bytes.fromhex("D3 92 F0 00 26 01 00 00 00 01")
#: 券面事項入力補助AP, the card-info input support AP (§2).
AID_TEXT: Final = bytes.fromhex("D3 92 10 00 31 00 01 01 04 08")
#: 券面事項確認AP, the card-surface AP (§2).
AID_SURFACE: Final = bytes.fromhex("D3 92 10 00 31 00 01 01 04 02")

# UNCONFIRMED: the shortest DF-name prefix the card accepts in SELECT (§2 says
# prefixes are legal in JICSAP; the one prefix seen in use has 8 bytes). We
# require the 5-byte registered application provider id (RID) at least, so a
# one-byte "D3" cannot pick an application by accident.
MIN_AID_PREFIX: Final = 5


class Ins(IntEnum):
    """Instruction bytes the card implements (§4.1)."""

    VERIFY = 0x20
    CHANGE_REFERENCE_DATA = 0x24
    RESET_RETRY_COUNTER = 0x2C  # our issuer-protected reset model (issuer_commands)
    COMPUTE_DIGITAL_SIGNATURE = 0x2A  # with CLA 80: JPKI's proprietary form
    EXTERNAL_AUTHENTICATE = 0x82  # our issuer-protected reset model (issuer_commands)
    GET_CHALLENGE = 0x84
    SELECT = 0xA4
    READ_BINARY = 0xB0
    READ_RECORD = 0xB2
    GET_DATA = 0xCA


class Sw(IntEnum):
    """Status words the card answers with (§4.3, ISO/IEC 7816-4 §5.6)."""

    OK = 0x9000
    # UNCONFIRMED, our model of the iPhone's on-phone verification (phones):
    APPROVAL_PENDING = 0x6401  # ISO: "immediate response required": no answer yet
    APPROVAL_DECLINED = 0x6600  # ISO: "security-related issue": declined on the phone
    AUTHENTICATION_FAILED = 0x6300  # EXTERNAL AUTHENTICATE with a wrong MAC
    WRONG_PIN = 0x63C0  # low nibble = tries left; 63C0 alone = now blocked
    WRONG_LENGTH = 0x6700
    CHANNEL_NOT_SUPPORTED = 0x6881
    SM_NOT_SUPPORTED = 0x6882
    CHAINING_NOT_SUPPORTED = 0x6884
    INCOMPATIBLE_FILE = 0x6981
    SECURITY_NOT_SATISFIED = 0x6982
    PIN_BLOCKED = 0x6984
    CONDITIONS_NOT_SATISFIED = 0x6985
    NO_CURRENT_EF = 0x6986
    SM_CLA_ON_READ_OR_VERIFY = 0x69FC  # SOL: READ BINARY / VERIFY with an SM CLA
    WRONG_DATA = 0x6A80
    NOT_FOUND = 0x6A82
    RECORD_NOT_FOUND = 0x6A83
    WRONG_P1P2 = 0x6A86
    DATA_NOT_FOUND = 0x6A88
    OFFSET_OUTSIDE_EF = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00


def sw_tries(tries_left: int) -> int:
    """Return ``63Cx`` for ``tries_left`` (capped at 15, the nibble's maximum)."""
    return Sw.WRONG_PIN | min(max(tries_left, 0), 0x0F)


#: Every status word the card can produce: the table above plus 63C0-63CF.
KNOWN_SWS: Final = frozenset({int(sw) for sw in Sw} | {0x63C0 | n for n in range(16)})
