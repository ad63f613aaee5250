# SPDX-License-Identifier: Apache-2.0
"""Writing the simulator's files so that a reader never sees half of one.

The test PKI cache and the virtual cards' state and certificates may be read
by another process (a sim card, a verifier, a test runner) while they are
written. Each file is therefore written to a temporary name in the same
folder, flushed to disk and renamed over the target with ``os.replace``: a
reader sees the old file or the new one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600, parents: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``.

    Args:
        path: the target file.
        data: the whole new content.
        mode: the new file's permission bits (owner-only unless told).
        parents: create the target's folder first; otherwise it must exist.

    Raises:
        OSError: the folder cannot be written; the target is then unchanged.
    """
    if parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
