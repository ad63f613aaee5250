# SPDX-License-Identifier: Apache-2.0
"""APDU encoding and status words, with no I/O.

The card speaks ISO 7816-4 APDUs. This module turns a command into the bytes
of its short or extended form (§5.1 cases 1 to 4), parses the card's answer,
and maps status words to the exception classes of :mod:`host.errors` through a
table, as pyscard's ISO 7816-4 checker does (STYLE §3: codes are data). It is
sans-I/O so that the channel above the transport and the tests share it.

A command that carries a PIN is marked ``sensitive``: its repr then shows the
data's length only, never the bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from host.errors import (
    CardError,
    ConditionsNotSatisfiedError,
    FileNotFoundOnCardError,
    InstructionNotSupportedError,
    MalformedResponseError,
    PinBlockedError,
    SecurityStatusError,
    UnexpectedStatusError,
    WrongLengthError,
    WrongParametersError,
    WrongPinError,
)

__all__ = [
    "MAX_EXTENDED_LC",
    "MAX_EXTENDED_LE",
    "MAX_SHORT_LC",
    "MAX_SHORT_LE",
    "STATUS_WORDS",
    "SW_OK",
    "SW_PATTERNS",
    "CommandApdu",
    "ResponseApdu",
    "check",
    "error_for",
]

MAX_SHORT_LC: Final = 255
MAX_SHORT_LE: Final = 256  # encoded as 00
MAX_EXTENDED_LC: Final = 65535
MAX_EXTENDED_LE: Final = 65536  # encoded as 00 00

SW_OK: Final = 0x9000

#: Exact status words and the error each one raises (jpki-card.md §4.3).
#: Looked up before ``SW_PATTERNS``, so ``63C0`` is "blocked", not "0 tries left".
STATUS_WORDS: Final[Mapping[int, type[CardError]]] = MappingProxyType(
    {
        0x63C0: PinBlockedError,  # the attempt that used up the counter
        0x6984: PinBlockedError,  # every VERIFY after blocking
        0x6982: SecurityStatusError,
        0x6985: ConditionsNotSatisfiedError,
        0x6A82: FileNotFoundOnCardError,
        0x6700: WrongLengthError,
        0x6A80: WrongParametersError,
        0x6A86: WrongParametersError,
        0x6B00: WrongParametersError,  # READ BINARY offset past the end
        0x6D00: InstructionNotSupportedError,
        0x6E00: InstructionNotSupportedError,
    }
)

#: ``(mask, value, error)``: ``sw & mask == value`` raises ``error``; first match wins.
SW_PATTERNS: Final[tuple[tuple[int, int, type[CardError]], ...]] = (
    (0xFFF0, 0x63C0, WrongPinError),  # 63Cx: x tries left
    (0xFF00, 0x6C00, WrongLengthError),  # 6Cxx: wrong Le, xx is right
)


def _check_byte(name: str, value: int) -> None:
    if not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise ValueError(f"{name} must be a byte (0..255)")


@dataclass(frozen=True, repr=False)
class CommandApdu:
    """One command APDU.

    Attributes:
        cla, ins, p1, p2: the header bytes.
        data: the command data (Lc is its length); empty for cases 1 and 2.
        le: the number of response bytes expected, 1..65536, or None for none.
        name: a short name for messages and logs (``"VERIFY"``).
        sensitive: the data is a PIN or password; reprs show its length only.

    Raises:
        ValueError: a field is out of range (on construction).
    """

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None
    name: str = field(default="", compare=False)
    sensitive: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        for label in ("cla", "ins", "p1", "p2"):
            _check_byte(label, getattr(self, label))
        if not isinstance(self.data, bytes | bytearray):
            raise TypeError("data must be bytes")
        object.__setattr__(self, "data", bytes(self.data))
        if len(self.data) > MAX_EXTENDED_LC:
            raise ValueError(f"data longer than {MAX_EXTENDED_LC} bytes")
        if self.le is not None and (
            not isinstance(self.le, int) or not 1 <= self.le <= MAX_EXTENDED_LE
        ):
            raise ValueError(f"le must be None or 1..{MAX_EXTENDED_LE}")

    @property
    def label(self) -> str:
        """The name for messages: ``name`` or ``INS xx``."""
        return self.name or f"INS {self.ins:02X}"

    @property
    def needs_extended(self) -> bool:
        """Whether only the extended form can carry this command."""
        return len(self.data) > MAX_SHORT_LC or (self.le is not None and self.le > MAX_SHORT_LE)

    def encode(self, extended: bool | None = None) -> bytes:
        """Return the command's bytes (ISO 7816-4 §5.1).

        Args:
            extended: force the extended (True) or short (False) form; None
                picks short unless a field needs extended.

        Raises:
            ValueError: ``extended=False`` for a command that needs extended length.
        """
        if extended is None:
            extended = self.needs_extended
        elif not extended and self.needs_extended:
            raise ValueError(f"{self.label} needs extended length (Lc > 255 or Le > 256)")
        out = bytearray((self.cla, self.ins, self.p1, self.p2))
        lc, le = len(self.data), self.le
        if not extended:
            if lc:
                out.append(lc)
                out += self.data
            if le is not None:
                out.append(le & 0xFF)  # 256 -> 00
            return bytes(out)
        # Extended: one 00 marker, then 2-byte Lc and/or Le (65536 -> 00 00).
        if lc or le is not None:
            out.append(0)
        if lc:
            out += lc.to_bytes(2, "big") + self.data
        if le is not None:
            out += (le & 0xFFFF).to_bytes(2, "big")
        return bytes(out)

    def __repr__(self) -> str:
        header = f"{self.cla:02X} {self.ins:02X} {self.p1:02X} {self.p2:02X}"
        if not self.data:
            body = ""
        elif self.sensitive:
            body = f", data=<{len(self.data)} bytes redacted>"
        else:
            body = f", data={self.data.hex(' ').upper()}"
        le = "" if self.le is None else f", le={self.le}"
        return f"CommandApdu({self.label} {header}{body}{le})"

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class ResponseApdu:
    """One response APDU: data and the status word.

    The repr shows the data's length only, since responses can carry personal
    data (name, address, My Number).
    """

    data: bytes
    sw1: int
    sw2: int

    @classmethod
    def parse(cls, raw: bytes) -> ResponseApdu:
        """Split raw response bytes into data and status word.

        Raises:
            MalformedResponseError: fewer than two bytes.
        """
        if len(raw) < 2:
            raise MalformedResponseError(f"response of {len(raw)} bytes has no status word")
        return cls(bytes(raw[:-2]), raw[-2], raw[-1])

    @property
    def sw(self) -> int:
        """The status word as an int (``0x9000``)."""
        return (self.sw1 << 8) | self.sw2

    @property
    def ok(self) -> bool:
        """Whether the status word is 9000."""
        return self.sw == SW_OK

    def __repr__(self) -> str:
        return f"ResponseApdu(<{len(self.data)} bytes>, SW={self.sw:04X})"

    __str__ = __repr__


def error_for(sw: int, command_name: str = "") -> CardError:
    """Return the exception a non-9000 status word stands for (not raised)."""
    cls = STATUS_WORDS.get(sw)
    if cls is None:
        cls = next(
            (err for mask, value, err in SW_PATTERNS if sw & mask == value),
            UnexpectedStatusError,
        )
    return cls(sw, command_name)


def check(response: ResponseApdu, command_name: str = "") -> ResponseApdu:
    """Return ``response`` when its status word is 9000, else raise.

    Raises:
        CardError: the subclass ``STATUS_WORDS``/``SW_PATTERNS`` give, or
            ``UnexpectedStatusError``.
    """
    if response.sw != SW_OK:
        raise error_for(response.sw, command_name)
    return response
