# SPDX-License-Identifier: Apache-2.0
"""The ESC/POS subset our receipt printers speak, as a sans-I/O encoder.

Only these commands are sent (and emulated by hw_sim/devices/escpos_parse.py):

=====================  ===========================  ==========================
command                bytes                        meaning
=====================  ===========================  ==========================
ESC @                  1B 40                        initialise
ESC E n                1B 45 n                      bold off/on
GS ! n                 1D 21 n                      size: (w-1)<<4 | (h-1)
ESC a n                1B 61 n                      align: 0 left 1 centre 2 right
LF                     0A                           print the line
ESC d n                1B 64 n                      feed n lines
FS C n                 1C 43 01                     Kanji code system: Shift_JIS
FS & / FS .            1C 26 / 1C 2E                Kanji mode on / off
GS v 0 m xL xH yL yH   1D 76 30 00 ...              raster image, 1 bit per dot
GS ( k ... 31 41..51   1D 28 6B pL pH 31 fn ...     QR: model, size, ECC, store, print
GS V m                 1D 56 00 / 01                full / partial cut
DLE EOT n              10 04 02 / 04                real-time status (1 byte back)
DLE DC4 8 1 3 20 1 6 2 8  10 14 08 01 03 14 01 06 02 08  real-time: clear the buffers
=====================  ===========================  ==========================

Japanese text goes in Kanji mode as Shift_JIS (JIS X 0208 characters), or
as a raster image made by the caller. Status bytes follow Epson: the offline
status (n=2) has bit 2 set when the cover is open and bit 5 when printing
stopped at paper end; the roll-paper status (n=4) has bits 5-6 set at paper
end and bits 2-3 when near the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

__all__ = [
    "CLEAR_BUFFERS",
    "STATUS_OFFLINE",
    "STATUS_PAPER",
    "Align",
    "PrinterStatus",
    "Receipt",
    "parse_status",
    "status_request",
]

ESC, GS, FS, DLE, EOT, LF = 0x1B, 0x1D, 0x1C, 0x10, 0x04, 0x0A
#: DLE EOT n values this driver asks.
STATUS_OFFLINE = 2
STATUS_PAPER = 4
_QR_ECC = {"L": 48, "M": 49, "Q": 50, "H": 51}


class Align(IntEnum):
    """Line alignment (ESC a n)."""

    LEFT = 0
    CENTER = 1
    RIGHT = 2


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer reports about itself."""

    cover_open: bool
    paper_out: bool
    paper_near_end: bool

    @property
    def ready(self) -> bool:
        """Paper in and cover closed."""
        return not (self.cover_open or self.paper_out)


#: DLE DC4 fn=8 (Epson "clear buffers"): real-time, so it reaches a printer
#: stuck collecting a command whose length byte line noise garbled, which
#: would otherwise swallow every later byte, status requests included.
CLEAR_BUFFERS = bytes((DLE, 0x14, 0x08, 0x01, 0x03, 0x14, 0x01, 0x06, 0x02, 0x08))


def status_request(n: int) -> bytes:
    """DLE EOT n (real-time: answered even while the printer is offline)."""
    return bytes((DLE, EOT, n))


def parse_status(offline: int, paper: int) -> PrinterStatus:
    """Combine the answers to DLE EOT 2 and DLE EOT 4.

    Raises:
        ValueError: a byte lacks the fixed bits (bit 1 and bit 4 set, bit 0 and 7 clear).
    """
    for byte in (offline, paper):
        if byte & 0x93 != 0x12:
            raise ValueError(f"not an ESC/POS status byte: 0x{byte:02X}")
    return PrinterStatus(
        cover_open=bool(offline & 0x04),
        paper_out=bool(paper & 0x60) or bool(offline & 0x20),
        paper_near_end=bool(paper & 0x0C),
    )


