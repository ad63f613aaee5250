# SPDX-License-Identifier: Apache-2.0
"""The printer side of ESC/POS, sans-I/O: bytes in, receipts and status bytes out.

Parses the subset in host/peripherals/escpos.py (the table there is the
contract) incrementally, so a command split across reads is handled. A cut
closes the current receipt. Real-time status (DLE EOT n) is answered even
when the printer is offline, and the real-time "clear buffers" (DLE DC4 8)
drops a command still waiting for its data; while the cover is open or the paper is out,
print data is discarded, as an offline printer would.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

__all__ = ["EscPosPrinter", "Line", "QrBlock", "RasterBlock", "Receipt", "Segment"]

_log = logging.getLogger(__name__)
#: DLE DC4 fn=8: clear the receive and print buffers (real-time).
_CLEAR_BUFFERS = bytes((0x10, 0x14, 0x08, 0x01, 0x03, 0x14, 0x01, 0x06, 0x02, 0x08))
ESC, GS, FS, DLE, LF = 0x1B, 0x1D, 0x1C, 0x10, 0x0A
_ECC = {48: "L", 49: "M", 50: "Q", 51: "H"}


@dataclass(frozen=True)
class Segment:
    """A run of text with one style."""

    text: str
    bold: bool
    width: int  # 1 or 2 (GS ! multiplier)
    height: int
    kanji: bool


@dataclass(frozen=True)
class Line:
    """A printed line."""

    segments: tuple[Segment, ...]
    align: int

    @property
    def text(self) -> str:
        """The line as plain text."""
        return "".join(s.text for s in self.segments)


@dataclass(frozen=True)
class QrBlock:
    """A QR code as stored with GS ( k fn 80 and printed with fn 81."""

    data: str
    module: int
    ecc: str
    align: int


@dataclass(frozen=True)
class RasterBlock:
    """A GS v 0 raster image."""

    width_bytes: int
    height: int
    rows: bytes
    align: int


@dataclass
class Receipt:
    """Everything between two cuts."""

    blocks: list[Line | QrBlock | RasterBlock] = field(default_factory=list)

    def text(self) -> str:
        """The receipt as text (QR codes as ``[QR data]``)."""
        out = []
        for block in self.blocks:
            if isinstance(block, Line):
                out.append(block.text)
            elif isinstance(block, QrBlock):
                out.append(f"[QR {block.data}]")
            else:
                out.append(f"[IMAGE {block.width_bytes * 8}x{block.height}]")
        return "\n".join(out) + "\n"


class EscPosPrinter:
    """The printer's state machine; ``feed`` returns bytes to send back."""

    def __init__(self) -> None:
        self.cover_open = False
        self.paper_out = False
        self.receipts: list[Receipt] = []
        self.current = Receipt()
        self._buf = bytearray()
        self._reset_style()
        self._segments: list[Segment] = []
        self._text = bytearray()
        self._qr: tuple[str, int, str] = ("", 3, "L")

    def _reset_style(self) -> None:
        self.bold = False
        self.width = self.height = 1
        self.align = 0
        self.kanji = False

    def feed(self, data: bytes) -> bytes:
        """Consume bytes; return the status answers to write back."""
        self._buf += data
        answers = bytearray()
        while self._buf:
            used = self._step(answers)
            if used == 0:
                # Waiting for the rest of a command: a real-time "clear
                # buffers" still gets through (as on Epson printers), so a
                # command with a garbled length cannot swallow the line forever.
                clear = self._buf.find(_CLEAR_BUFFERS, 1)
                if clear < 0:
                    break
                _log.debug("buffers cleared (%d bytes dropped)", clear)
                self._text.clear()
                used = clear + len(_CLEAR_BUFFERS)
            elif self._buf.startswith(_CLEAR_BUFFERS):
                used = len(_CLEAR_BUFFERS)
            del self._buf[:used]
        return bytes(answers)

    def status_byte(self, n: int) -> int:
        """The answer to DLE EOT n."""
        byte = 0x12
        if n == 2:
            byte |= (0x04 if self.cover_open else 0) | (0x20 if self.paper_out else 0)
        elif n == 4:
            byte |= 0x60 if self.paper_out else 0
        return byte

    @property
    def offline(self) -> bool:
        """Print data is discarded."""
        return self.cover_open or self.paper_out

    def _step(self, answers: bytearray) -> int:
        buf = self._buf
        first = buf[0]
        if first == DLE:
            if len(buf) < 3:
                return 0
            if buf[1] == 0x04:
                answers.append(self.status_byte(buf[2]))
            return 3
        if first == ESC:
            return self._esc(buf)
        if first == GS:
            return self._gs(buf)
        if first == FS:
            if len(buf) < 2:
                return 0
            if buf[1] == 0x43:
                return 3 if len(buf) >= 3 else 0
            self._flush_text()
            self.kanji = buf[1] == 0x26
            return 2
        if first == LF:
            self._end_line()
            return 1
        if self.kanji and (0x81 <= first <= 0x9F or 0xE0 <= first <= 0xFC):
            if len(buf) < 2:
                return 0
            self._text += buf[:2]
            return 2
        if first >= 0x20:
            self._text.append(first)
        return 1

    def _esc(self, buf: bytearray) -> int:
        if len(buf) < 2:
            return 0
        if buf[1] == 0x40:
            self._flush_text()
            self._reset_style()
            return 2
        if len(buf) < 3:
            return 0
        cmd, n = buf[1], buf[2]
        if cmd == 0x45:
            self._flush_text()
            self.bold = bool(n & 1)
        elif cmd == 0x61:
            self.align = n if n <= 2 else 0
        elif cmd == 0x64:
            for _ in range(n):
                self._end_line()
        else:
            _log.debug("ignored ESC %02X", cmd)
        return 3

    def _gs(self, buf: bytearray) -> int:
        if len(buf) < 3:
            return 0
        cmd = buf[1]
        if cmd == 0x21:
            self._flush_text()
            self.width, self.height = (buf[2] >> 4) + 1, (buf[2] & 0x0F) + 1
            return 3
        if cmd == 0x56:
            self._cut()
            return 3
        if cmd == 0x76:
            if len(buf) < 8:
                return 0
            width, height = buf[4] | buf[5] << 8, buf[6] | buf[7] << 8
            end = 8 + width * height
            if len(buf) < end:
                return 0
            self._add(RasterBlock(width, height, bytes(buf[8:end]), self.align))
            return end
        if cmd == 0x28 and buf[2] == 0x6B:
            if len(buf) < 5:
                return 0
            end = 5 + (buf[3] | buf[4] << 8)
            if len(buf) < end:
                return 0
            self._qr_command(bytes(buf[5:end]))
            return end
        _log.debug("ignored GS %02X", cmd)
        return 2

    def _qr_command(self, body: bytes) -> None:
        if len(body) < 2 or body[0] != 0x31:
            return
        data, module, ecc = self._qr
        fn = body[1]
        if fn == 0x43 and len(body) > 2:
            self._qr = (data, body[2], ecc)
        elif fn == 0x45 and len(body) > 2:
            self._qr = (data, module, _ECC.get(body[2], "M"))
        elif fn == 0x50:
            self._qr = (body[3:].decode("utf-8", "replace"), module, ecc)
        elif fn == 0x51:
            self._add(QrBlock(data, module, ecc, self.align))

    def _flush_text(self) -> None:
        if not self._text:
            return
        raw, self._text = bytes(self._text), bytearray()
        text = raw.decode("shift_jis", "replace") if self.kanji else raw.decode("ascii", "replace")
        self._segments.append(Segment(text, self.bold, self.width, self.height, self.kanji))

    def _end_line(self) -> None:
        self._flush_text()
        self._add(Line(tuple(self._segments), self.align))
        self._segments = []

    def _add(self, block: Line | QrBlock | RasterBlock) -> None:
        if not self.offline:
            self.current.blocks.append(block)

    def _cut(self) -> None:
        self._flush_text()
        if self._segments:
            self._end_line()
        if self.current.blocks and not self.offline:
            self.receipts.append(self.current)
        self.current = Receipt()
