# SPDX-License-Identifier: Apache-2.0
"""``ThreadedPrinter``: the receipt printer as a flow's ``PrinterPort``.

The ESC/POS driver (``host.peripherals.printer``) blocks on pyserial, so,
like the card, it runs in its own single worker thread (DESIGN
"Concurrency"). Lines are printed as ASCII text when they are ASCII and in
Kanji mode otherwise (payee names), then the paper is cut. The port is
opened on first use and stays open; a failure closes it so the next receipt
reopens it (a printer that was unplugged and plugged back in).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from host.errors import CoverOpenError, PaperOutError, PeripheralError
from host.peripherals.escpos import PrinterStatus, Receipt
from host.peripherals.printer import ReceiptPrinter

__all__ = ["PrinterState", "ThreadedPrinter", "build_receipt"]

#: What the printer reported with its last receipt: ``online``, ``paper_out``,
#: ``cover_open`` or ``offline``.
PrinterState = str

_log = logging.getLogger(__name__)


def build_receipt(lines: Sequence[str], *, qr: str | None = None) -> Receipt:
    """A receipt of ``lines``, then a QR code of ``qr`` if given, cut at the end.

    The transfer flow passes its transaction reference as ``qr`` so a
    person or a scanner can read it back off the paper.

    Raises:
        ValueError: a line Shift_JIS cannot encode.
    """
    receipt = Receipt()
    for line in lines:
        if line.isascii() and line.isprintable():
            receipt.text(line)
        else:
            receipt.japanese(line)
    if qr:
        receipt.qr(qr, module=4, ecc="M")
    return receipt.feed(2).cut()


class ThreadedPrinter:
    """A ``PrinterPort`` over a pyserial URL (``/dev/ttyUSB0``, a pty, ``socket://``).

    Args:
        url: the printer's serial URL.
        timeout: seconds the printer has to answer a status request.
        on_status: told the printer's state after each receipt (the agent
            turns it into an unsolicited device-status event).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 1.0,
        on_status: Callable[[PrinterState], Awaitable[None]] | None = None,
    ) -> None:
        self.url = url
        self._timeout = timeout
        self._on_status = on_status
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="printer")
        self._printer: ReceiptPrinter | None = None

    def _port(self) -> ReceiptPrinter:
        if self._printer is None:
            printer = ReceiptPrinter(self.url, timeout=self._timeout)
            printer.open()
            self._printer = printer
        return self._printer

    def _print(self, receipt: Receipt) -> None:
        try:
            self._port().print_receipt(receipt)
        except PeripheralError:
            self._close()
            raise

    def _status(self) -> PrinterStatus:
        try:
            return self._port().status()
        except PeripheralError:
            self._close()
            raise

    async def check(self) -> PrinterStatus:
        """Ask the printer for its paper and cover state (the agent's status monitor).

        Raises:
            BoardAbsentError, BoardSilentError, PrinterError: the printer is gone.
        """
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._status)

    def _close(self) -> None:
        printer, self._printer = self._printer, None
        if printer is not None:
            printer.close()

    async def print_lines(self, lines: Sequence[str], *, qr: str | None = None) -> None:
        """Print one receipt of ``lines``, with a QR code of ``qr`` if given.

        Raises:
            ValueError: a line cannot be encoded for the printer.
            PaperOutError, CoverOpenError: the printer cannot print now.
            BoardAbsentError, BoardSilentError: the printer is gone.
        """
        await self.print_receipt(build_receipt(lines, qr=qr))

    async def print_receipt(self, receipt: Receipt) -> None:
        """Print a receipt built by the caller (raw ESC/POS included), reporting the state.

        Raises:
            PaperOutError, CoverOpenError: the printer cannot print now.
            BoardAbsentError, BoardSilentError: the printer is gone.
        """
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._print, receipt)
        except PaperOutError:
            await self._report("paper_out")
            raise
        except CoverOpenError:
            await self._report("cover_open")
            raise
        except PeripheralError:
            await self._report("offline")
            raise
        await self._report("online")

    async def _report(self, state: PrinterState) -> None:
        if self._on_status is not None:
            await self._on_status(state)

    async def aclose(self) -> None:
        """Close the port and stop the worker thread; harmless twice."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)
