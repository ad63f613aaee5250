# SPDX-License-Identifier: Apache-2.0
"""The reader modules' ``__all__``, docstrings and licence lines (STYLE §9)."""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = [
    "hw_sim.readers",
    "hw_sim.readers.vpcd",
    "hw_sim.readers.pcscd",
    "hw_sim.readers.pn532_frames",
    "hw_sim.readers.pn532",
    "hw_sim.readers.pn532_pty",
    "hw_sim.readers.stack",
    "hw_sim.readers.bench",
    "hw_sim.readers.cli",
    "host.transport.pcsc",
    "host.transport.pcsc.library",
    "host.transport.pcsc.url",
    "host.transport.pcsc.events",
    "host.transport.pcsc.transport",
    "host.transport.libnfc",
    "host.transport.nfc_binding",
    "host.readers",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_in_sync_and_documented(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(set(exported)) == len(exported)
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ names missing {item}"
    defined = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == name
    }
    assert defined <= set(exported), f"{name} does not export {defined - set(exported)}"
    assert module.__doc__
    assert "Why" in module.__doc__ or len(module.__doc__) > 200, name
    assert module.__file__ is not None
    with open(module.__file__, encoding="utf-8") as source:
        lines = source.readlines()
    assert lines[0].strip() == "# SPDX-License-Identifier: Apache-2.0", name
    assert len(lines) < 420, f"{name} has {len(lines)} lines"
