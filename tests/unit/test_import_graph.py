# SPDX-License-Identifier: Apache-2.0
"""The project's import graph: no cycles, and hw_sim only behind the ``sim://`` backend.

Why a stdlib ``ast`` walk and not import-linter: import-linter has no
"no cycle between any two modules" contract (its ``acyclic_siblings`` works
sibling by sibling inside one package), while this checker is a page of
``ast`` with no new dependency; ruff's TID251 cannot see indirect imports.
The packages read are the project's own (firmware's included: MicroPython
code parses as Python); the checker is proved on planted trees below.

What counts:

* **Cycles**: every import that can run, at module level or inside a
  function. A lazy import that closes a loop (``bench`` importing
  ``bench_report`` inside a function while ``bench_report`` imports
  ``bench``) hides the cycle from the interpreter, not from the design: the
  two modules still cannot be moved or understood apart. Imports in
  ``if TYPE_CHECKING:`` blocks do not count: they never run, and naming a
  type from a module that depends on you is how annotations work. Importing
  ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``, which counts,
  except for the importer's own parent packages (``a.b.x`` -> ``a.b`` is how
  packages work; an explicit ``from a.b import X`` does count). Registries that load
  ``"module:function"`` strings with ``importlib`` are plug-in points, not
  imports, and are not seen.
* **hw_sim**: every import counts, ``TYPE_CHECKING`` ones too (a dependency
  is a dependency): no module of ``_SIM_CLIENTS`` (host, verifier, ...) may
  reach ``hw_sim``, directly or through other project modules, except through
  ``host.transport.sim`` (the one module ruff's TID251 rule exempts under
  host/; the rule stays, as the editor-time check of direct imports).

Run it with ``.venv/bin/python -m pytest tests/unit/test_import_graph.py``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]

#: Source folder -> its top-level packages (firmware's packages live one folder down).
_SOURCES: dict[Path, tuple[str, ...]] = {
    _ROOT: (
        "host",
        "hw_sim",
        "verifier",
        "municipal",
        "myna_edge",
        "myna",
        "myna_metrics",
        "myna_files",
    ),
    _ROOT / "firmware": ("myna_fw", "myna_boot"),
}
_SIM_PACKAGE = "hw_sim"
_SIM_CLIENTS = ("host", "verifier", "municipal", "myna_metrics", "myna_files")
#: The one module of those packages that may import hw_sim (the sim:// backend).
_SIM_BACKENDS = frozenset({"host.transport.sim"})

Graph = dict[str, set[str]]


def find_modules(sources: Mapping[Path, tuple[str, ...]]) -> dict[str, Path]:
    """Map each module's dotted name to its file, for the given packages."""
    modules: dict[str, Path] = {}
    for base, packages in sources.items():
        for package in packages:
            for path in sorted((base / package).rglob("*.py")):
                parts = path.relative_to(base).with_suffix("").parts
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST, *, typing_only: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Yield every import under ``node``, including ``if TYPE_CHECKING:`` ones when asked."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    elif isinstance(node, ast.If) and _is_type_checking(node.test) and not typing_only:
        for child in node.orelse:
            yield from _imports(child, typing_only=typing_only)
    else:
        for child in ast.iter_child_nodes(node):
            yield from _imports(child, typing_only=typing_only)


