# SPDX-License-Identifier: Apache-2.0
"""hw_sim.devices.controller: key names, multi-tap sequences, binary lookup."""

from __future__ import annotations

import pytest

from hw_sim.devices.controller import FIRMWARE_DIR, SimController, find_micropython, password_taps
from hw_sim.devices.errors import DeviceError, MicroPythonMissingError


def test_password_taps() -> None:
    assert password_taps("AB1") == ["2", "#", "2", "2", "#", "1", "#"]
    assert password_taps("Z9") == ["9"] * 4 + ["#"] + ["9"] * 5 + ["#"]
    with pytest.raises(ValueError, match="A-Z"):
        password_taps("a")


def test_find_micropython_honours_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MICROPYTHON", "/nonexistent/micropython")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("sys.executable", "/nonexistent/python")
    with pytest.raises(MicroPythonMissingError):
        find_micropython()


def test_firmware_tree_is_where_the_sim_looks() -> None:
    assert (FIRMWARE_DIR / "main.py").exists()
    assert (FIRMWARE_DIR / "myna_fw" / "app.py").exists()


def test_unstarted_controller_refuses_and_closes_quietly() -> None:
    sim = SimController()
    with pytest.raises(ValueError, match="unknown key"):
        sim.press("Q", wait=False)
    with pytest.raises(DeviceError, match="not running"):
        sim.press("1", wait=False)
    with pytest.raises(DeviceError, match="not running"):
        _ = sim.relay
    assert sim.pid is None
    sim.close()
    sim.close()
