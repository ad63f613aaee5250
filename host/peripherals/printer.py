# SPDX-License-Identifier: Apache-2.0
"""Driver for an ESC/POS receipt printer on a serial line.

Opened by pyserial URL like the controller. Before printing it asks the
printer's real-time status (DLE EOT 2 and 4, answered even when offline) and
refuses with ``PaperOutError`` / ``CoverOpenError`` rather than sending a
receipt that would be lost; a printer that does not answer is
``BoardSilentError`` and a port that will not open ``BoardAbsentError``.
"""

from __future__ import annotations

import logging

import serial

from host.errors import (
    BoardAbsentError,
    BoardSilentError,
    CoverOpenError,
    PaperOutError,
    PrinterError,
)
from host.peripherals.escpos import (
    CLEAR_BUFFERS,
    STATUS_OFFLINE,
    STATUS_PAPER,
    PrinterStatus,
    Receipt,
    parse_status,
    status_request,
)
from host.peripherals.serial_port import SerialPeripheralABC
from host.trace import TRACE

__all__ = ["ReceiptPrinter"]

_log = logging.getLogger(__name__)


class ReceiptPrinter(SerialPeripheralABC):
    """An ESC/POS printer behind a pyserial URL; a context manager.

    Args:
        url: anything ``serial.serial_for_url`` opens.
        timeout: seconds to wait for a status byte.
    """

    def __init__(self, url: str, *, timeout: float = 1.0, baudrate: int = 115200) -> None:
        super().__init__(url, baudrate=baudrate)
        self.timeout = timeout

    def open(self) -> None:
        """Open the port.

        Raises:
            BoardAbsentError: the port cannot be opened.
        """
        self._open_port("printer", timeout=self.timeout)

    def _io(self) -> serial.SerialBase:
        if self._port is None:
            raise PrinterError("the printer is closed")
        return self._port

    def _write(self, data: bytes) -> None:
        try:
            self._io().write(data)
            self._io().flush()
        except (serial.SerialException, OSError) as exc:
            raise BoardAbsentError(f"the printer link failed: {exc}") from exc

    def _ask(self, n: int) -> int:
        port = self._io()
        try:
            port.timeout = 0
            port.read(4096)  # drop anything stale before asking
            port.timeout = self.timeout
            port.write(status_request(n))
            answer = port.read(1)
        except (serial.SerialException, OSError) as exc:
            raise BoardAbsentError(f"the printer link failed: {exc}") from exc
        if not answer:
            raise BoardSilentError("the printer did not answer its status request")
        return answer[0]

    def status(self) -> PrinterStatus:
        """Cover and paper state.

        Raises:
            BoardSilentError: no answer in ``timeout``.
            PrinterError: an answer that is not a status byte.
        """
        try:
            try:
                offline = self._ask(STATUS_OFFLINE)
            except BoardSilentError:
                # Line noise may have left the printer collecting a garbled
                # command that swallows everything: clear it, ask once more.
                _log.warning("printer silent: clearing its buffers")
                self._write(CLEAR_BUFFERS)
                offline = self._ask(STATUS_OFFLINE)
            return parse_status(offline, self._ask(STATUS_PAPER))
        except ValueError as exc:
            raise PrinterError(str(exc)) from exc

    def print_receipt(self, receipt: Receipt) -> None:
        """Check the status, then send the receipt.

        Raises:
            PaperOutError, CoverOpenError: the printer cannot print now.
            BoardSilentError, BoardAbsentError: the printer is gone.
        """
        state = self.status()
        if state.cover_open:
            raise CoverOpenError("the printer cover is open")
        if state.paper_out:
            raise PaperOutError("the printer is out of paper")
        data = bytes(receipt)
        _log.log(TRACE, "-> %d bytes of ESC/POS", len(data))
        try:
            self._io().write(data)
            self._io().flush()
        except (serial.SerialException, OSError) as exc:
            raise BoardAbsentError(f"the printer link failed: {exc}") from exc
