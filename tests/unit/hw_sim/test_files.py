# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.files``: atomic writes, permission bits, no leftovers."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hw_sim.files import atomic_write


def test_replaces_the_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old content, longer than the new")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


@pytest.mark.parametrize(("kwargs", "mode"), [({}, 0o600), ({"mode": 0o644}, 0o644)])
def test_mode(tmp_path: Path, kwargs: dict[str, int], mode: int) -> None:
    target = tmp_path / "file.pem"
    atomic_write(target, b"x", **kwargs)
    assert stat.S_IMODE(target.stat().st_mode) == mode


def test_parents(tmp_path: Path) -> None:
    target = tmp_path / "cards" / "default" / "auth-cert.der"
    with pytest.raises(FileNotFoundError):
        atomic_write(target, b"x")
    atomic_write(target, b"x", parents=True)
    assert target.read_bytes() == b"x"


def test_failure_leaves_the_target_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "inside").write_bytes(b"kept")
    with pytest.raises(IsADirectoryError):  # the rename cannot replace a folder
        atomic_write(target, b"new")
    assert (target / "inside").read_bytes() == b"kept"
    assert [p.name for p in tmp_path.iterdir()] == ["busy"]
