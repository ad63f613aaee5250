# SPDX-License-Identifier: Apache-2.0
"""Attack: another local user plants a file or a link where the verifier writes a key.

Issue 22, item 2 (the verifier's part). The TLS keys used to be written
through the fixed name ``NAME.tmp`` opened ``O_CREAT|O_TRUNC``: a file
planted there kept its owner and mode (the key ended world-readable and
owned by the attacker), and a planted symbolic link made the verifier
overwrite the file it pointed to. Now keys go through a random
``O_EXCL|O_NOFOLLOW`` name with an explicit mode, whatever the umask, and a
folder another user can write is refused.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.prerequisites import missing_prerequisite
from verifier.config import TlsConfig
from verifier.secret_files import UnsafeFolderError, write_secret
from verifier.storage import open_storage
from verifier.tls import ensure_tls_material, issue_terminal_certificate, write_issued

NOBODY = 65534


@pytest.fixture
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _private_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "tls"
    folder.mkdir(mode=0o700)
    return folder


def test_a_planted_temporary_file_is_never_used(tmp_path: Path, umask_000: None) -> None:
    folder = _private_folder(tmp_path)
    planted = folder / "terminal-ca.key.tmp"  # the name the old code wrote through
    planted.write_bytes(b"attacker")
    planted.chmod(0o666)
    if os.geteuid() == 0:
        os.chown(planted, NOBODY, NOBODY)  # another user's file
    ensure_tls_material(TlsConfig(directory=folder))
    key = folder / "terminal-ca.key"
    assert key.stat().st_uid == os.geteuid()
    assert _mode(key) == 0o600
    assert _mode(folder / "server.key") == 0o600
    assert _mode(folder / "terminal-ca.pem") == 0o644
    assert planted.read_bytes() == b"attacker"  # neither opened nor truncated


def test_a_planted_symbolic_link_is_never_followed(tmp_path: Path, umask_000: None) -> None:
    folder = _private_folder(tmp_path)
    victim = tmp_path / "victim.conf"
    victim.write_bytes(b"unrelated")
    (folder / "server.key.tmp").symlink_to(victim)
    (folder / "terminal-ca.key.tmp").symlink_to(victim)
    ensure_tls_material(TlsConfig(directory=folder))
    assert victim.read_bytes() == b"unrelated"
    assert _mode(folder / "server.key") == 0o600


def test_a_link_at_the_target_is_replaced_not_followed(tmp_path: Path) -> None:
    folder = _private_folder(tmp_path)
    victim = tmp_path / "victim.conf"
    victim.write_bytes(b"unrelated")
    (folder / "atm-01.key").symlink_to(victim)
    issued = issue_terminal_certificate(TlsConfig(directory=folder / "ca"), "atm-01")
    paths = write_issued(issued, folder, "atm-01")
    assert victim.read_bytes() == b"unrelated"
    assert not paths[1].is_symlink()
    assert _mode(paths[1]) == 0o600


def test_new_folders_are_owner_only_whatever_the_umask(tmp_path: Path, umask_000: None) -> None:
    issued = issue_terminal_certificate(TlsConfig(directory=tmp_path / "ca"), "atm-02")
    paths = write_issued(issued, tmp_path / "new" / "out", "atm-02")
    assert _mode(tmp_path / "ca") == 0o700
    assert _mode(paths[1].parent) == 0o700
    assert _mode(paths[1]) == 0o600


def test_a_folder_others_can_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "x"
    shared.mkdir()
    shared.chmod(0o777)  # like a folder another user made in /tmp, without sticky bit
    with pytest.raises(UnsafeFolderError, match="writable by other users"):
        write_secret(shared / "server.key", b"key")
    with pytest.raises(UnsafeFolderError):
        ensure_tls_material(TlsConfig(directory=shared))
    assert list(shared.iterdir()) == []


def test_a_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:  # CI runs as root (its Debian set-up needs it)
        missing_prerequisite("root, to make a folder another user owns")
    theirs = tmp_path / "atm-01"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, NOBODY, NOBODY)
    issued = issue_terminal_certificate(TlsConfig(directory=tmp_path / "ca"), "atm-01")
    with pytest.raises(UnsafeFolderError, match="another user"):
        write_issued(issued, theirs, "atm-01")
    assert list(theirs.iterdir()) == []


def test_the_database_is_owner_only_whatever_the_umask(tmp_path: Path, umask_000: None) -> None:
    # It holds the verified identities (names, addresses) of transfers.
    storage = open_storage(f"sqlite:///{tmp_path / 'state' / 'verifier.sqlite'}")
    try:
        with storage.transaction() as tx:
            tx.count("sessions")
        files = sorted((tmp_path / "state").iterdir())
        assert files  # the database and its WAL files
        assert {_mode(p) for p in files} == {0o600}
        assert _mode(tmp_path / "state") == 0o700
    finally:
        storage.close()


def test_a_folder_under_a_writable_non_sticky_folder_is_refused(tmp_path: Path) -> None:
    # Whoever can write the folder above can rename ours away and put theirs.
    above = tmp_path / "open"
    above.mkdir()
    above.chmod(0o777)
    mine = above / "tls"
    mine.mkdir(mode=0o700)
    with pytest.raises(UnsafeFolderError, match="above"):
        write_secret(mine / "server.key", b"key")
    assert list(mine.iterdir()) == []
