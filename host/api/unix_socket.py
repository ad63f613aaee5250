# SPDX-License-Identifier: Apache-2.0
"""Binding the terminal API's Unix socket with an explicit mode, not the umask's.

Why (issue 22): whoever can connect to the socket can run flows and answer
prompts, and whoever can replace it can pose as the agent to the ATM
application. So the socket's folder must be one no other user can write
(created 0750 when missing), the socket is created under a umask of 0077
(no window in which another user could connect) and then given ``mode``
(owner and group: 0660) and, when configured, the group that the ATM
application or the kiosk gateway runs in.
"""

from __future__ import annotations

import contextlib
import grp
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import grpc.aio

from host.private_files import private_folder

__all__ = ["SOCKET_MODE", "bind_unix"]

#: Owner and group may connect; nobody else.
SOCKET_MODE: Final = 0o660


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    # The umask is per process: 0077 only narrows what other threads create
    # meanwhile, and is restored at once.
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def _gid(group: str | int) -> int:
    if isinstance(group, int):
        return group
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ValueError(f"unknown group {group!r}") from None


def bind_unix(
    server: grpc.aio.Server,
    path: Path,
    *,
    mode: int = SOCKET_MODE,
    group: str | int | None = None,
) -> int:
    """Bind ``server`` to the Unix socket ``path`` with ``mode`` and ``group``.

    Args:
        server: the not yet started server.
        path: the socket's path.
        mode: the socket's permission bits; no bit for others is accepted.
        group: the group given the socket (name or id); None keeps the
            process's group (systemd's ``Group=``).

    Returns:
        what ``add_insecure_port`` returned.

    Raises:
        ValueError: ``mode`` lets others in, or ``group`` is unknown.
        UnsafePathError: the folder is writable by another user.
        RuntimeError: gRPC could not bind.
    """
    if mode & 0o007 or mode & ~0o770:
        raise ValueError("the API socket is for its owner and group only (mode 0o770 at most)")
    gid = None if group is None else _gid(group)
    private_folder(path.parent, mode=0o750)
    with _umask(0o077):
        port = server.add_insecure_port(f"unix:{path}")
    if gid is not None:
        os.chown(path, -1, gid)
    os.chmod(path, mode)
    if not stat.S_ISSOCK(os.lstat(path).st_mode):  # pragma: no cover - gRPC made it
        raise RuntimeError(f"{path} is not a socket")
    return port
