# SPDX-License-Identifier: Apache-2.0
"""``hw_sim.pty``: raw pty pairs, symlink replacement, descriptor clean-up."""

from __future__ import annotations

import os
import select
from pathlib import Path

import pytest

from hw_sim.pty import close_fds, open_pty, replace_symlink


def _read(fd: int, n: int) -> bytes:
    data = b""
    while len(data) < n and select.select([fd], [], [], 2.0)[0]:
        data += os.read(fd, n - len(data))
    return data


def test_open_pty_is_raw_both_ways() -> None:
    master, slave, path = open_pty()
    try:
        assert path == os.ttyname(slave)
        # Cooked mode would turn CR into LF, echo, and swallow ^C as a signal.
        os.write(master, b"\r\n\x03\x00")
        assert _read(slave, 4) == b"\r\n\x03\x00"
        os.write(slave, b"\n\x7f")
        assert _read(master, 2) == b"\n\x7f"
        assert not select.select([master], [], [], 0.05)[0]  # nothing echoed back
    finally:
        close_fds((master, slave))


def test_replace_symlink_creates_and_replaces(tmp_path: Path) -> None:
    link = tmp_path / "dev"
    replace_symlink(link, "/dev/pts/first")
    assert os.readlink(link) == "/dev/pts/first"
    replace_symlink(link, "/dev/pts/second")
    assert os.readlink(link) == "/dev/pts/second"


def test_close_fds_closes_all_and_ignores_closed_ones() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    close_fds([read_end, write_end])
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(write_end)