def _resolve(name: str, modules: Mapping[str, Path]) -> str | None:
    """The longest project module that ``name`` names or lies inside, if any."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _executed(target: str, *, importer: str, modules: Mapping[str, Path]) -> list[str]:
    """``target`` and those of its parent packages whose ``__init__`` the import runs.

    Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` first, unless the
    importer lives inside them (then they are already being imported).
    """
    parts = target.split(".")
    parents = [".".join(parts[:end]) for end in range(1, len(parts))]
    run = [p for p in parents if p in modules and not f"{importer}.".startswith(f"{p}.")]
    return [*run, target]


def build_graph(modules: Mapping[str, Path], *, typing_only: bool) -> Graph:
    """Module -> the project modules it imports (with ``TYPE_CHECKING`` ones if ``typing_only``)."""
    graph: Graph = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets: set[str] = set()
        for node in _imports(tree, typing_only=typing_only):
            if isinstance(node, ast.Import):
                named = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # ``from a import b`` names the module a.b when there is one, else a.
                named = [f"{base}.{alias.name}" for alias in node.names]
            for target in named:
                resolved = _resolve(target, modules)
                if resolved is not None:
                    targets.update(_executed(resolved, importer=name, modules=modules))
        graph[name] = targets - {name}
    return graph


def find_cycles(graph: Graph) -> list[list[str]]:
    """Each strongly connected group of two or more modules, as one cycle through it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(start: str) -> None:
        # Iterative Tarjan: import chains can run deeper than the recursion limit allows.
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group: set[str] = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(group)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(group, graph) for group in groups]


def _cycle_in(group: set[str], graph: Graph) -> list[str]:
    """A shortest cycle through the group's first module, for the failure message."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for child in sorted(graph[node] & group):
                if child == start:
                    return [*paths[node], start]
                if child not in paths:
                    paths[child] = [*paths[node], child]
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # a strongly connected group has one


def sim_reach(graph: Graph) -> list[list[str]]:
    """Import paths from host/verifier/municipal modules to hw_sim not via the sim backend."""
    found = (_path_to_sim(start, graph) for start in sorted(graph) if _is_sim_client(start))
    return [path for path in found if path is not None]


def _is_sim_client(module: str) -> bool:
    return module.split(".")[0] in _SIM_CLIENTS and module not in _SIM_BACKENDS


def _path_to_sim(start: str, graph: Graph) -> list[str] | None:
    """A shortest import path from ``start`` into hw_sim that avoids the sim backend."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for child in sorted(graph[node] - paths.keys() - _SIM_BACKENDS):
                paths[child] = [*paths[node], child]
                if child.split(".")[0] == _SIM_PACKAGE:
                    return paths[child]
                following.append(child)
        frontier = following
    return None


def _format(paths: list[list[str]]) -> str:
    return "\n".join(" -> ".join(path) for path in paths)


# --- the project -------------------------------------------------------------------------


def test_no_import_cycle_between_project_modules() -> None:
    modules = find_modules(_SOURCES)
    assert len(modules) > 300  # the walk found the tree, not an empty folder
    cycles = find_cycles(build_graph(modules, typing_only=False))
    assert not cycles, f"import cycles (TYPE_CHECKING blocks aside):\n{_format(cycles)}"


def test_host_and_verifier_reach_hw_sim_only_through_the_sim_backend() -> None:
    modules = find_modules(_SOURCES)
    graph = build_graph(modules, typing_only=True)
    # The backend itself does import the simulator: the check below is not vacuous.
    assert any(target.startswith(f"{_SIM_PACKAGE}.") for target in graph["host.transport.sim"])
    paths = sim_reach(graph)
    assert not paths, f"hw_sim reached outside host/transport/sim.py:\n{_format(paths)}"


#: Code both the agent and the servers use: it may import only itself (and the protos).
_NEUTRAL = ("myna_metrics", "myna_files")


def test_neutral_packages_import_no_component() -> None:
    modules = find_modules(_SOURCES)
    graph = build_graph(modules, typing_only=True)
    neutral = [name for name in graph if name.split(".")[0] in _NEUTRAL]
    assert {name.split(".")[0] for name in neutral} == set(_NEUTRAL)
    allowed = (*_NEUTRAL, "myna")
    wrong = {
        name: sorted(t for t in graph[name] if t.split(".")[0] not in allowed) for name in neutral
    }
    assert not {name: targets for name, targets in wrong.items() if targets}


# --- the checker on planted trees ----------------------------------------------------------


def _plant(tmp_path: Path, files: dict[str, str]) -> Graph:
    for relative, text in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    packages = tuple(sorted({relative.split("/")[0] for relative in files}))
    return build_graph(find_modules({tmp_path: packages}), typing_only=False)


def test_a_planted_cycle_is_found_and_named(tmp_path: Path) -> None:
    graph = _plant(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import thing\n",
            "pkg/b.py": "from . import c\n",
            "pkg/c.py": "try:\n    import pkg.a as a\nexcept ImportError:\n    a = None\n",
            "pkg/d.py": "import pkg.a\n",  # depends on the cycle, not part of it
        },
    )
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]


def test_a_cycle_closed_by_a_lazy_import_is_found(tmp_path: Path) -> None:
    graph = _plant(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/bench.py": "def report():\n    from pkg.report import write\n    write()\n",
            "pkg/report.py": "from pkg.bench import SUITES\n",
        },
    )
    assert find_cycles(graph) == [["pkg.bench", "pkg.report", "pkg.bench"]]


def test_a_cycle_through_a_package_init_is_found(tmp_path: Path) -> None:
    graph = _plant(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.sub.x import X\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/x.py": "from .. import helper\nX = 1\n",
            "pkg/helper.py": "from pkg import X\n",
        },
    )
    assert find_cycles(graph) == [["pkg", "pkg.sub.x", "pkg.helper", "pkg"]]


def test_a_cycle_through_the_init_of_an_imported_package_is_found(tmp_path: Path) -> None:
    # importing pkg.card.constants runs pkg/card/__init__ first, which leads back
    graph = _plant(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/redaction.py": "from pkg.card.constants import AID\n",
            "pkg/card/__init__.py": "from pkg.card.driver import Card\n",
            "pkg/card/constants.py": "AID = b''\n",
            "pkg/card/driver.py": "import pkg.redaction\n",
        },
    )
    assert find_cycles(graph) == [["pkg.card", "pkg.card.driver", "pkg.redaction", "pkg.card"]]


def test_type_checking_and_parent_package_imports_are_no_cycle(tmp_path: Path) -> None:
    graph = _plant(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import A\n",  # parent -> child; child -> parent implicit
            "pkg/a.py": (
                "import typing\n"
                "if typing.TYPE_CHECKING:\n    from pkg.b import B\n"
                "else:\n    import pkg.c\n"
                "A = 1\n"
            ),
            "pkg/b.py": "from pkg.a import A\nB = A\n",
            "pkg/c.py": "",
        },
    )
    assert find_cycles(graph) == []
    assert graph["pkg.a"] == {"pkg.c"}
    assert graph["pkg.b"] == {"pkg.a"}


def test_a_planted_hw_sim_import_is_found_even_lazy_or_indirect(tmp_path: Path) -> None:
    files = {
        "hw_sim/__init__.py": "",
        "hw_sim/card.py": "",
        "host/__init__.py": "",
        "host/transport/__init__.py": "",
        "host/transport/sim.py": "from hw_sim.card import *\n",
        "host/transport/base.py": "def open():\n    from host.transport import sim\n",
        "host/flows.py": "def run():\n    import hw_sim.card\n",
        "verifier/__init__.py": "",
        "verifier/app.py": "from myna_edge.tool import x\n",
        "myna_edge/__init__.py": "",
        "myna_edge/tool.py": "from hw_sim import card\n",
    }
    for relative, text in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    packages = ("hw_sim", "host", "verifier", "myna_edge")
    graph = build_graph(find_modules({tmp_path: packages}), typing_only=True)
    assert sim_reach(graph) == [
        ["host.flows", "hw_sim"],  # importing hw_sim.card runs hw_sim/__init__ first
        ["verifier.app", "myna_edge.tool", "hw_sim"],
    ]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from .. import sibling\n", {"pkg.sibling"}),
        ("from ..sibling import name\n", {"pkg.sibling"}),
        ("from . import name\n", {"pkg.sub"}),  # a name in the package's __init__
        ("import pkg.sub.leaf as leaf\n", {"pkg.sub.leaf"}),
        ("import os, json\n", set()),  # outside the project
    ],
)
def test_imports_resolve_to_project_modules(
    tmp_path: Path, source: str, expected: set[str]
) -> None:
    graph = _plant(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/sibling.py": "",
            "pkg/sub/__init__.py": "",
            "pkg/sub/leaf.py": "",
            "pkg/sub/here.py": source,
        },
    )
    assert graph["pkg.sub.here"] == expected
