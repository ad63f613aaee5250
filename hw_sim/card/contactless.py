# SPDX-License-Identifier: Apache-2.0
"""What a credential answers in the RF field before any APDU: Type A and Type B.

Why apart from the readers: the same facts feed the PN532 emulator
(InListPassiveTarget answers) and the vpcd bridge (the ATR a PC/SC reader
builds for a contactless target), and a phone and a card differ exactly
here, so each profile owns one ``Contactless`` value.

* Type A (ISO/IEC 14443-3/-4): ATQA (SENS_RES, in the byte order the PN532
  and ``nfc-list`` show it), SAK (SEL_RES; bit 0x20 = ISO 14443-4
  compliant), UID (NFCID1) and the ATS that answers RATS, TL included.
* Type B: ATQB (``50`` + PUPI + application data + protocol info) and the
  ATTRIB answer.

PC/SC part 3 (§3.1.3.2.3) builds a contactless ATR as
``3B 8n 80 01 T1..Tn TCK``: for Type A the ``n`` historical bytes of the ATS,
for Type B the 4 application-data bytes, 3 protocol-info bytes and MBLI
(the card ATRs ``3B 88 80 01 …`` in jpki-card.md §1.2 have that shape; TCK
is the XOR of T0 to the last historical byte). ``parse_ats`` is total and
has a fuzz target (``fuzz_parse_ats``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "AtsError",
    "Contactless",
    "ParsedAts",
    "TypeA",
    "TypeB",
    "fuzz_parse_ats",
    "parse_ats",
    "pcsc_atr",
]

_SAK_ISO14443_4: Final = 0x20
_T0_TA: Final = 0x10
_T0_TB: Final = 0x20
_T0_TC: Final = 0x40
_MAX_HISTORICAL: Final = 15  # one nibble in the ATR's T0


class AtsError(ValueError):
    """The bytes are not an ATS (ISO/IEC 14443-4 §5.2)."""


@dataclass(frozen=True)
class ParsedAts:
    """An ATS split into its fields.

    Attributes:
        fsci: frame size for the card integer (T0 low nibble).
        ta, tb, tc: the interface bytes, or None when absent.
        historical: the historical bytes (T1..Tk).
    """

    fsci: int
    ta: int | None
    tb: int | None
    tc: int | None
    historical: bytes


def parse_ats(ats: bytes) -> ParsedAts:
    """Parse an ATS whose first byte is TL (its own length, TL included).

    Raises:
        AtsError: TL does not match the length, T0 is missing, or the
            interface bytes T0 announces are missing.
    """
    if len(ats) < 2 or ats[0] != len(ats):
        raise AtsError("TL must equal the ATS length and T0 must follow")
    t0 = ats[1]
    if t0 & 0x80:
        raise AtsError("T0 bit 8 is reserved and must be 0")
    position = 2
    fields: list[int | None] = []
    for flag in (_T0_TA, _T0_TB, _T0_TC):
        if t0 & flag:
            if position >= len(ats):
                raise AtsError("an interface byte T0 announces is missing")
            fields.append(ats[position])
            position += 1
        else:
            fields.append(None)
    return ParsedAts(t0 & 0x0F, fields[0], fields[1], fields[2], bytes(ats[position:]))


def pcsc_atr(historical: bytes) -> bytes:
    """Return the PC/SC part 3 ATR ``3B 8n 80 01 <historical> TCK`` (module docstring).

    Raises:
        ValueError: more than 15 historical bytes.
    """
    if len(historical) > _MAX_HISTORICAL:
        raise ValueError("an ATR carries at most 15 historical bytes")
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for byte in body:
        tck ^= byte
    return b"\x3b" + body + bytes([tck])


@dataclass(frozen=True)
class TypeA:
    """A Type A target: ATQA (2 bytes), SAK, UID (4, 7 or 10 bytes), ATS (TL first)."""

    atqa: bytes
    sak: int
    uid: bytes
    ats: bytes

    def __post_init__(self) -> None:
        if len(self.atqa) != 2 or len(self.uid) not in (4, 7, 10):
            raise ValueError("ATQA is 2 bytes and a UID 4, 7 or 10")
        if not self.sak & _SAK_ISO14443_4:
            raise ValueError("a JPKI credential is ISO 14443-4: SAK bit 0x20 is set")
        parse_ats(self.ats)

    @property
    def historical(self) -> bytes:
        """The ATS historical bytes (what PC/SC puts in the ATR)."""
        return parse_ats(self.ats).historical

    def pn532_target(self) -> bytes:
        """Return one InListPassiveTarget 106A target after Tg (PN532 UM §7.3.5).

        ``SENS_RES SEL_RES NFCIDLength NFCID1 ATS``; libnfc counts the ATS by
        its TL byte (``pn53x_decode_target_data``).
        """
        return self.atqa + bytes([self.sak, len(self.uid)]) + self.uid + self.ats


@dataclass(frozen=True)
class TypeB:
    """A Type B target: ATQB (12 bytes, ``50`` first) and ATTRIB_RES."""

    atqb: bytes
    attrib_res: bytes

    def __post_init__(self) -> None:
        if len(self.atqb) != 12 or self.atqb[0] != 0x50 or not self.attrib_res:
            raise ValueError("ATQB is 50 + 11 bytes and ATTRIB_RES is not empty")

    def pn532_target(self) -> bytes:
        """Return one InListPassiveTarget 106B target after Tg: ATQB, length, ATTRIB_RES."""
        return self.atqb + bytes([len(self.attrib_res)]) + self.attrib_res

    @property
    def pcsc_atr(self) -> bytes:
        """PC/SC part 3 ATR: application data, protocol info, MBLI (ATTRIB_RES high nibble)."""
        return pcsc_atr(self.atqb[5:12] + bytes([self.attrib_res[0] >> 4]))


@dataclass(frozen=True)
class Contactless:
    """How a credential answers in the field; None = not on that technology."""

    type_a: TypeA | None = None
    type_b: TypeB | None = None

    def __post_init__(self) -> None:
        if self.type_a is None and self.type_b is None:
            raise ValueError("a contactless credential answers Type A or Type B")


def fuzz_parse_ats(data: bytes) -> None:
    """Fuzz target: ``parse_ats`` returns or raises ``AtsError``, nothing else."""
    try:
        parsed = parse_ats(data)
    except AtsError:
        return
    if len(parsed.historical) <= _MAX_HISTORICAL:
        pcsc_atr(parsed.historical)
