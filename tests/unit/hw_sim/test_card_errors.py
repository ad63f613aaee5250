# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.errors``: the tree drawn in its docstring is the real one."""

from __future__ import annotations

import hw_sim.errors as errors
from hw_sim.errors import (
    CardClosedError,
    CardError,
    CardNotPoweredError,
    CardStateError,
    SimError,
    UnknownProfileError,
)


def test_tree() -> None:
    assert issubclass(SimError, Exception)
    assert issubclass(CardError, SimError)
    assert issubclass(CardNotPoweredError, CardError)
    assert issubclass(CardClosedError, CardError)
    assert issubclass(CardStateError, SimError)
    assert issubclass(CardStateError, ValueError)
    assert issubclass(UnknownProfileError, SimError)
    assert issubclass(UnknownProfileError, LookupError)
    assert not issubclass(UnknownProfileError, KeyError)


def test_docstring_names_every_class() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        assert name in doc


def test_fields() -> None:
    error = CardStateError("damaged", path="/x/state.json")
    assert error.path == "/x/state.json"
    assert str(error) == "damaged"
    missing = UnknownProfileError("nobody")
    assert missing.name == "nobody"
    assert "nobody" in str(missing)
