# SPDX-License-Identifier: Apache-2.0
"""libnfc's own tools accept the PN532 emulator (the issue's acceptance test).

``nfc-list`` exits 0 even when it cannot open the device (toolchain.md), so
every check reads its output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from hw_sim.card import VirtualCard
from hw_sim.readers.pn532 import ATQB
from hw_sim.readers.stack import Pn532Rig
from tests.integration.reader_stack import pn532_stack, require

__all__ = ["pn532_stack"]


def tool(stack: Pn532Rig, *argv: str) -> str:
    require(shutil.which(argv[0]) is not None, f"{argv[0]} (Debian libnfc-bin) is not installed")
    env = {**os.environ, "LIBNFC_DEVICE": stack.pty.connstring}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30, check=False)
    return done.stdout


@pytest.fixture
def card(pn532_stack: Pn532Rig) -> Iterator[VirtualCard]:
    with pn532_stack.card() as card:
        yield card


def test_nfc_list_shows_the_type_b_target(pn532_stack: Pn532Rig, card: VirtualCard) -> None:
    out = tool(pn532_stack, "nfc-list")
    assert "NFC device: user defined device opened" in out
    assert "1 ISO14443B passive target(s) found:" in out
    assert "ISO/IEC 14443-4B (106 kbps) target:" in out
    pupi = "  ".join(f"{b:02x}" for b in ATQB[1:5])
    assert f"PUPI: {pupi}" in out
    assert "Application Data: 00  00  05  e0" in out


def test_nfc_list_verbose_decodes_protocol_info(pn532_stack: Pn532Rig, card: VirtualCard) -> None:
    out = tool(pn532_stack, "nfc-list", "-v")
    assert "Protocol types supported: ISO/IEC 14443-4" in out
    assert "0 ISO14443A passive target(s) found." in out


def test_nfc_list_without_card_lists_none(pn532_stack: Pn532Rig) -> None:
    out = tool(pn532_stack, "nfc-list", "-v")
    assert "NFC device: user defined device opened" in out
    assert "0 ISO14443B passive target(s) found." in out


def test_nfc_scan_device_finds_a_pn532(pn532_stack: Pn532Rig) -> None:
    out = tool(pn532_stack, "nfc-scan-device", "-v")
    assert "1 NFC device(s) found:" in out
    assert pn532_stack.pty.connstring in out
    assert "chip: PN532 v1.6" in out
    assert "ISO/IEC 14443-4B (106 kbps)" in out
