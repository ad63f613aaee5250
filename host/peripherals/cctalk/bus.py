# SPDX-License-Identifier: Apache-2.0
"""The ccTalk bus over a pyserial URL: one request, its echo, one reply, with retries.

Why the echo: ccTalk runs on a single open-collector data wire, so every byte
the host sends comes back on its own receive line before the device answers
(Generic Specification part 1, "serial protocol"). The driver checks the
echo byte for byte; a mismatch means a collision or line noise, and the
request is sent again. Adapters with separate TX/RX lines pass ``echo=False``.

Retries: a frame that does not check, a missing or truncated reply, NAK or
BUSY is retried up to ``retries`` times; then the last failure is raised as
its typed error. Only requests that are safe to repeat go through
``request``; the hopper's dispense guards its retry with the event counter
(``devices.Hopper.dispense``).

Wire traffic is logged at level 5 (below DEBUG) as hex with an arrow (STYLE
§7). Payment frames carry no secret.
"""

from __future__ import annotations

import logging
import time
from typing import Final

import serial

from host.errors import BoardAbsentError
from host.peripherals.cctalk.codes import ADDR_HOST, Header
from host.peripherals.cctalk.errors import (
    CcTalkError,
    CcTalkFrameError,
    CcTalkNakError,
    CcTalkNoReplyError,
)
from host.peripherals.cctalk.frame import MIN_FRAME, Frame, decode_frame
from host.peripherals.serial_port import SerialPeripheralABC

__all__ = ["WIRE", "CcTalkBus"]

_log = logging.getLogger(__name__)
#: The log level of wire traces, below DEBUG.
WIRE: Final = 5


class CcTalkBus(SerialPeripheralABC):
    """A ccTalk bus behind a pyserial URL; a context manager.

    Args:
        url: anything ``serial.serial_for_url`` opens (the emulator's pty).
        timeout: seconds to wait for each reply.
        retries: extra attempts after a bad or missing reply.
        echo: the line echoes what the host sends (single-wire bus).
        baudrate: 9600 8N1 is the ccTalk standard.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 0.2,
        retries: int = 3,
        echo: bool = True,
        baudrate: int = 9600,
    ) -> None:
        super().__init__(url, baudrate=baudrate)
        if retries < 0 or timeout < 0:
            raise ValueError("retries and timeout must not be negative")
        self.timeout = timeout
        self.retries = retries
        self.echo = echo
        self.attempts = 0  # requests written, retries included (figures and tests)

    def open(self) -> None:
        """Open the port.

        Raises:
            BoardAbsentError: the port cannot be opened.
        """
        self._open_port("ccTalk bus", timeout=self.timeout)

    def request(self, dest: int, header: int, data: bytes = b"") -> bytes:
        """Send one request to ``dest`` and return the reply's data, retrying bad replies.

        Raises:
            ValueError: an address, header or data the frame cannot carry.
            CcTalkFrameError: the last reply did not check (echo, length, checksum, addresses).
            CcTalkNoReplyError: the last attempt got no reply in time.
            CcTalkNakError: the device kept answering NAK or BUSY.
            BoardAbsentError: the port failed.
        """
        frame = Frame(dest, ADDR_HOST, header, data).encode()
        last: CcTalkError = CcTalkNoReplyError("no attempt made")
        for attempt in range(1 + self.retries):
            try:
                return self.request_once(frame, dest)
            except (CcTalkFrameError, CcTalkNoReplyError, CcTalkNakError) as exc:
                last = exc
                _log.debug("ccTalk %d h%d attempt %d failed: %s", dest, header, attempt + 1, exc)
        raise last

    def request_once(self, frame: bytes, dest: int) -> bytes:
        """Write ``frame`` once and return the data of its reply (no retry).

        Raises:
            CcTalkFrameError, CcTalkNoReplyError, CcTalkNakError, BoardAbsentError.
        """
        port = self._io()
        echo_len = len(frame) if self.echo else 0
        try:
            port.timeout = 0
            stale = port.read(4096)  # whatever a late reply left behind
            if stale:
                _log.log(WIRE, "ccTalk <~ %s (stale)", stale.hex(" "))
            _log.log(WIRE, "ccTalk -> %s", frame.hex(" "))
            self.attempts += 1
            port.write(frame)
            port.flush()
            got = self._read_reply(port, echo_len)
        except CcTalkError:
            raise  # our timeout is a TimeoutError, hence an OSError: not the port's
        except (serial.SerialException, OSError) as exc:
            raise BoardAbsentError(f"the ccTalk bus failed: {exc}") from exc
        _log.log(WIRE, "ccTalk <- %s", got.hex(" "))
        if got[:echo_len] != frame:
            raise CcTalkFrameError("the bus echo differs from what was sent (collision or noise)")
        reply = decode_frame(got[echo_len:])
        if reply.dest != ADDR_HOST or reply.src != dest:
            raise CcTalkFrameError(f"a reply from {reply.src} to {reply.dest}, not {dest} to host")
        if reply.header in (Header.NAK, Header.BUSY):
            raise CcTalkNakError(
                f"device {dest} answered {Header(reply.header).name}", header=reply.header
            )
        if reply.header != Header.REPLY:
            raise CcTalkFrameError(f"a reply with header {reply.header}, not 0")
        return reply.data

    def _read_reply(self, port: serial.SerialBase, echo_len: int) -> bytes:
        """Read the echo and one whole reply frame, sized by its length byte."""
        got = bytearray()
        need = echo_len + 2  # the echo, then the reply's dest and length bytes
        deadline = time.monotonic() + self.timeout
        while len(got) < need:
            left = deadline - time.monotonic()
            port.timeout = max(left, 0.0)
            chunk = port.read(need - len(got))
            got += chunk
            if len(got) >= echo_len + 2:
                need = echo_len + got[echo_len + 1] + MIN_FRAME
            if not chunk and left <= 0:
                break
        if len(got) >= need:
            return bytes(got[:need])
        if len(got) <= echo_len:
            raise CcTalkNoReplyError("the ccTalk device did not answer")
        raise CcTalkFrameError(f"a truncated reply ({len(got) - echo_len} bytes)")

    def _io(self) -> serial.SerialBase:
        if self._port is None:
            raise BoardAbsentError("the ccTalk bus is closed")
        return self._port
