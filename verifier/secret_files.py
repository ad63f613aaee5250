# SPDX-License-Identifier: Apache-2.0
"""Writing keys and other secrets so that another local user cannot read or redirect them.

Why (issue 22, item 2): the TLS keys used to be written through a fixed
temporary name opened ``O_CREAT|O_TRUNC``. A file planted under that name by
another user kept its owner and mode (the key ended world-readable), and a
planted symbolic link made the writer overwrite whatever it pointed to. The
rules here hold whatever the umask:

* the folder must not let another user plant or swap files: it belongs to
  us (or root) and is writable by nobody else (world-writable, or
  group-writable for a group with another member), unless it is sticky
  like ``/tmp`` *and* ours, and no folder above it is writable by another
  user unless sticky (else the folder could be renamed away and replaced);
  otherwise :class:`UnsafeFolderError`. Folders created here are 0700;
* the file is written under a fresh random name (``tempfile.mkstemp``:
  ``O_CREAT|O_EXCL|O_NOFOLLOW``, 0600), fsynced, given its final mode with
  ``fchmod`` and renamed over the target: a planted ``NAME.tmp`` is never
  opened, and a symbolic link at the target is replaced, not followed.

The verifier keeps its own copy of this small function: it may not import
``host`` or ``hw_sim`` (DESIGN: dependencies point one way).
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import stat
import tempfile
from pathlib import Path

from verifier.errors import ConfigError

__all__ = ["UnsafeFolderError", "check_folder", "write_secret"]


class UnsafeFolderError(ConfigError):
    """A folder another user can write: a secret is never written there."""


def _group_has_others(gid: int, owner: int) -> bool:
    try:
        group = grp.getgrgid(gid)
    except KeyError:
        return True  # an unnamed group: assume the worst
    try:
        owner_name: str | None = pwd.getpwuid(owner).pw_name
    except KeyError:
        owner_name = None
    if any(member != owner_name for member in group.gr_mem):
        return True
    return any(user.pw_gid == gid and user.pw_uid != owner for user in pwd.getpwall())


def _others_can_write(st: os.stat_result) -> bool:
    if st.st_mode & stat.S_IWOTH:
        return True
    return bool(st.st_mode & stat.S_IWGRP) and _group_has_others(st.st_gid, st.st_uid)


def check_folder(folder: Path) -> None:
    """Refuse ``folder`` when another user could plant, replace or read-swap files in it.

    Raises:
        UnsafeFolderError: it belongs to another user, or another user can
            write it (see the module doc), or it is not a folder.
        FileNotFoundError: it does not exist.
    """
    folder = Path(os.path.abspath(folder))
    st = os.stat(folder)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeFolderError(f"{folder} is not a folder")
    if st.st_uid not in (os.geteuid(), 0):
        raise UnsafeFolderError(f"{folder} belongs to another user: not writing a secret there")
    others = _others_can_write(st)
    if others and not (st.st_mode & stat.S_ISVTX and st.st_uid == os.geteuid()):
        raise UnsafeFolderError(
            f"{folder} is writable by other users: not writing a secret there "
            "(chmod go-w it, or choose another folder)"
        )
    for above in folder.parents:
        # Whoever can write a folder above can rename ours away and put theirs.
        st = os.stat(above)
        if _others_can_write(st) and not st.st_mode & stat.S_ISVTX:
            raise UnsafeFolderError(f"{above} (above {folder}) is writable by other users")


def _make_folder(folder: Path) -> None:
    folder = Path(os.path.abspath(folder))
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it first
            os.mkdir(path, 0o700)
            os.chmod(path, 0o700)  # mkdir's mode went through the umask


def write_secret(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically with ``mode``, creating the folder (0700).

    Args:
        path: the target; a symbolic link there is replaced, never followed.
        data: the whole new content.
        mode: the permission bits (owner-only unless told: certificates are 0644).

    Raises:
        UnsafeFolderError: the folder is not safe (see :func:`check_folder`).
        OSError: the folder cannot be written; the target is then unchanged.
    """
    path = Path(path)
    _make_folder(path.parent)
    check_folder(path.parent)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
