# SPDX-License-Identifier: Apache-2.0
"""``hw_sim.devices.base``: the relayed pty pair and the device lifecycle."""

from __future__ import annotations

import os
import select
from pathlib import Path
from typing import Self

from hw_sim.devices.base import RelayedPty, SimDeviceABC


def _read(fd: int, n: int) -> bytes:
    data = b""
    while len(data) < n and select.select([fd], [], [], 2.0)[0]:
        data += os.read(fd, n - len(data))
    return data


def test_relayed_pty_carries_bytes_and_publishes_the_link(tmp_path: Path) -> None:
    link = tmp_path / "printer"
    pty = RelayedPty(None, link)
    device_fd, device_path = pty.open()
    host_fd = os.open(pty.url, os.O_RDWR | os.O_NOCTTY)
    try:
        assert pty.url == str(link)
        assert os.readlink(link).startswith("/dev/pts/")
        assert os.readlink(link) != device_path
        assert pty.relay is not None
        os.write(device_fd, b"to host\x00")
        assert _read(host_fd, 8) == b"to host\x00"
        os.write(host_fd, b"to device\x00")
        assert _read(device_fd, 10) == b"to device\x00"
    finally:
        os.close(host_fd)
        pty.close()
    assert not link.exists()
    assert pty.relay is None
    pty.close()  # twice is harmless


def test_relayed_pty_without_link_publishes_the_pty_path() -> None:
    pty = RelayedPty()
    assert pty.url == ""
    _, device_path = pty.open()
    try:
        assert pty.url.startswith("/dev/pts/")
        assert pty.url != device_path
    finally:
        pty.close()


class _Device(SimDeviceABC):
    def __init__(self) -> None:
        super().__init__(None, None)
        self.starts = 0
        self.closes = 0
        self._on = False

    def start(self) -> Self:
        self._pty.open()
        self.starts += 1
        self._on = True
        return self

    def close(self) -> None:
        self._on = False
        self.closes += 1
        self._pty.close()

    def _running(self) -> bool:
        return self._on


def test_with_starts_a_stopped_device_and_closes_it() -> None:
    device = _Device()
    assert device.url == ""
    with device as entered:
        assert entered is device
        assert device.url.startswith("/dev/pts/")
    assert (device.starts, device.closes) == (1, 1)


def test_with_does_not_restart_a_running_device() -> None:
    device = _Device().start()
    with device:
        assert device.starts == 1
    assert (device.starts, device.closes) == (1, 1)