class Receipt:
    """Build one receipt; ``bytes(receipt)`` is what goes to the printer."""

    def __init__(self) -> None:
        self._out = bytearray((ESC, 0x40))

    def __bytes__(self) -> bytes:
        return bytes(self._out)

    def text(
        self,
        line: str,
        *,
        bold: bool = False,
        double: bool = False,
        align: Align = Align.LEFT,
    ) -> Receipt:
        """One line of ASCII text.

        Raises:
            ValueError: the line is not printable ASCII (use :meth:`japanese`).
        """
        if not all(0x20 <= ord(c) < 0x7F for c in line):
            raise ValueError("text() takes printable ASCII; use japanese() for Japanese")
        return self._line(line.encode("ascii"), bold=bold, double=double, align=align)

    def japanese(
        self, line: str, *, bold: bool = False, double: bool = False, align: Align = Align.LEFT
    ) -> Receipt:
        """One line in Kanji mode (Shift_JIS).

        Raises:
            ValueError: a character Shift_JIS cannot encode.
        """
        try:
            encoded = line.encode("shift_jis")
        except UnicodeEncodeError:
            raise ValueError("the line has characters outside Shift_JIS") from None
        body = bytes((FS, 0x43, 0x01, FS, 0x26)) + encoded + bytes((FS, 0x2E))
        return self._line(body, bold=bold, double=double, align=align)

    def _line(self, body: bytes, *, bold: bool, double: bool, align: Align) -> Receipt:
        self._out += bytes(
            (ESC, 0x61, align, ESC, 0x45, int(bold), GS, 0x21, 0x11 if double else 0)
        )
        self._out += body + bytes((LF,))
        return self

    def feed(self, lines: int = 1) -> Receipt:
        """Feed ``lines`` blank lines."""
        self._out += bytes((ESC, 0x64, lines))
        return self

    def qr(
        self, data: str, *, module: int = 4, ecc: str = "M", align: Align = Align.CENTER
    ) -> Receipt:
        """A QR code (model 2) for ``data`` (e.g. the transaction reference)."""
        if not 1 <= module <= 16:
            raise ValueError("QR module size is 1..16 dots")
        payload = data.encode("utf-8")
        if len(payload) > 7000:
            raise ValueError("QR data too long")
        store = len(payload) + 3
        self._out += bytes((ESC, 0x61, align))
        self._out += bytes((GS, 0x28, 0x6B, 4, 0, 0x31, 0x41, 50, 0))
        self._out += bytes((GS, 0x28, 0x6B, 3, 0, 0x31, 0x43, module))
        self._out += bytes((GS, 0x28, 0x6B, 3, 0, 0x31, 0x45, _QR_ECC[ecc]))
        self._out += bytes((GS, 0x28, 0x6B, store & 0xFF, store >> 8, 0x31, 0x50, 0x30)) + payload
        self._out += bytes((GS, 0x28, 0x6B, 3, 0, 0x31, 0x51, 0x30, LF))
        return self

    def raster(self, width_bytes: int, rows: bytes, *, align: Align = Align.CENTER) -> Receipt:
        """A 1-bit image, ``width_bytes`` bytes per row, MSB = leftmost dot, 1 = black."""
        if width_bytes <= 0 or len(rows) % width_bytes:
            raise ValueError("rows must be whole rows of width_bytes")
        height = len(rows) // width_bytes
        self._out += bytes((ESC, 0x61, align, GS, 0x76, 0x30, 0))
        self._out += (
            bytes((width_bytes & 0xFF, width_bytes >> 8, height & 0xFF, height >> 8)) + rows
        )
        return self

    def cut(self, *, partial: bool = False) -> Receipt:
        """Feed past the cutter and cut."""
        self._out += bytes((ESC, 0x64, 3, GS, 0x56, 1 if partial else 0))
        return self

    def raw(self, data: bytes) -> Receipt:
        """Append ESC/POS bytes the caller built (an XFS4IoT ``Printer.PrintRaw``)."""
        self._out += data
        return self
