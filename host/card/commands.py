# SPDX-License-Identifier: Apache-2.0
"""The JPKI card's command APDUs, built as the sources send them.

One builder per command of jpki-card.md §4.1, so the exact bytes live in one
place and golden-vector tests can compare them with the §9 transcripts.
Builders are pure; sending them is ``host.channel``'s job.
"""

from __future__ import annotations

from typing import Final

from host.apdu import MAX_SHORT_LE, CommandApdu
from host.card import constants as c

__all__ = [
    "change_reference_data",
    "compute_signature",
    "read_binary",
    "select_aid",
    "select_ef",
    "verify",
]

_P1_SELECT_BY_AID: Final = 0x04
_P1_SELECT_EF: Final = 0x02
_P2_NO_FCI: Final = 0x0C  # OpenSC and every other client ask for no FCI
_P2_CURRENT_EF: Final = 0x80  # VERIFY/CHANGE/SIGN act on the selected EF
_P1_CHANGE_NEW_ONLY: Final = 0x01  # the card has the old value from VERIFY


def select_aid(aid: bytes) -> CommandApdu:
    """SELECT an application by AID: ``00 A4 04 0C Lc AID``."""
    return CommandApdu(c.CLA_ISO, c.INS_SELECT, _P1_SELECT_BY_AID, _P2_NO_FCI, aid, name="SELECT")


def select_ef(fid: int) -> CommandApdu:
    """SELECT an EF of the current application: ``00 A4 02 0C 02 FID``.

    Raises:
        ValueError: ``fid`` is not 0..0xFFFF.
    """
    if not 0 <= fid <= 0xFFFF:
        raise ValueError("a file ID is two bytes")
    data = fid.to_bytes(2, "big")
    return CommandApdu(c.CLA_ISO, c.INS_SELECT, _P1_SELECT_EF, _P2_NO_FCI, data, name="SELECT")


def verify(pin: bytes | None = None) -> CommandApdu:
    """VERIFY the current PIN EF: ``00 20 00 80 Lc PIN``.

    With ``pin=None`` this is the empty VERIFY (case 1), which reports the
    counter as ``63Cx`` and never spends a try (§4.1).
    """
    return CommandApdu(
        c.CLA_ISO, c.INS_VERIFY, 0x00, _P2_CURRENT_EF, pin or b"", name="VERIFY", sensitive=True
    )


def change_reference_data(new: bytes) -> CommandApdu:
    """CHANGE REFERENCE DATA after a VERIFY: ``00 24 01 80 Lc NEW``."""
    return CommandApdu(
        c.CLA_ISO,
        c.INS_CHANGE_REFERENCE_DATA,
        _P1_CHANGE_NEW_ONLY,
        _P2_CURRENT_EF,
        new,
        name="CHANGE REFERENCE DATA",
        sensitive=True,
    )


def read_binary(offset: int, le: int) -> CommandApdu:
    """READ BINARY of the current EF: ``00 B0 off_hi off_lo Le`` (15-bit offset).

    Raises:
        ValueError: ``offset`` outside 0..0x7FFF or ``le`` outside 1..65536.
    """
    if not 0 <= offset <= c.MAX_READ_OFFSET:
        raise ValueError("READ BINARY offsets are 15 bits")
    return CommandApdu(
        c.CLA_ISO, c.INS_READ_BINARY, offset >> 8, offset & 0xFF, le=le, name="READ BINARY"
    )


def compute_signature(digest_info: bytes) -> CommandApdu:
    """COMPUTE DIGITAL SIGNATURE with the selected key: ``80 2A 00 80 Lc DigestInfo 00``."""
    return CommandApdu(
        c.CLA_PROPRIETARY,
        c.INS_COMPUTE_SIGNATURE,
        0x00,
        _P2_CURRENT_EF,
        digest_info,
        le=MAX_SHORT_LE,
        name="COMPUTE DIGITAL SIGNATURE",
    )
