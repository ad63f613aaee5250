# SPDX-License-Identifier: Apache-2.0
"""A receipt printer on a pty: ESC/POS in, a PNG and a text file per receipt out.

``SimPrinter`` gives the host a pty (``sim.url``) joined by the fault relay
to the emulator's own pty; a thread feeds what arrives to
``escpos_parse.EscPosPrinter``, answers real-time status requests, and at
each cut writes ``receipt-0001.png`` and ``receipt-0001.txt`` to the output
folder, so a person can look at what the terminal printed. Paper-out and
cover-open are switches on the object.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from pathlib import Path

from hw_sim.devices.base import SimDeviceABC
from hw_sim.devices.errors import DeviceTimeoutError
from hw_sim.devices.escpos_parse import EscPosPrinter, Receipt
from hw_sim.devices.escpos_render import render_png
from hw_sim.devices.faults import LinkFaults, PtyRelay

__all__ = ["SimPrinter"]

_log = logging.getLogger(__name__)


class SimPrinter(SimDeviceABC):
    """A running printer emulator; a context manager.

    Args:
        out_dir: where receipts are written (None: keep them in memory only).
        faults: link faults between the host and the printer.
        link_path: also expose the host end as this symlink.
    """

    def __init__(
        self,
        out_dir: Path | None = None,
        *,
        faults: LinkFaults | None = None,
        link_path: Path | None = None,
    ) -> None:
        self.out_dir = out_dir
        self.printer = EscPosPrinter()
        super().__init__(faults, link_path)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Condition()
        self.files: list[Path] = []
        self._done = 0  # receipts cut and written out

    def start(self) -> SimPrinter:
        """Open the ptys and start emulating."""
        dev_slave, _ = self._pty.open()
        self._thread = threading.Thread(target=self._run, args=(dev_slave,), daemon=True)
        self._thread.start()
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        return self

    def close(self) -> None:
        """Stop; closing twice is harmless."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        self._pty.close()

    def _running(self) -> bool:
        return self._thread is not None

    @property
    def relay(self) -> PtyRelay | None:
        """The link's fault relay (its statistics; its ``faults`` may be changed), once started."""
        return self._pty.relay

    def set_paper_out(self, value: bool) -> None:
        """Run out of paper (or load it again)."""
        with self._lock:
            self.printer.paper_out = value

    def set_cover_open(self, value: bool) -> None:
        """Open or close the cover."""
        with self._lock:
            self.printer.cover_open = value

    @property
    def receipts(self) -> list[Receipt]:
        """Receipts printed so far."""
        with self._lock:
            return list(self.printer.receipts)

    def wait_receipts(self, count: int, timeout: float = 5.0) -> list[Receipt]:
        """Wait until ``count`` receipts have been cut (and written, with ``out_dir``)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._done < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DeviceTimeoutError(f"only {self._done} receipts printed")
                self._lock.wait(left)
            return list(self.printer.receipts)

    def _run(self, fd: int) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:
                return
            with self._lock:
                before = len(self.printer.receipts)
                answer = self.printer.feed(data)
                new = self.printer.receipts[before:]
            if answer:
                os.write(fd, answer)
            for index, receipt in enumerate(new, start=before + 1):
                self._save(index, receipt)
            if new:
                with self._lock:
                    self._done += len(new)
                    self._lock.notify_all()

    def _save(self, index: int, receipt: Receipt) -> None:
        if self.out_dir is None:
            return
        stem = self.out_dir / f"receipt-{index:04d}"
        stem.with_suffix(".txt").write_text(receipt.text(), encoding="utf-8")
        render_png(receipt, str(stem.with_suffix(".png")))
        self.files += [stem.with_suffix(".txt"), stem.with_suffix(".png")]
        _log.info("printed %s", stem.with_suffix(".png"))
