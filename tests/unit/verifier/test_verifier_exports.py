# SPDX-License-Identifier: Apache-2.0
"""Every verifier module's curated ``__all__`` matches what it defines (STYLE §9).

Also the import rule: nothing in ``verifier`` imports ``hw_sim`` (ruff's TID251
checks the source; this checks what is actually loaded).
"""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

MODULES = [
    "verifier.canonical",
    "verifier.cli",
    "verifier.config",
    "verifier.core",
    "verifier.errors",
    "verifier.idempotency",
    "verifier.interceptors",
    "verifier.issuer",
    "verifier.pki",
    "verifier.resets",
    "verifier.revocation",
    "verifier.server",
    "verifier.service",
    "verifier.storage",
    "verifier.storage.base",
    "verifier.storage.migrations",
    "verifier.storage.postgres",
    "verifier.storage.sqlite",
    "verifier.tls",
    "verifier.transfers",
    "verifier.validation",
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
    assert module.__doc__
    source = Path(inspect.getfile(module)).read_text()
    assert source.startswith("# SPDX-License-Identifier: Apache-2.0")


def test_the_verifier_never_loads_the_simulator() -> None:
    code = (
        "import sys, verifier.server, verifier.cli, verifier.resets; "
        "print(sorted(m for m in sys.modules if m.startswith('hw_sim')))"
    )
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "[]"
