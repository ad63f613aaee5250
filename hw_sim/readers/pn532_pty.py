# SPDX-License-Identifier: Apache-2.0
"""The PN532 emulator's I/O shell: a pseudo-terminal, one reader thread.

Why a pty: libnfc's ``pn532_uart`` driver opens a serial device path; a pty
slave is one (pn532.md §1.4), so libnfc's own code runs unchanged against
the emulator. The thread feeds host bytes to ``FrameParser`` and answers
each command with ACK + one response frame in a single write (§1.5); a
command that arrives while the previous one is unanswered simply replaces
it (we answer at once, so none is ever late). The master end is put in raw
mode so nothing echoes frames back.

Fault hooks for tests: ``corrupt_next_response()`` flips the next
response's data checksum, ``drop_next_response()`` sends the ACK only,
``truncate_next_response()`` sends half a frame.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from pathlib import Path

from hw_sim.card import VirtualCard
from hw_sim.lifecycle import StartStopABC
from hw_sim.pty import close_fds, open_pty, replace_symlink
from hw_sim.readers.pn532 import Pn532
from hw_sim.readers.pn532_frames import (
    ACK,
    ERROR_FRAME,
    Command,
    FrameError,
    FrameParser,
    HostNack,
    build_frame,
)

__all__ = ["Pn532Pty"]

_log = logging.getLogger(__name__)


class Pn532Pty(StartStopABC):
    """A PN532 on a pty; a context manager (``stop()`` twice is harmless).

    Args:
        card: the card in the field (None: empty field).
        link: where to put a symlink to the pty slave (optional).
    """

    def __init__(self, card: VirtualCard | None, link: Path | None = None) -> None:
        self.chip = Pn532(card)
        self._link = link
        self._master = -1
        self._slave = -1
        self._path = ""
        self._thread: threading.Thread | None = None
        self._stop_r, self._stop_w = -1, -1
        self._lock = threading.Lock()
        self._fault: str | None = None
        self._last = b""
        self.frame_errors = 0

    @property
    def path(self) -> str:
        """The pty slave's path (``/dev/pts/N``)."""
        return self._path

    @property
    def connstring(self) -> str:
        """libnfc's connection string for this device."""
        return f"pn532_uart:{self._link or self._path}"

    def start(self) -> Pn532Pty:
        """Create the pty (and symlink) and start answering."""
        if self._thread is not None:
            return self
        self._master, self._slave, self._path = open_pty()
        if self._link is not None:
            replace_symlink(self._link, self._path)
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="pn532-pty", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering, remove the symlink and close the pty."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        os.write(self._stop_w, b"x")
        thread.join(timeout=5)
        close_fds((self._master, self._slave, self._stop_r, self._stop_w))
        if self._link is not None:
            with contextlib.suppress(OSError):
                self._link.unlink()

    def place(self, card: VirtualCard | None) -> None:
        """Put ``card`` in the field, or take the card away (None)."""
        with self._lock:
            self.chip.place(card)

    def corrupt_next_response(self) -> None:
        """Send the next response with a wrong data checksum."""
        self._fault = "corrupt"

    def drop_next_response(self) -> None:
        """Send only the ACK for the next command (the host times out)."""
        self._fault = "drop"

    def truncate_next_response(self) -> None:
        """Send only the first half of the next response frame."""
        self._fault = "truncate"

    def _run(self) -> None:
        parser = FrameParser()
        while True:
            ready, _, _ = select.select([self._master, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            try:
                data = os.read(self._master, 4096)
            except OSError:
                # EIO while no process holds the slave open: wait for one.
                if select.select([self._stop_r], [], [], 0.05)[0]:
                    return
                continue
            for event in parser.feed(data):
                self._answer(event)

    def _answer(self, event: object) -> None:
        if isinstance(event, FrameError):
            self.frame_errors += 1
            _log.debug("PN532: dropped a frame: %s", event.reason)
            return
        if isinstance(event, HostNack):
            self._write(self._last)
            return
        if not isinstance(event, Command):
            return  # host ACK: abort; nothing is running, so nothing to send
        with self._lock:
            payload = self.chip.handle(event.payload)
        frame = ERROR_FRAME if payload is None else build_frame(payload)
        self._last = frame
        fault, self._fault = self._fault, None
        if fault == "drop":
            frame = b""
        elif fault == "corrupt":
            frame = frame[:-2] + bytes([frame[-2] ^ 0xFF]) + frame[-1:]
        elif fault == "truncate":
            frame = frame[: len(frame) // 2]
        self._write(ACK + frame)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._master, view)
            view = view[written:]
