# SPDX-License-Identifier: Apache-2.0
"""Pseudo-terminal plumbing shared by the simulated readers and devices.

Why one module: the PN532 emulator, the controller board and the receipt
printer each stand in for a serial device with a pty, publish its path under
a stable symlink, and on stop must close every descriptor they opened (the
autouse leak check counts them). Raw mode on both ends matters: a cooked pty
would echo frames back and translate CR/LF inside binary payloads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tty
from collections.abc import Iterable
from pathlib import Path

__all__ = ["close_fds", "open_pty", "replace_symlink"]

_log = logging.getLogger(__name__)


def open_pty() -> tuple[int, int, str]:
    """A raw pty pair: ``(master_fd, slave_fd, slave_path)``."""
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


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
