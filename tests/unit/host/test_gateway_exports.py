# SPDX-License-Identifier: Apache-2.0
"""The kiosk gateway's modules (and the demo's UI world): curated ``__all__``, docs, size."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

MODULES = [
    "host.gateway",
    "host.gateway.bridge",
    "host.gateway.cli",
    "host.gateway.guard",
    "host.gateway.http",
    "host.gateway.server",
    "myna_edge.demo.readers",
    "myna_edge.demo.ui",
]


@pytest.mark.parametrize("name", MODULES)
def test_module_is_curated(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__ is not None
    assert len(module.__doc__) > 80
    exported = module.__all__
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n))
    for symbol in exported:
        assert hasattr(module, symbol), symbol
        value = getattr(module, symbol)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__doc__, f"{name}.{symbol} has no docstring"
    source = Path(inspect.getfile(module)).read_text(encoding="utf-8")
    assert source.startswith("# SPDX-License-Identifier: Apache-2.0\n")
    assert source.count("\n") < 400


@pytest.mark.parametrize("name", ["app.js", "seal.js", "i18n.js", "app.css", "index.html"])
def test_static_files_carry_the_licence(name: str) -> None:
    from host.gateway import STATIC_DIR

    text = (STATIC_DIR / name).read_text(encoding="utf-8")
    assert (
        "SPDX-License-Identifier: Apache-2.0" in text.splitlines()[0 if name != "index.html" else 1]
    )
    assert "localStorage" not in text  # nothing of a session is kept in the browser
    assert "sessionStorage" not in text
    assert "console.log" not in text  # never a typed secret in a console
