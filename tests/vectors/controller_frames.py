# SPDX-License-Identifier: Apache-2.0
"""Loader for the golden controller-link frames in ``controller_frames.txt``.

The same text file is read by the firmware tests under MicroPython
(firmware/tests/support.py), by the host tests and by the sim tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["FILE", "GoldenFrame", "load_crc_checks", "load_frames"]

FILE = Path(__file__).with_name("controller_frames.txt")


@dataclass(frozen=True)
class GoldenFrame:
    name: str
    type: int
    seq: int
    payload: bytes
    wire: bytes


def _lines() -> list[str]:
    text = FILE.read_text(encoding="ascii")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def load_crc_checks() -> list[tuple[bytes, int]]:
    """``(data, crc)`` pairs."""
    checks = []
    for line in _lines():
        if line.startswith("crc-check:"):
            data, crc = line.removeprefix("crc-check:").split("=>")
            checks.append((bytes.fromhex(data), int(crc, 16)))
    return checks


def load_frames() -> list[GoldenFrame]:
    """Every golden frame, in file order."""
    frames: list[GoldenFrame] = []
    head: tuple[str, int, int, bytes] | None = None
    for line in _lines():
        if line.startswith("crc-check:"):
            continue
        if line.startswith("=>"):
            assert head is not None
            frames.append(GoldenFrame(*head, bytes.fromhex(line[2:])))
            head = None
            continue
        name, rest = line.split(":", 1)
        fields, payload = rest.split("|")
        ftype, seq = fields.split()
        head = (name, int(ftype, 16), int(seq, 16), bytes.fromhex(payload))
    return frames
