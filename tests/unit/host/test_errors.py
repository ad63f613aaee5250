# SPDX-License-Identifier: Apache-2.0
"""``host.errors``: the tree drawn in its docstring is the tree the classes form.

Why a test: the drawing is what a caller reads to pick the branch to catch
(STYLE §3), and it drifted once (issue 13.8: ``TouchEntryError`` was
missing). Every error class is drawn exactly once, under its real parent,
with the builtins it also inherits.
"""

from __future__ import annotations

import inspect
import re

from host import errors

_LINE = re.compile(r"^(?P<indent>(?:[│ ]   )*)[├└]── (?P<name>\w+)(?: \((?P<builtins>[\w, ]+)\))?")


def _drawn() -> dict[str, tuple[str, set[str]]]:
    """name -> (parent drawn above it, builtins drawn beside it)."""
    doc = errors.__doc__ or ""
    body = doc[doc.index("    MynaEdgeError\n") :].splitlines()
    parents = ["MynaEdgeError"]
    drawn: dict[str, tuple[str, set[str]]] = {}
    for line in body[1:]:
        match = _LINE.match(line.removeprefix("    "))
        if match is None:
            break  # the end of the drawing
        depth = len(match["indent"]) // 4 + 1
        del parents[depth:]
        assert match["name"] not in drawn, f"{match['name']} is drawn twice"
        builtins = {b.strip() for b in (match["builtins"] or "").split(",") if b.strip()}
        drawn[match["name"]] = (parents[depth - 1], builtins)
        parents.append(match["name"])
    return drawn


def _classes() -> dict[str, type[errors.MynaEdgeError]]:
    return {
        name: cls
        for name, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.MynaEdgeError) and cls is not errors.MynaEdgeError
    }


def test_every_error_class_is_drawn_in_the_docstring() -> None:
    drawn = _drawn()
    assert len(drawn) > 50  # the parser read the whole drawing
    assert set(drawn) == set(_classes())


def test_each_class_is_drawn_under_its_parent_with_its_builtins() -> None:
    drawn = _drawn()
    for name, cls in _classes().items():
        parent, builtins = drawn[name]
        ours = [b for b in cls.__bases__ if issubclass(b, errors.MynaEdgeError)]
        assert [b.__name__ for b in ours] == [parent], name
        others = {b.__name__ for b in cls.__bases__ if not issubclass(b, errors.MynaEdgeError)}
        assert others == builtins, name


def test_every_error_class_is_exported() -> None:
    assert set(_classes()) | {"MynaEdgeError"} == set(errors.__all__)
