# SPDX-License-Identifier: Apache-2.0
"""Redaction of APDU traffic before any log or observer sees it.

The transport base class runs every command and response through an
``ApduRedactor`` (STYLE §7): the bodies of VERIFY, CHANGE REFERENCE DATA and
RESET RETRY COUNTER carry PINs, and READ BINARY answers from the card-info
and card-surface applications carry personal data (name, address, My
Number, face), as does the JPKI signing certificate (EF 0001), whose
subjectAltName holds the basic four items (jpki-card.md §6). The redactor is
sans-I/O and follows SELECT commands to know which application and file are
current, the same way the card does.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "PERSONAL_DATA_AIDS",
    "PERSONAL_DATA_FILES",
    "SECRET_BEARING_INS",
    "ApduRedactor",
    "RedactedApdu",
]

#: Instructions whose command data is a PIN or password (ISO 7816-4 §11.5).
SECRET_BEARING_INS = frozenset({0x20, 0x24, 0x2C})

#: Applications whose file contents are personal data (jpki-card.md §2).
PERSONAL_DATA_AIDS = (
    bytes.fromhex("D3921000310001010408"),  # card-info input support AP
    bytes.fromhex("D3921000310001010402"),  # card-surface AP
)

#: Files holding personal data inside otherwise public applications: the
#: JPKI signing certificate carries the basic four items in its SAN (§6).
PERSONAL_DATA_FILES = frozenset({(bytes.fromhex("D392F000260100000001"), 0x0001)})

_INS_SELECT = 0xA4
_INS_READ_BINARY = 0xB0


@dataclass(frozen=True)
class RedactedApdu:
    """What a log or observer may see of one APDU.

    Attributes:
        data: the bytes, with secret or personal parts removed.
        length: the true length on the wire.
        redacted: whether anything was removed.
    """

    data: bytes
    length: int
    redacted: bool

    def hex(self) -> str:
        """Spaced hex, with a marker where bytes were removed."""
        text = self.data.hex(" ").upper()
        if self.redacted:
            hidden = self.length - len(self.data)
            text = f"{text} <{hidden} bytes redacted>".strip()
        return text


class ApduRedactor:
    """Redacts one card session's traffic; feed it every command and response in order."""

    def __init__(self) -> None:
        self._aid = b""
        self._personal_ap = False
        self._personal_ef = False
        self._last_personal_read = False

    def command(self, apdu: bytes) -> RedactedApdu:
        """Redact a command APDU and note what it selects."""
        self._last_personal_read = False
        if len(apdu) < 4:
            return RedactedApdu(apdu, len(apdu), False)
        ins, p1 = apdu[1], apdu[2]
        if ins == _INS_SELECT:
            self._note_select(p1, _command_data(apdu))
        elif ins == _INS_READ_BINARY:
            # P1 = 80|SFI reads the file with that short ID (§4.1).
            by_sfi = p1 & 0x80 and (self._aid, p1 & 0x1F) in PERSONAL_DATA_FILES
            self._last_personal_read = bool(self._personal_ap or self._personal_ef or by_sfi)
        if ins in SECRET_BEARING_INS and len(apdu) > 5:
            keep = 7 if (apdu[4] == 0 and len(apdu) >= 7) else 5
            return RedactedApdu(apdu[:keep], len(apdu), True)
        return RedactedApdu(apdu, len(apdu), False)

    def response(self, apdu: bytes) -> RedactedApdu:
        """Redact a response APDU: personal file contents keep only the status word."""
        if self._last_personal_read and len(apdu) > 2:
            return RedactedApdu(apdu[-2:], len(apdu), True)
        return RedactedApdu(apdu, len(apdu), False)

    def reset(self) -> None:
        """Forget the selection (card powered off or replaced)."""
        self._aid = b""
        self._personal_ap = False
        self._personal_ef = False
        self._last_personal_read = False

    def _note_select(self, p1: int, data: bytes) -> None:
        if p1 == 0x04:  # by DF name (AID), possibly a prefix (§2)
            full = next((aid for aid in _KNOWN_AIDS if data and aid.startswith(data)), data)
            self._aid = full
            self._personal_ap = full in PERSONAL_DATA_AIDS
            self._personal_ef = False
        elif p1 == 0x02 and len(data) == 2:  # EF by file ID
            self._personal_ef = (self._aid, int.from_bytes(data, "big")) in PERSONAL_DATA_FILES


_KNOWN_AIDS = (*PERSONAL_DATA_AIDS, *(aid for aid, _ in PERSONAL_DATA_FILES))


def _command_data(apdu: bytes) -> bytes:
    """The data field of a case 3/4 command, or b'' when there is none or it is malformed."""
    if len(apdu) <= 5:
        return b""
    if apdu[4] == 0 and len(apdu) >= 7:
        lc = int.from_bytes(apdu[5:7], "big")
        return apdu[7 : 7 + lc]
    return apdu[5 : 5 + apdu[4]]
