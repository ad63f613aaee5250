# SPDX-License-Identifier: Apache-2.0
"""``hw_sim.pty``: raw pty pairs, symlink replacement, descriptor clean-up."""

from __future__ import annotations

import os
import select
from pathlib import Path

import pytest

from hw_sim.pty import close_fds, open_pty, open_ptys, replace_symlink


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


def test_open_ptys_lists_a_pty_until_both_ends_are_closed() -> None:
    # What the autouse leak check in tests/conftest.py counts (issue 13.8).
    master, slave, path = open_pty()
    try:
        assert path in open_ptys()
        os.close(slave)  # a plain close counts as well as close_fds
        assert path in open_ptys()  # the master is still open
    finally:
        close_fds((master, slave))
    assert path not in open_ptys()


def test_a_reused_descriptor_number_is_not_a_pty(tmp_path: Path) -> None:
    master, slave, path = open_pty()
    close_fds((master, slave))
    reused = os.open(tmp_path / "file", os.O_CREAT | os.O_RDWR)  # likely gets a freed number
    try:
        assert path not in open_ptys()
    finally:
        os.close(reused)
