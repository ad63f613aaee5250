# SPDX-License-Identifier: Apache-2.0
"""Module hygiene for ``hw_sim.card``, ``hw_sim.errors`` and ``hw_sim.cli`` (STYLE §4, §9).

Each module: SPDX line first, a docstring, a curated ``__all__`` that names
exactly its public definitions, and a size under about 400 lines.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

import hw_sim.card


def modules() -> list[ModuleType]:
    names = [f"hw_sim.card.{info.name}" for info in pkgutil.iter_modules(hw_sim.card.__path__)]
    return [
        importlib.import_module(n) for n in ["hw_sim.card", *names, "hw_sim.errors", "hw_sim.cli"]
    ]


@pytest.mark.parametrize("module", modules(), ids=lambda m: m.__name__)
def test_module_hygiene(module: ModuleType) -> None:
    source = Path(inspect.getfile(module)).read_text(encoding="utf-8")
    assert source.startswith("# SPDX-License-Identifier: Apache-2.0\n")
    assert module.__doc__
    assert len(module.__doc__) > 40
    assert len(source.splitlines()) < 420
    exported = module.__all__
    assert sorted(exported) == sorted(set(exported))
    for name in exported:
        assert hasattr(module, name), f"{module.__name__}.__all__ names a missing {name}"
    if module.__name__ == "hw_sim.card":
        return
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == module.__name__
    }
    assert public <= set(exported), f"not exported from {module.__name__}: {public - set(exported)}"


def test_package_api() -> None:
    assert set(hw_sim.card.__all__) >= {
        "VirtualCard",
        "open_card",
        "reset_card",
        "CardProfile",
        "profiles",
        "get_profile",
        "ApduLog",
        "open_cards",
    }
