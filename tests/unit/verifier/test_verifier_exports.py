# SPDX-License-Identifier: Apache-2.0
"""Every verifier module's curated ``__all__`` matches what it defines (STYLE §9).

Also the import rule: nothing in ``verifier`` imports ``hw_sim`` (ruff's TID251
checks the source; this checks what is actually loaded).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

MODULES = [
    "verifier.canonical",
    "verifier.cli",
    "verifier.codes",
    "verifier.config",
    "verifier.core",
    "verifier.errors",
    "verifier.idempotency",
    "verifier.issuance",
    "verifier.issuance_codes",
    "verifier.issuance_config",
    "verifier.issuance_outbox",
    "verifier.issuance_port",
    "verifier.issuance_requests",
    "verifier.issuance_service",
    "verifier.issuance_validation",
    "verifier.issuance_wire",
    "verifier.issuer",
    "verifier.municipal_client",
    "verifier.metrics",
    "verifier.pki",
    "verifier.readings",
    "verifier.resets",
    "verifier.revocation",
    "verifier.secret_files",
    "verifier.server",
    "verifier.service",
    "verifier.sessions",
    "verifier.storage",
    "verifier.storage.base",
    "verifier.storage.issuance",
    "verifier.storage.loop_lane",
    "verifier.storage.migrations",
    "verifier.storage.postgres",
    "verifier.storage.sqlite",
    "verifier.terminal_denylist",
    "verifier.tls",
    "verifier.transfers",
    "verifier.translate",
    "verifier.validation",
    "verifier.wire",
    "verifier.workers",
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


def _imports(path: Path, known: set[str]) -> set[str]:
    """The ``verifier`` modules ``path`` imports (anywhere in it, lazily too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found.update(name for name in names if name in known)
    return found


def test_no_import_cycle_in_the_verifier() -> None:
    # Issue 13: service <-> resets imported each other; the layers now point one way.
    package = Path(importlib.import_module("verifier").__file__ or "").parent
    files = {
        ".".join(p.relative_to(package.parent).with_suffix("").parts).removesuffix(".__init__"): p
        for p in package.rglob("*.py")
    }
    graph = {name: _imports(path, set(files)) - {name} for name, path in files.items()}
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, " -> ".join((*trail[trail.index(name) :], name))
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, (*trail, name))
        done.add(name)

    for name in sorted(graph):
        visit(name, ())
    assert {"verifier.service", "verifier.resets", "verifier.sessions"} <= set(graph)
