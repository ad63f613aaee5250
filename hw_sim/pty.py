# SPDX-License-Identifier: Apache-2.0
"""Pseudo-terminal plumbing shared by the simulated readers and devices.

Why one module: the PN532 emulator, the controller board and the receipt
printer each stand in for a serial device with a pty, publish its path under
a stable symlink, and on stop must close every descriptor they opened: the
autouse leak check in ``tests/conftest.py`` fails a test that leaves one
open (``open_ptys`` lists them). Raw mode on both ends matters: a cooked pty
would echo frames back and translate CR/LF inside binary payloads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import tty
from collections.abc import Iterable
from pathlib import Path

__all__ = ["close_fds", "open_pty", "open_ptys", "replace_symlink"]

_log = logging.getLogger(__name__)

#: Descriptors ``open_pty`` handed out: fd -> (device number, slave path).
_OPENED: dict[int, tuple[int, str]] = {}
_OPENED_LOCK = threading.Lock()


def open_pty() -> tuple[int, int, str]:
    """A raw pty pair: ``(master_fd, slave_fd, slave_path)``."""
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    path = os.ttyname(slave)
    with _OPENED_LOCK:
        # The kernel just handed out these numbers, so whatever held them before is closed.
        for fd in (master, slave):
            _OPENED[fd] = (os.fstat(fd).st_rdev, path)
    return master, slave, path


def open_ptys() -> list[str]:
    """The slave paths of ptys from ``open_pty`` with a descriptor still open (leak checks).

    Why by device number: owners close with ``close_fds`` or plain
    ``os.close``, so a descriptor counts as open while ``fstat`` still
    finds the same device behind its number (a reused number is another file).
    """
    with _OPENED_LOCK:
        for fd, (rdev, _) in list(_OPENED.items()):
            try:
                alive = os.fstat(fd).st_rdev == rdev
            except OSError:
                alive = False
            if not alive:
                del _OPENED[fd]
        return sorted({path for _, path in _OPENED.values()})


def replace_symlink(link: Path, target: str) -> None:
    """Point ``link`` at ``target``, replacing a link left by an earlier run."""
    link.unlink(missing_ok=True)
    link.symlink_to(target)
    _log.debug("%s -> %s", link, target)


def close_fds(fds: Iterable[int]) -> None:
    """Close each descriptor, ignoring ones already closed."""
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
