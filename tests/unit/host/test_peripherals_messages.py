# SPDX-License-Identifier: Apache-2.0
"""host.peripherals.messages: INFO and event parsing, codes equal to the firmware's."""

from __future__ import annotations

import re
import struct

import pytest

from host.peripherals import messages as m
from hw_sim.devices.controller import FIRMWARE_DIR


def test_parse_info() -> None:
    payload = bytes.fromhex("01020304 01 010203 01ff 03 04") + b"SN01"
    nonce, info = m.parse_info(payload)
    assert nonce == bytes.fromhex("01020304")
    assert info == m.BoardInfo(1, (1, 2, 3), 0x1FF, 3, "SN01")
    assert info.commissioned
    assert info.tampered
    with pytest.raises(ValueError, match="short"):
        m.parse_info(b"\x00" * 5)
    with pytest.raises(ValueError, match="truncated"):
        m.parse_info(payload[:-1])


def test_parse_events() -> None:
    assert m.parse_event(0x90, b"\x81") == m.KeyPressed(0x81)
    assert m.parse_event(0x91, struct.pack(">IBB", 9, 2, 3)) == m.EntryKey(
        9, m.EntryAction.DELETED, 3
    )
    assert m.parse_event(0x93, b"\x02") == m.Tamper(2)
    assert m.parse_event(0x94, struct.pack(">IB", 500, 1)) == m.Heartbeat(500, 1)
    with pytest.raises(ValueError, match="unexpected"):
        m.parse_event(0x90, b"")
    with pytest.raises(ValueError, match="EntryAction"):
        m.parse_event(0x91, struct.pack(">IBB", 9, 9, 3))


def test_board_status_flags() -> None:
    status = m.BoardStatus(1, b"\x00\x00\x00", 3)
    assert status.commissioned
    assert not status.tampered


def _firmware_constants() -> dict[str, int]:
    text = (FIRMWARE_DIR / "myna_fw" / "proto.py").read_text()
    return {
        name: int(value, 0) for name, value in re.findall(r"^(\w+) = const\((\w+)\)", text, re.M)
    }


def test_codes_match_firmware() -> None:
    fw = _firmware_constants()
    for command in m.Command:
        assert fw[f"CMD_{command.name}"] == command
    for mtype in m.MessageType:
        assert fw[f"EV_{mtype.name}"] == mtype
    for status in m.Status:
        assert fw[f"ST_{status.name}"] == status
    for outcome in m.EntryOutcome:
        assert fw[f"OUTCOME_{outcome.name}"] == outcome
    assert fw["KIND_NUMERIC"] == m.EntryKind.NUMERIC
    assert fw["KIND_ALNUM"] == m.EntryKind.ALNUM
    for key in m.Key:
        assert fw[f"KEY_{key.name}"] == key
