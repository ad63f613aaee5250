# SPDX-License-Identifier: Apache-2.0
"""The lifecycle both serial peripherals share: open by pyserial URL, close, ``with``.

Why a base class: the controller board and the receipt printer open their
port the same way (``serial.serial_for_url``, so real ports, the simulator's
pty, ``spy://`` and ``socket://`` all work), translate pyserial's failure to
``BoardAbsentError`` at this one edge (STYLE §3), close idempotently and are
context managers that open on entry. Each driver adds only what happens
after the port is open (the controller's handshake).
"""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self

import serial

from host.errors import BoardAbsentError

__all__ = ["SerialPeripheralABC"]


class SerialPeripheralABC(abc.ABC):
    """A peripheral behind a pyserial URL; a context manager that opens on entry.

    Args:
        url: anything ``serial.serial_for_url`` opens.
        baudrate: the line speed (ignored by ptys and sockets).
    """

    def __init__(self, url: str, *, baudrate: int) -> None:
        self.url = url
        self._baudrate = baudrate
        self._port: serial.SerialBase | None = None

    @abc.abstractmethod
    def open(self) -> object:
        """Open the port and make the device ready."""

    def _open_port(self, device: str, timeout: float) -> serial.SerialBase:
        """Open ``url`` with a read ``timeout`` in seconds.

        Raises:
            BoardAbsentError: the port cannot be opened (``device`` names it).
        """
        try:
            self._port = serial.serial_for_url(self.url, baudrate=self._baudrate, timeout=timeout)
        except (serial.SerialException, ValueError) as exc:
            raise BoardAbsentError(f"cannot open the {device} at {self.url!r}: {exc}") from exc
        return self._port

    def close(self) -> None:
        """Close the port; closing twice is harmless."""
        port, self._port = self._port, None
        if port is not None:
            port.close()

    def __enter__(self) -> Self:
        if self._port is None:
            self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
