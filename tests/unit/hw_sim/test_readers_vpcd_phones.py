# SPDX-License-Identifier: Apache-2.0
"""hw_sim.readers.vpcd with a phone: the ATR a PC/SC reader shows for a Type A target.

PC/SC part 3: ``3B 8n 80 01`` + the ATS historical bytes + TCK (XOR of T0
to the last historical byte). The vectors are spelled out byte by byte.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from hw_sim.card import open_card
from hw_sim.readers.vpcd import VpcdProtocol

SELECT_JPKI = bytes.fromhex("00A4040C0AD392F000260100000001")


def msg(body: bytes) -> bytes:
    return struct.pack(">H", len(body)) + body


@pytest.mark.parametrize(
    ("profile", "atr"),
    [
        # 3B | T0 89: 9 historical | TD1 80 | TD2 01 | "JPKI-GPSE" | TCK 3C
        ("android-default", "3B 89 80 01 4A 50 4B 49 2D 47 50 53 45 3C"),
        # 3B | T0 88: 8 historical | TD1 80 | TD2 01 | "JPKI-IOS" | TCK 69
        ("iphone-default", "3B 88 80 01 4A 50 4B 49 2D 49 4F 53 69"),
    ],
)
def test_phone_atr_over_vpcd(sim_home_dir: Path, profile: str, atr: str) -> None:
    with open_card(profile, home=sim_home_dir, persist=False) as card:
        proto = VpcdProtocol(card)
        assert proto.receive(msg(b"\x04")) == msg(bytes.fromhex(atr))
        checksum = 0
        for byte in bytes.fromhex(atr)[1:]:
            checksum ^= byte
        assert checksum == 0
        assert proto.receive(msg(b"\x01")) == b""
        assert proto.receive(msg(SELECT_JPKI)) == msg(b"\x90\x00")
