# SPDX-License-Identifier: Apache-2.0
"""Attacks on the terminal side's secret files (issue 22, finding 2).

Another local user plants ``NAME.tmp`` (readable by all, or theirs) or a
symbolic link where a key is about to be written, or offers a folder they
can write. Every writer of secrets outside the verifier (``host.private_files``,
``hw_sim.files``, the test PKI's store, the PIN-block counters and the
myna_edge stacks that go through ``write_private``) must leave the final key
0600 and the current user's, never touch the link's target, and refuse the
folder, whatever the umask.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from host.errors import UnsafePathError
from host.peripherals import CounterStore
from host.private_files import private_folder, write_private
from hw_sim import files
from hw_sim.pki import store

KEY = b"-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n"
ROOT = os.geteuid() == 0
#: Someone else (``nobody``); only root can hand a file to them.
OTHER_UID = 65534


def _counter_write(path: Path, data: bytes) -> None:
    CounterStore(path).save("BOARD-1", 7)


Writer = Callable[[Path, bytes], None]
WRITERS: dict[str, Writer] = {
    "write_private": lambda path, data: write_private(path, data),
    "hw_sim.files": lambda path, data: files.atomic_write(path, data),
    "pki.store": lambda path, data: store.atomic_write(path, data, private=True),
    "counters": _counter_write,
}


@pytest.fixture
def umask_000() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.parametrize("writer", WRITERS)
def test_planted_tmp_file_is_never_used(tmp_path: Path, writer: str, umask_000: None) -> None:
    folder = private_folder(tmp_path / "keys")
    target = folder / "board.key"
    for planted in (folder / "board.key.tmp", folder / ".board.key.tmp"):
        planted.write_bytes(b"planted")
        os.chmod(planted, 0o666)
        if ROOT:
            os.chown(planted, OTHER_UID, OTHER_UID)
    WRITERS[writer](target, KEY)
    assert _mode(target) == 0o600
    assert os.lstat(target).st_uid == os.geteuid()
    for planted in (folder / "board.key.tmp", folder / ".board.key.tmp"):
        assert planted.read_bytes() == b"planted"


@pytest.mark.parametrize("writer", WRITERS)
def test_planted_symlink_is_replaced_not_followed(
    tmp_path: Path, writer: str, umask_000: None
) -> None:
    folder = private_folder(tmp_path / "keys")
    victim = tmp_path / "victim.conf"
    victim.write_bytes(b"unrelated")
    os.chmod(victim, 0o644)
    target = folder / "board.key"
    target.symlink_to(victim)
    if writer == "counters":  # it reads the file first, and refuses a link
        with pytest.raises(UnsafePathError, match="symbolic link"):
            WRITERS[writer](target, KEY)
    else:
        WRITERS[writer](target, KEY)
        assert not target.is_symlink()
        assert _mode(target) == 0o600
    assert victim.read_bytes() == b"unrelated"
    assert _mode(victim) == 0o644


#: World-writable (sticky or not); as root also group-writable by a group
#: with another member (only root can hand a folder to such a group).
SHARED_MODES = [0o777, 0o1777, *([0o770] if ROOT else [])]


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("mode", SHARED_MODES)
def test_folder_others_can_write_is_refused(
    tmp_path: Path, writer: str, mode: int, umask_000: None
) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, mode)
    if mode == 0o770:
        os.chown(folder, -1, OTHER_UID)
    with pytest.raises(UnsafePathError):
        WRITERS[writer](folder / "board.key", KEY)
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("writer", WRITERS)
def test_folder_of_another_user_is_refused(
    tmp_path: Path, writer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "theirs"
    folder.mkdir(mode=0o755)
    if ROOT:
        os.chown(folder, OTHER_UID, OTHER_UID)
    else:  # only root can give a folder away: be someone else instead
        me = os.geteuid()
        monkeypatch.setattr(os, "geteuid", lambda: me + 1)
    with pytest.raises(UnsafePathError, match="another user"):
        WRITERS[writer](folder / "board.key", KEY)


def test_created_folders_are_owner_only_whatever_the_umask(tmp_path: Path, umask_000: None) -> None:
    target = tmp_path / "a" / "b" / "board.key"
    files.atomic_write(target, KEY, parents=True)
    assert _mode(tmp_path / "a") == 0o700
    assert _mode(tmp_path / "a" / "b") == 0o700
    assert _mode(target) == 0o600


def test_folder_under_a_writable_non_sticky_folder_is_refused(tmp_path: Path) -> None:
    # Whoever can write the folder above can rename ours away and put theirs.
    above = tmp_path / "open"
    above.mkdir()
    os.chmod(above, 0o777)
    mine = above / "mine"
    mine.mkdir(mode=0o700)
    with pytest.raises(UnsafePathError, match="above"):
        write_private(mine / "board.key", KEY)
