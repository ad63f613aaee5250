# SPDX-License-Identifier: Apache-2.0
"""The agent's owner-only files and folders: keys, journals, state, sockets.

Why: the terminal PC may have other local users, and the agent's files
hold board keys, TLS keys, personal data (the journals) and the PIN-block
counters. The rules (and why each holds whatever the umask) are
``myna_files.private``'s, shared with the verifier; here they raise the
agent's :class:`~host.errors.UnsafePathError`.

- ``check_private_folder(folder)``: refuse a folder another user could
  plant or swap files in;
- ``private_folder(folder, mode=0o700)``: create it with that mode, then check;
- ``write_private(path, data, mode=0o600, parents=False)``: atomic write
  under a fresh name, fsynced, renamed over the target;
- ``open_private(path, flags, mode=0o600)``: open a long-lived file without
  following links, narrowed to ``mode``.
"""

from __future__ import annotations

from typing import Final

from host.errors import UnsafePathError
from myna_files import PrivateFiles

__all__ = [
    "check_private_folder",
    "open_private",
    "private_folder",
    "write_private",
]

_FILES: Final = PrivateFiles(unsafe=UnsafePathError)

check_private_folder: Final = _FILES.check_folder
private_folder: Final = _FILES.folder
write_private: Final = _FILES.write
open_private: Final = _FILES.open
