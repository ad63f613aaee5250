# SPDX-License-Identifier: Apache-2.0
"""Writing the simulator's files so that a reader never sees half of one.

The test PKI cache and the virtual cards' state and certificates may be read
by another process (a sim card, a verifier, a test runner) while they are
written. Each file is therefore written to a temporary name in the same
folder, flushed to disk and renamed over the target with ``os.replace``: a
reader sees the old file or the new one.

The same files hold private keys (CA, card and issuer keys), so the writing
is ``host.private_files.write_private``: the temporary name is random and
opened ``O_EXCL|O_NOFOLLOW`` (a planted ``NAME.tmp`` or symbolic link is
never followed), the mode is set explicitly whatever the umask, and a folder
another user can write is refused (``UnsafePathError``).
"""

from __future__ import annotations

from pathlib import Path

from host.private_files import write_private

__all__ = ["atomic_write"]


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600, parents: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``.

    Args:
        path: the target file; a symbolic link there is replaced, not followed.
        data: the whole new content.
        mode: the new file's permission bits (owner-only unless told).
        parents: create the target's folder first (0700); otherwise it must exist.

    Raises:
        UnsafePathError: the folder is writable by another user.
        OSError: the folder cannot be written; the target is then unchanged.
    """
    write_private(path, data, mode=mode, parents=parents)
