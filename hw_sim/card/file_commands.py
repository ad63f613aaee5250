# SPDX-License-Identifier: Apache-2.0
"""SELECT, READ BINARY and READ RECORD: finding files and reading them.

Behaviour follows jpki-card.md §2, §3, §4 and §10:

* SELECT by DF name (``P1=04``, ``P2=0C`` or ``00``): an exact AID or a
  prefix of one (§2). An unknown name is ``6A82`` *always*, so OpenSC's
  muscle driver never binds (§1.3). ``P2=00`` answers ``9000`` with no data
  (UNCONFIRMED: the card's FCI is not known, §4.1).
* SELECT EF (``P1=02``) by 2-byte FID in the current application; an
  unknown FID is ``6A82``.
* SELECT MF (``00 A4 00 00``): ``6A86`` straight after power-up, ``9000``
  without effect once a DF is current; ``3F00`` by FID is ``6A82`` (§2);
  ``P1=00`` with another FID selects an EF of the current application, as
  ``P1=02`` does (ISO/IEC 7816-4: "select by file identifier").
* READ BINARY: 15-bit offset in P1-P2, or ``P1=80|SFI`` with an 8-bit offset
  in P2 (the EF then becomes current); short or extended Le; Le past the end
  returns what is left with ``9000``; an offset at or past the end is
  ``6B00``; internal EFs are ``6981``; no current EF is ``6986``; a file
  behind an unverified PIN is ``6982`` (UNCONFIRMED for EF 0001, §3.1).
* READ RECORD: every EF here is transparent or internal, so a READ RECORD
  that finds its file gets ``6981``.

A command that fails changes nothing; that includes the current EF.
"""

from __future__ import annotations

from typing import Final

from hw_sim.card.apdu import CommandApdu, ResponseApdu, status
from hw_sim.card.constants import Sw
from hw_sim.card.filesystem import Ef, TransparentEf
from hw_sim.card.session import CardContext

__all__ = ["read_binary", "read_record", "select"]

_P1_MF_OR_FID: Final = 0x00
_P1_EF_UNDER_DF: Final = 0x02
_P1_DF_NAME: Final = 0x04
#: P2 = 0C (no response data) and 00 (FCI requested): the two forms in use (§4.1).
_P2_ALLOWED: Final = frozenset({0x00, 0x0C})
_MF_FID: Final = b"\x3f\x00"
_MAX_DF_NAME: Final = 16


def select(ctx: CardContext, cmd: CommandApdu) -> ResponseApdu:
    """Handle SELECT (``00 A4``)."""
    if cmd.p1 not in (_P1_MF_OR_FID, _P1_EF_UNDER_DF, _P1_DF_NAME) or cmd.p2 not in _P2_ALLOWED:
        return status(Sw.WRONG_P1P2)
    if cmd.p1 == _P1_DF_NAME:
        return _select_df_name(ctx, cmd)
    if cmd.p1 == _P1_MF_OR_FID and not cmd.data:
        # §2: MF is not selectable after reset; once a DF is current the
        # command succeeds and changes nothing.
        return status(Sw.OK if ctx.security.application is not None else Sw.WRONG_P1P2)
    if len(cmd.data) != 2:
        return status(Sw.WRONG_LENGTH)
    if cmd.data == _MF_FID:
        return status(Sw.NOT_FOUND)
    application = ctx.security.application
    fid = int.from_bytes(cmd.data, "big")
    if application is None or application.file(fid) is None:
        return status(Sw.NOT_FOUND)
    ctx.security.current_ef = fid
    return status(Sw.OK)


def _select_df_name(ctx: CardContext, cmd: CommandApdu) -> ResponseApdu:
    if not 1 <= len(cmd.data) <= _MAX_DF_NAME:
        return status(Sw.WRONG_LENGTH)
    application = ctx.image.find_application(cmd.data)
    if application is None:
        return status(Sw.NOT_FOUND)
    security = ctx.security
    # §2: leaving an application clears its security status; re-selecting
    # the same one keeps it unless the card is configured otherwise.
    same = security.application is not None and security.application.aid == application.aid
    if not same or ctx.reselect_clears_security:
        security.verified.clear()
    security.application = application
    security.current_ef = None
    return status(Sw.OK)


def read_binary(ctx: CardContext, cmd: CommandApdu) -> ResponseApdu:
    """Handle READ BINARY (``00 B0``)."""
    if cmd.p1 & 0x80:
        if cmd.p1 & 0x60:
            return status(Sw.WRONG_P1P2)
        fid: int | None = cmd.p1 & 0x1F
        offset = cmd.p2
    else:
        fid = ctx.security.current_ef
        offset = (cmd.p1 << 8) | cmd.p2
    if cmd.data or cmd.le is None:
        return status(Sw.WRONG_LENGTH)
    found = _find(ctx, fid, by_sfi=bool(cmd.p1 & 0x80))
    if isinstance(found, Sw):
        return status(found)
    if not isinstance(found, TransparentEf):
        return status(Sw.INCOMPATIBLE_FILE)
    refused = ctx.refusal(found.read_condition)
    if refused is not None:
        return status(refused)
    if offset >= len(found.content):
        return status(Sw.OFFSET_OUTSIDE_EF)
    # An SFI reference makes the EF current (ISO/IEC 7816-4 §7.2.2).
    ctx.security.current_ef = found.fid
    chunk = found.content[offset : offset + cmd.le]
    return ResponseApdu(chunk, Sw.OK, sensitive=bool(found.read_condition))


def read_record(ctx: CardContext, cmd: CommandApdu) -> ResponseApdu:
    """Handle READ RECORD (``00 B2``): no EF of this card is record-structured."""
    if cmd.p1 == 0 or cmd.p2 & 0x07 != 0x04:
        return status(Sw.WRONG_P1P2)  # only "record number in P1" is supported
    if cmd.data or cmd.le is None:
        return status(Sw.WRONG_LENGTH)
    sfi = cmd.p2 >> 3
    found = _find(ctx, sfi if sfi else ctx.security.current_ef, by_sfi=bool(sfi))
    if isinstance(found, Sw):
        return status(found)
    return status(Sw.INCOMPATIBLE_FILE)


def _find(ctx: CardContext, fid: int | None, *, by_sfi: bool) -> Ef | Sw:
    application = ctx.security.application
    if fid is None:
        return Sw.NO_CURRENT_EF
    if application is None:
        return Sw.NOT_FOUND
    found = application.file_by_sfi(fid) if by_sfi else application.file(fid)
    return Sw.NOT_FOUND if found is None else found
