# SPDX-License-Identifier: Apache-2.0
"""hw_sim.readers.pn532_pty: the pty shell, driven from the slave side as libnfc would."""

from __future__ import annotations

import os
import select
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from hw_sim.card import VirtualCard
from hw_sim.readers.pn532_frames import ACK, ERROR_FRAME, build_frame
from hw_sim.readers.pn532_pty import Pn532Pty

FIRMWARE_CMD = bytes.fromhex("0000FF02FED4022A00")
FIRMWARE_ANSWER = ACK + bytes.fromhex("0000FF06FAD50332010607E800")


@pytest.fixture
def pty(card: VirtualCard, tmp_path: Path) -> Iterator[tuple[Pn532Pty, int]]:
    with Pn532Pty(card, link=tmp_path / "pn532") as emulator:
        fd = os.open(emulator.path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(fd)
        try:
            yield emulator, fd
        finally:
            os.close(fd)


def exchange(fd: int, data: bytes, expect: int) -> bytes:
    os.write(fd, data)
    out = b""
    while len(out) < expect:
        ready, _, _ = select.select([fd], [], [], 0.3)
        if not ready:
            break
        out += os.read(fd, 4096)
    return out


def test_symlink_and_connstring(pty: tuple[Pn532Pty, int], tmp_path: Path) -> None:
    emulator, _fd = pty
    link = tmp_path / "pn532"
    assert link.is_symlink()
    assert os.readlink(link) == emulator.path
    assert emulator.connstring == f"pn532_uart:{link}"


def test_wake_up_and_firmware(pty: tuple[Pn532Pty, int]) -> None:
    _emulator, fd = pty
    wire = bytes.fromhex("5555" + "00" * 14) + FIRMWARE_CMD
    assert exchange(fd, wire, len(FIRMWARE_ANSWER)) == FIRMWARE_ANSWER


def test_unknown_command_gets_the_error_frame(pty: tuple[Pn532Pty, int]) -> None:
    _emulator, fd = pty
    frame = build_frame(b"\xfe", tfi=0xD4)
    assert exchange(fd, frame, len(ACK + ERROR_FRAME)) == ACK + ERROR_FRAME


def test_garbage_is_counted_and_the_next_frame_answered(pty: tuple[Pn532Pty, int]) -> None:
    emulator, fd = pty
    bad = bytearray(FIRMWARE_CMD)
    bad[-2] ^= 0xFF  # wrong DCS
    assert exchange(fd, bytes(bad), 1) == b""
    assert emulator.frame_errors == 1
    assert exchange(fd, FIRMWARE_CMD, len(FIRMWARE_ANSWER)) == FIRMWARE_ANSWER


def test_nack_resends_and_faults(pty: tuple[Pn532Pty, int]) -> None:
    emulator, fd = pty
    exchange(fd, FIRMWARE_CMD, len(FIRMWARE_ANSWER))
    nack = bytes.fromhex("0000FFFF0000")
    assert exchange(fd, nack, len(FIRMWARE_ANSWER) - 6) == FIRMWARE_ANSWER[6:]
    emulator.corrupt_next_response()
    corrupt = exchange(fd, FIRMWARE_CMD, len(FIRMWARE_ANSWER))
    assert corrupt[:-2] == FIRMWARE_ANSWER[:-2]
    assert corrupt[-2] != FIRMWARE_ANSWER[-2]
    emulator.drop_next_response()
    assert exchange(fd, FIRMWARE_CMD, len(FIRMWARE_ANSWER)) == ACK
    emulator.truncate_next_response()
    short = exchange(fd, FIRMWARE_CMD, len(FIRMWARE_ANSWER))
    assert ACK + FIRMWARE_ANSWER[6:][:3] == short[:9]
    assert len(short) < len(FIRMWARE_ANSWER)


def test_stop_twice_removes_the_link(card: VirtualCard, tmp_path: Path) -> None:
    emulator = Pn532Pty(card, link=tmp_path / "dev").start()
    assert emulator.start() is emulator
    emulator.stop()
    emulator.stop()
    assert not (tmp_path / "dev").exists()
