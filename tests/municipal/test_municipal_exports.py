# SPDX-License-Identifier: Apache-2.0
"""Curated ``__all__``, docstrings and licence lines of the municipal modules (STYLE §9)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import municipal

_LICENCE = "# SPDX-License-Identifier: Apache-2.0"
MODULES = sorted(
    info.name for info in pkgutil.walk_packages(municipal.__path__, prefix="municipal.")
)


def test_the_package_list_is_not_empty() -> None:
    assert "municipal.document.verify" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_module_has_licence_docstring_and_curated_exports(name: str) -> None:
    module = importlib.import_module(name)
    source = inspect.getsource(module)
    assert source.startswith(_LICENCE)
    assert module.__doc__
    assert len(module.__doc__) > 40
    exported = getattr(module, "__all__", None)
    if exported is None:
        assert not _public_defs(module)
        return
    assert len(set(exported)) == len(exported)
    assert all(hasattr(module, item) for item in exported)
    assert _public_defs(module) <= set(exported)


def _public_defs(module: object) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and getattr(value, "__module__", None) == getattr(module, "__name__", None)
    }
