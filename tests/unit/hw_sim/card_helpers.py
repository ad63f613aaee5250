# SPDX-License-Identifier: Apache-2.0
"""Helpers shared by the ``hw_sim.card`` unit tests: APDU exchange, EF reads, TLV splits.

The fixtures (``sim_home_dir`` in ``tests/conftest.py``, ``card`` in this
folder's ``conftest.py``) are not here; these are the plain functions and
constants the test modules import.
Commands are written as spaced hex strings.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection, Iterable
from pathlib import Path

from hw_sim.card import VirtualCard, open_card

__all__ = [
    "SELECT_JPKI",
    "SELECT_SURFACE",
    "SELECT_TEXT",
    "check_read_access",
    "parse_tlvs",
    "read_ef",
    "run",
    "sw",
    "with_shared_pki",
]

SELECT_JPKI = "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01"
SELECT_TEXT = "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08"
SELECT_SURFACE = "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 02"


def run(card: VirtualCard, command: str | bytes) -> tuple[bytes, int]:
    """Send ``command`` (hex text or bytes); return the response data and status word."""
    raw = bytes.fromhex(command) if isinstance(command, str) else command
    response = card.transmit(raw)
    return response[:-2], int.from_bytes(response[-2:], "big")


def sw(card: VirtualCard, command: str | bytes) -> int:
    """Send ``command``; return only the status word."""
    return run(card, command)[1]


def read_ef(card: VirtualCard, fid: int) -> bytes:
    """Select EF ``fid`` in the current application and read all of it (extended Le)."""
    assert run(card, f"00 A4 02 0C 02 {fid:04X}")[1] == 0x9000
    data, status = run(card, "00 B0 00 00 00 00 00")
    assert status == 0x9000, hex(status)
    return data


def check_read_access(
    card: VirtualCard, protected: Iterable[int], readable: Collection[int], free: Iterable[int]
) -> None:
    """Read one byte of each EF: ``protected`` ones give 9000 if ``readable``, else 6982.

    The ``free`` EFs (no access condition) always give 9000.
    """
    for fid in protected:
        run(card, f"00 A4 02 0C 02 {fid:04X}")
        expected = 0x9000 if fid in readable else 0x6982
        assert run(card, "00 B0 00 00 01")[1] == expected, fid
    for fid in free:
        run(card, f"00 A4 02 0C 02 {fid:04X}")
        assert run(card, "00 B0 00 00 01")[1] == 0x9000


def parse_tlvs(value: bytes) -> list[tuple[bytes, bytes, bytes]]:
    """Return (tag, value, whole TLV) for the two-byte-tag BER TLVs in ``value``.

    Lengths may be short, ``81 xx`` or ``82 xx xx``.
    """
    items, position = [], 0
    while position < len(value):
        start = position
        tag, first = value[position : position + 2], value[position + 2]
        position += 3
        if first & 0x80:
            count = first & 0x7F
            first = int.from_bytes(value[position : position + count], "big")
            position += count
        items.append((tag, value[position : position + first], value[start : position + first]))
        position += first
    return items


def with_shared_pki(home: Path, folder: Path) -> Path:
    """Copy ``home``'s test PKI (made first if needed) into ``folder``; return ``folder``.

    A folder of its own lets a test keep card state apart without paying
    for new RSA keys.
    """
    with open_card("default", home=home, persist=False):
        pass  # makes sure the shared PKI exists
    shutil.copytree(home / "pki", folder / "pki")
    return folder
