# SPDX-License-Identifier: Apache-2.0
"""Curated ``__all__`` of the peripheral and device modules matches what they define."""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = [
    "host.peripherals",
    "host.peripherals.controller",
    "host.peripherals.escpos",
    "host.peripherals.link",
    "host.peripherals.messages",
    "host.peripherals.pinblock",
    "host.peripherals.printer",
    "hw_sim.devices",
    "hw_sim.devices.bench",
    "hw_sim.devices.cli",
    "hw_sim.devices.controller",
    "hw_sim.devices.errors",
    "hw_sim.devices.escpos_parse",
    "hw_sim.devices.escpos_render",
    "hw_sim.devices.faults",
    "hw_sim.devices.printer",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_in_sync(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(set(exported)) == len(exported)
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ names missing {item}"
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", None) == name
    }
    assert public <= set(exported), f"{name} defines but does not export {public - set(exported)}"


def test_peripheral_errors_are_one_branch() -> None:
    from host import errors

    for name in (
        "BoardAbsentError",
        "BoardSilentError",
        "IncompatibleBoardError",
        "BoardTamperedError",
        "BoardNotCommissionedError",
        "PinBlockError",
        "EntryCancelledError",
        "EntryTimeoutError",
        "PaperOutError",
        "CoverOpenError",
    ):
        cls = getattr(errors, name)
        assert issubclass(cls, errors.PeripheralError)
        assert name in errors.__all__
        assert name in (errors.__doc__ or "")
    assert issubclass(errors.BoardSilentError, TimeoutError)
    assert issubclass(errors.EntryTimeoutError, TimeoutError)
