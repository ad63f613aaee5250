# SPDX-License-Identifier: Apache-2.0
"""Every module's curated ``__all__`` matches what it defines (STYLE §9)."""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = [
    "host.apdu",
    "host.channel",
    "host.tlv",
    "host.transport.sim",
    "host.card",
    "host.card.basic_four",
    "host.card.card_info",
    "host.card.certificates",
    "host.card.commands",
    "host.card.constants",
    "host.card.files",
    "host.card.integrity",
    "host.card.jpki",
    "host.card.kinds",
    "host.card.pin_policy",
    "host.card.pins",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_in_sync(name: str) -> None:
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


def test_modules_have_docstrings_and_licence() -> None:
    for name in MODULES:
        module = importlib.import_module(name)
        assert module.__doc__, name
        assert len(module.__doc__) > 40, name
        assert module.__file__ is not None
        with open(module.__file__, encoding="utf-8") as source:
            assert source.readline().strip() == "# SPDX-License-Identifier: Apache-2.0", name
