# SPDX-License-Identifier: Apache-2.0
"""Writing keys and other secrets so that another local user cannot read or redirect them.

Why (issue 22, item 2): the TLS keys used to be written through a fixed
temporary name opened ``O_CREAT|O_TRUNC``. A file planted under that name by
another user kept its owner and mode (the key ended world-readable), and a
planted symbolic link made the writer overwrite whatever it pointed to. The
rules (a folder nobody else can write, a fresh random name, fsync, rename
over the target) are ``myna_files.private``'s, shared with the agent; here
they raise the verifier's :class:`UnsafeFolderError`, a ``ConfigError``,
because a secret path is configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from myna_files import PrivateFiles
from verifier.errors import ConfigError

__all__ = ["UnsafeFolderError", "check_folder", "write_secret"]


class UnsafeFolderError(ConfigError):
    """A folder another user can write: a secret is never written there."""


_FILES: Final = PrivateFiles(unsafe=UnsafeFolderError)

check_folder: Final = _FILES.check_folder


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
    _FILES.write(path, data, mode=mode, parents=True)
