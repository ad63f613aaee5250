# SPDX-License-Identifier: Apache-2.0
"""Files and folders only their owner can use: keys, journals, state, sockets.

Why (issue 22): the terminal PC and the verifier's host may have other local
users, and the files the project writes hold board keys, TLS keys, personal
data (the journals) and the PIN-block counters. Three rules hold whatever
the umask:

* A folder that is to hold such a file must not be writable by another user:
  whoever can write the folder can plant a file or a symbolic link under the
  name about to be written, or swap the file afterwards. The folder must
  belong to the current user (or root) and be neither world-writable nor
  writable by a group with another member; each folder above it must not be
  writable by others either, unless it is sticky (``/tmp``). Otherwise
  the component's own error (below). Folders created here get an
  explicit mode (0700 unless told), not the umask's.
* A file is written under a fresh random name opened with
  ``O_CREAT|O_EXCL|O_NOFOLLOW`` and mode 0600 (``tempfile.mkstemp``),
  fsynced, given its final mode with ``fchmod`` and renamed over the target:
  a planted ``NAME.tmp`` is never opened, and a symbolic link at the target
  is replaced, never followed.
* A long-lived file (a journal) is opened with ``O_NOFOLLOW``, must be a
  regular file of the current user, and is narrowed to its mode when an
  older version left it wider.

Why one neutral module: the agent and the verifier both write such files,
and neither may import the other (DESIGN: dependencies point one way); two
copies had drifted (one accepted a sticky world-writable folder of its own).
Each component makes one ``PrivateFiles`` with the exception it raises for an
unsafe path, so its callers keep catching their own typed error. It imports
nothing of the project. POSIX only, as both are.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["PrivateFiles"]


def _group_has_others(gid: int, owner: int) -> bool:
    """Whether a user other than ``owner`` belongs to group ``gid``."""
    try:
        group = grp.getgrgid(gid)
    except KeyError:
        return True  # an unnamed group: assume the worst
    try:
        owner_name = pwd.getpwuid(owner).pw_name
    except KeyError:
        owner_name = None
    if any(member != owner_name for member in group.gr_mem):
        return True
    # Users whose primary group it is are not listed in gr_mem.
    return any(user.pw_gid == gid and user.pw_uid != owner for user in pwd.getpwall())


def _others_can_write(st: os.stat_result) -> bool:
    if st.st_mode & stat.S_IWOTH:
        return True
    return bool(st.st_mode & stat.S_IWGRP) and _group_has_others(st.st_gid, st.st_uid)


class PrivateFiles:
    """Owner-only files and folders for one component, refused with its own error.

    Args:
        unsafe: makes the exception raised for an unsafe path from its
            message (the agent's ``UnsafePathError``, the verifier's
            ``UnsafeFolderError``).
    """

    def __init__(self, *, unsafe: Callable[[str], Exception]) -> None:
        self._unsafe = unsafe

    def check_folder(self, folder: Path) -> None:
        """Refuse ``folder`` when another user could plant or swap files in it.

        Raises:
            the unsafe-path error: the folder (or a non-sticky folder above it) is
                writable by another user, belongs to another user, or is not a
                folder.
            FileNotFoundError: the folder does not exist.
        """
        folder = Path(os.path.abspath(folder))
        st = os.stat(folder)
        if not stat.S_ISDIR(st.st_mode):
            raise self._unsafe(f"{folder} is not a folder")
        if st.st_uid not in (os.geteuid(), 0):
            raise self._unsafe(f"{folder} belongs to another user")
        if _others_can_write(st):
            raise self._unsafe(
                f"{folder} is writable by other users (chmod go-w it, or choose another folder)"
            )
        for above in folder.parents:
            st = os.stat(above)
            if _others_can_write(st) and not st.st_mode & stat.S_ISVTX:
                raise self._unsafe(f"{above} (above {folder}) is writable by other users")

    def folder(self, folder: Path, *, mode: int = 0o700) -> Path:
        """Create ``folder`` (and missing parents) with ``mode``, then check it.

        An existing folder keeps its mode but must pass :meth:`check_folder`.

        Raises:
            the unsafe-path error: see :meth:`check_folder`.
            OSError: a folder cannot be created.
        """
        folder = Path(os.path.abspath(folder))
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        for path in reversed(missing):
            with contextlib.suppress(FileExistsError):  # another process made it first
                os.mkdir(path, mode)
                os.chmod(path, mode)  # mkdir's mode went through the umask
        self.check_folder(folder)
        return folder

    def write(self, path: Path, data: bytes, *, mode: int = 0o600, parents: bool = False) -> None:
        """Write ``data`` to ``path`` atomically, with ``mode``, in a safe folder.

        Args:
            path: the target; a symbolic link there is replaced, not followed.
            data: the whole new content.
            mode: the file's permission bits (owner-only unless told).
            parents: create the folder (0700) when missing.

        Raises:
            the unsafe-path error: the folder is writable by another user.
            OSError: the folder cannot be written; the target is then unchanged.
        """
        path = Path(path)
        if parents:
            self.folder(path.parent)
        else:
            self.check_folder(path.parent)
        # mkstemp opens O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, under a random name.
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fchmod(handle.fileno(), mode)
                os.fsync(handle.fileno())
            os.replace(temp_name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise

    def open(self, path: Path, flags: int = os.O_RDWR, *, mode: int = 0o600) -> int:
        """Open (creating when missing) a long-lived owner-only file; returns the fd.

        The folder is created (0700) when missing and checked; the file is opened
        without following a link, must be a regular file of the current user, and
        is narrowed to ``mode`` when it was wider.

        Raises:
            the unsafe-path error: unsafe folder, a link, or a file of another user.
            OSError: the file cannot be opened.
        """
        path = Path(path)
        self.folder(path.parent)
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
        except OSError as exc:
            if os.path.islink(path):
                raise self._unsafe(f"{path} is a symbolic link") from exc
            raise
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise self._unsafe(f"{path} is not a regular file")
            if st.st_uid != os.geteuid():
                raise self._unsafe(f"{path} belongs to another user")
            if stat.S_IMODE(st.st_mode) & ~mode:
                os.fchmod(fd, mode)
        except BaseException:
            os.close(fd)
            raise
        return fd
