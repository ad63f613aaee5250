# SPDX-License-Identifier: Apache-2.0
"""hw_sim.readers.pcscd: the reader.conf it writes and its refusal to share pcscd."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hw_sim.readers import pcscd


def test_reader_conf_names_vpcd_on_the_port(tmp_path: Path) -> None:
    folder = pcscd.write_reader_conf(tmp_path / "conf", 0x9C7B)
    text = (folder / "vpcd").read_text()
    assert 'FRIENDLYNAME "Virtual PCD"' in text
    assert "DEVICENAME   /dev/null:0x9C7B" in text
    assert "CHANNELID    0x9C7B" in text
    assert str(pcscd.VPCD_DRIVER) in text


def test_pid_file_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pid_file = tmp_path / "pcscd.pid"
    monkeypatch.setattr(pcscd, "PCSCD_PID_FILE", pid_file)
    assert pcscd.running_pcscd_pid() is None  # no file
    pid_file.write_bytes(f"{os.getpid()}\n\x00".encode())
    assert pcscd.running_pcscd_pid() == os.getpid()
    pid_file.write_bytes(b"garbage")
    assert pcscd.running_pcscd_pid() is None
    pid_file.write_bytes(b"")
    assert pcscd.running_pcscd_pid() is None


def test_refuses_when_another_pcscd_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pcscd, "running_pcscd_pid", lambda: 4242)
    monkeypatch.setattr(pcscd, "VPCD_DRIVER", tmp_path / "log")  # any existing file
    (tmp_path / "log").touch()
    process = pcscd.PcscdProcess(tmp_path, tmp_path / "log", isolate=False)
    with pytest.raises(pcscd.PcscdBusyError, match="PID 4242"):
        process.start()
    assert process.pid is None
    assert process.netns is None
    process.stop()  # harmless when not running


def test_waits_only_for_a_private_pcscd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pcscd, "VPCD_DRIVER", tmp_path / "log")
    (tmp_path / "log").touch()
    monkeypatch.setattr(pcscd, "running_pcscd_pid", lambda: 4242)
    asked: list[int] = []

    def private(pid: int) -> bool:
        asked.append(pid)
        return len(asked) < 3  # ours for a while, then "someone else's"

    monkeypatch.setattr(pcscd, "_is_private", private)
    process = pcscd.PcscdProcess(tmp_path, tmp_path / "log", isolate=False)
    with pytest.raises(pcscd.PcscdBusyError, match="PID 4242"):
        process.start(busy_wait=30)
    assert asked == [4242, 4242, 4242]  # it polled, then refused a foreign pcscd


def test_private_marker_is_read_from_the_command_line() -> None:
    assert not pcscd._is_private(os.getpid())  # pytest's argv has no marker
    assert not pcscd._is_private(2**22 + 1)  # no such process
