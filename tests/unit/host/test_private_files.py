# SPDX-License-Identifier: Apache-2.0
"""``host.private_files``: safe folders, atomic owner-only writes, long-lived files.

The attacks (planted temp files and links, folders of others, umask 000) are
in ``tests/security/test_security_host_files.py``; these are the rules' edges.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import myna_files.private
from host.errors import UnsafePathError
from host.private_files import check_private_folder, open_private, private_folder, write_private


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_write_replaces_whole_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "key.pem"
    target.write_bytes(b"old and longer")
    write_private(target, b"new", mode=0o640)
    assert target.read_bytes() == b"new"
    assert _mode(target) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["key.pem"]


def test_missing_folder_is_an_error_unless_asked(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_private(tmp_path / "none" / "k", b"x")


def test_sticky_world_writable_folder_above_is_accepted(tmp_path: Path) -> None:
    above = tmp_path / "tmp-like"
    above.mkdir()
    os.chmod(above, 0o1777)
    mine = private_folder(above / "mine")
    write_private(mine / "k", b"x")
    assert _mode(mine) == 0o700


def test_group_writable_by_the_owners_own_group_only_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "upg"
    folder.mkdir()
    os.chmod(folder, 0o770)
    monkeypatch.setattr(myna_files.private, "_group_has_others", lambda gid, owner: False)
    check_private_folder(folder)
    monkeypatch.setattr(myna_files.private, "_group_has_others", lambda gid, owner: True)
    with pytest.raises(UnsafePathError, match="writable by other users"):
        check_private_folder(folder)


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(UnsafePathError, match="not a folder"):
        check_private_folder(tmp_path / "f")


def test_open_private_creates_narrows_and_refuses_links(tmp_path: Path) -> None:
    path = tmp_path / "state" / "journal"
    os.close(open_private(path))
    assert _mode(path) == 0o600
    os.chmod(path, 0o666)
    os.close(open_private(path))
    assert _mode(path) == 0o600
    (tmp_path / "state" / "link").symlink_to(path)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        open_private(tmp_path / "state" / "link")


def test_open_private_refuses_a_folder_in_its_place(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError):
        open_private(tmp_path / "d")
