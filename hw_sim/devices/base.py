# SPDX-License-Identifier: Apache-2.0
"""What every simulated serial device shares: the relayed pty pair and the lifecycle.

Why: the controller board and the receipt printer both serve the device end
of a pty that a ``PtyRelay`` (``faults.py``) joins to the host's pty, publish
the host end (optionally under a stable symlink) as ``url``, and are context
managers that start on entry unless already running and close on exit. Each
device adds only what runs on its end: the firmware process or the ESC/POS
emulator thread.
"""

from __future__ import annotations

import abc
from pathlib import Path
from types import TracebackType
from typing import Self

from hw_sim.devices.faults import LinkFaults, PtyRelay
from hw_sim.pty import close_fds, open_pty, replace_symlink

__all__ = ["RelayedPty", "SimDeviceABC"]


class RelayedPty:
    """A device pty joined to the host's pty by a ``PtyRelay``; closing twice is harmless.

    The emulator serves the device end (``open()`` returns its slave fd and
    path); the host opens ``url``, the host slave path or ``link_path``.
    """

    def __init__(self, faults: LinkFaults | None = None, link_path: Path | None = None) -> None:
        self._faults = faults
        self._link_path = link_path
        self._fds: list[int] = []
        self.relay: PtyRelay | None = None
        self.url = ""

    def open(self) -> tuple[int, str]:
        """Open both ptys, start the relay and publish the host end.

        Returns:
            ``(device_slave_fd, device_slave_path)``.
        """
        dev_master, dev_slave, dev_path = open_pty()
        host_master, host_slave, host_path = open_pty()
        self._fds = [dev_master, dev_slave, host_master, host_slave]
        self.relay = PtyRelay(dev_master, host_master, self._faults)
        self.relay.start()
        self.url = host_path
        if self._link_path is not None:
            replace_symlink(self._link_path, host_path)
            self.url = str(self._link_path)
        return dev_slave, dev_path

    def close(self) -> None:
        """Stop the relay, close the ptys and remove the symlink."""
        if self.relay is not None:
            self.relay.stop()
            self.relay = None
        close_fds(self._fds)
        self._fds = []
        if self._link_path is not None:
            self._link_path.unlink(missing_ok=True)


class SimDeviceABC(abc.ABC):
    """A device emulator on the device end of a ``RelayedPty``; a context manager.

    Args:
        faults: link faults between the device and the host.
        link_path: also expose the host end as this symlink.
    """

    def __init__(self, faults: LinkFaults | None, link_path: Path | None) -> None:
        self._pty = RelayedPty(faults, link_path)

    @property
    def url(self) -> str:
        """What the host opens: the host pty or ``link_path`` ("" until started)."""
        return self._pty.url

    @abc.abstractmethod
    def start(self) -> Self:
        """Open the ptys and start emulating; return ``self``."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop; closing twice is harmless."""

    @abc.abstractmethod
    def _running(self) -> bool:
        """Whether ``start()`` has run and ``close()`` has not."""

    def __enter__(self) -> Self:
        return self if self._running() else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
