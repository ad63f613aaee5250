# SPDX-License-Identifier: Apache-2.0
"""``host.peripherals.serial_port``: open by URL, typed failure, idempotent close, ``with``."""

from __future__ import annotations

import pytest
import serial

from host.errors import BoardAbsentError
from host.peripherals.serial_port import SerialPeripheralABC


class _Probe(SerialPeripheralABC):
    def __init__(self, url: str) -> None:
        super().__init__(url, baudrate=9600)
        self.opens = 0

    def open(self) -> None:
        self.opens += 1
        self._open_port("probe", timeout=0.1)

    @property
    def port(self) -> serial.SerialBase | None:
        return self._port


def test_with_opens_the_url_and_closes_it() -> None:
    probe = _Probe("loop://")
    with probe as entered:
        assert entered is probe
        port = probe.port
        assert port is not None
        assert port.is_open
        assert port.timeout == 0.1
        assert port.baudrate == 9600
        port.write(b"echo")
        assert port.read(4) == b"echo"
    assert probe.port is None
    assert not port.is_open
    probe.close()  # twice is harmless


def test_with_does_not_reopen_an_open_port() -> None:
    probe = _Probe("loop://")
    probe.open()
    with probe:
        assert probe.opens == 1
    assert probe.port is None


def test_an_unopenable_url_is_board_absent() -> None:
    probe = _Probe("nosuchscheme://here")
    with pytest.raises(
        BoardAbsentError, match="cannot open the probe at 'nosuchscheme://here'"
    ) as info:
        probe.open()
    assert isinstance(info.value.__cause__, (serial.SerialException, ValueError))
    assert probe.port is None
