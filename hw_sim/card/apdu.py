# SPDX-License-Identifier: Apache-2.0
"""Command and response APDUs: parsing, encoding and redaction, with no I/O.

The card must answer *any* bytes with an ISO/IEC 7816-4 status word and never
crash, so parsing is total: ``parse_command`` maps bytes to either a
``CommandApdu`` or the status word a card gives for malformed framing
(``6700``). It knows the four cases in short and extended form (ISO/IEC
7816-3 §12.1.3, jpki-card.md §1.1):

======  ===============================  ==================================
case    short                            extended
======  ===============================  ==================================
1       CLA INS P1 P2                    —
2       … Le(1; 00 = 256)                … 00 Le(2; 0000 = 65536)
3       … Lc(1, ≠00) data                … 00 Lc(2, ≠0000) data
4       … Lc data Le(1)                  … 00 Lc(2) data Le(2)
======  ===============================  ==================================

Anything else (a length that disagrees with the data, fewer than four bytes,
a lone ``00`` length byte) is ``6700``.

``redact_command`` keeps a PIN-bearing command's header and Lc and drops its
body, so logs and the APDU log never hold a PIN (STYLE §7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from hw_sim.card.constants import Sw

__all__ = [
    "PIN_BEARING_INS",
    "CommandApdu",
    "ResponseApdu",
    "hex_spaced",
    "parse_command",
    "redact_command",
    "status",
]

#: Instructions whose body is a PIN, password or reference data: VERIFY,
#: CHANGE REFERENCE DATA, RESET RETRY COUNTER, and the 共通/住基 CHANGE KEY
#: (§4.1). Redacted whatever the CLA, so even malformed ones never leak.
PIN_BEARING_INS: Final = frozenset({0x20, 0x24, 0x2C, 0x32})

_SHORT_MAX: Final = 256
_EXTENDED_MAX: Final = 65536


@dataclass(frozen=True, slots=True)
class CommandApdu:
    """A well-framed command APDU.

    Attributes:
        cla, ins, p1, p2: the header bytes.
        data: the command data field (empty for cases 1 and 2); never shown
            in the repr, as it may be a PIN.
        le: the expected response length (1..65536), or None when absent.
        extended: whether the length fields used the extended form.
    """

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = field(default=b"", repr=False)
    le: int | None = None
    extended: bool = False

    @property
    def case(self) -> int:
        """The ISO case: 1 (nothing), 2 (Le), 3 (data), 4 (data and Le)."""
        if self.data:
            return 3 if self.le is None else 4
        return 1 if self.le is None else 2


@dataclass(frozen=True, slots=True)
class ResponseApdu:
    """A response: data field and status word.

    Attributes:
        data: the response data (not in the repr: it may be personal data).
        sw: the status word SW1 SW2 as an int.
        sensitive: the data came from a file behind a PIN, so wire logs show
            only its length.
    """

    data: bytes = field(default=b"", repr=False)
    sw: int = Sw.OK
    sensitive: bool = False

    def to_bytes(self) -> bytes:
        """Return the R-APDU: data followed by SW1 SW2."""
        return self.data + self.sw.to_bytes(2, "big")


def parse_command(raw: bytes) -> CommandApdu | Sw:
    """Parse ``raw`` into a ``CommandApdu``, or return ``Sw.WRONG_LENGTH``.

    Only the framing is checked here; whether CLA, INS, P1 and P2 make sense
    is for the engine and the command handlers.
    """
    size = len(raw)
    if size < 4:
        return Sw.WRONG_LENGTH
    cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
    body = raw[4:]
    if not body:
        return CommandApdu(cla, ins, p1, p2)
    if len(body) == 1:
        return CommandApdu(cla, ins, p1, p2, le=body[0] or _SHORT_MAX)
    if body[0] != 0:
        lc = body[0]
        if len(body) == 1 + lc:
            return CommandApdu(cla, ins, p1, p2, data=bytes(body[1:]))
        if len(body) == 2 + lc:
            return CommandApdu(cla, ins, p1, p2, data=bytes(body[1:-1]), le=body[-1] or _SHORT_MAX)
        return Sw.WRONG_LENGTH
    # Extended form: a 00 marker, then two length bytes.
    if len(body) < 3:
        return Sw.WRONG_LENGTH
    first = int.from_bytes(body[1:3], "big")
    if len(body) == 3:
        return CommandApdu(cla, ins, p1, p2, le=first or _EXTENDED_MAX, extended=True)
    if first == 0:
        return Sw.WRONG_LENGTH  # Lc = 0000 is not a valid extended Lc
    if len(body) == 3 + first:
        return CommandApdu(cla, ins, p1, p2, data=bytes(body[3:]), extended=True)
    if len(body) == 5 + first:
        le = int.from_bytes(body[-2:], "big") or _EXTENDED_MAX
        return CommandApdu(cla, ins, p1, p2, data=bytes(body[3:-2]), le=le, extended=True)
    return Sw.WRONG_LENGTH


def redact_command(raw: bytes) -> bytes:
    """Return ``raw`` with the body of a PIN-bearing command removed.

    Keeps the 4-byte header and the Lc (1 byte, or 3 in extended form) so a
    trace still shows which command was sent and how long its secret was;
    other commands come back unchanged.
    """
    if len(raw) < 2 or raw[1] not in PIN_BEARING_INS or len(raw) <= 5:
        return bytes(raw)
    if raw[4] == 0 and len(raw) >= 7:
        return bytes(raw[:7])
    return bytes(raw[:5])


def hex_spaced(data: bytes) -> str:
    """Return ``data`` as upper-case hex with a space between bytes."""
    return data.hex(" ").upper()


def status(sw: int) -> ResponseApdu:
    """Return a response with no data and status word ``sw``."""
    return ResponseApdu(sw=sw)
