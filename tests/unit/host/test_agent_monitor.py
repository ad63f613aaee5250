# SPDX-License-Identifier: Apache-2.0
"""``host.agent.monitor``: probes map device answers to XFS states; the loop never dies.

Fakes stand in for the devices here (one module under test); the real
printer emulator, controller firmware and pcscd are in
tests/integration/test_agent_status_events.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from host.agent.monitor import (
    DeviceMonitor,
    Probe,
    _pick,
    board_state,
    controller_probe,
    printer_probe,
    serial_reader_probe,
    sim_slot_probe,
)
from host.errors import BoardSilentError, BoardTamperedError, PaperOutError
from host.peripherals import BoardStatus
from host.peripherals.escpos import PrinterStatus
from host.peripherals.messages import Flag
from myna.edge.v1 import terminal_pb2 as tpb


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        (PrinterStatus(False, False, False), tpb.DEVICE_STATE_ONLINE),
        (PrinterStatus(False, False, True), tpb.DEVICE_STATE_ONLINE),  # near end still prints
        (PrinterStatus(False, True, False), tpb.DEVICE_STATE_HARDWARE_ERROR),
        (PrinterStatus(True, False, False), tpb.DEVICE_STATE_HARDWARE_ERROR),
        (BoardSilentError("silent"), tpb.DEVICE_STATE_OFFLINE),
        (PaperOutError("out"), tpb.DEVICE_STATE_OFFLINE),  # any other peripheral failure
    ],
)
def test_printer_states(answer: object, state: int) -> None:
    async def ask() -> PrinterStatus:
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, PrinterStatus)
        return answer

    assert run(printer_probe(ask).check()) == [("printer", state)]


_KCV = b"\x01\x02\x03"


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        (BoardStatus(Flag.COMMISSIONED, _KCV, 0), tpb.DEVICE_STATE_ONLINE),
        (BoardStatus(Flag.TAMPERED, b"\0\0\0", 0), tpb.DEVICE_STATE_FRAUD_ATTEMPT),
        (BoardStatus(0, b"\0\0\0", 0), tpb.DEVICE_STATE_NOT_COMMISSIONED),
        # commissioned, but with another key than the agent's: entry would fail mid-flow
        (BoardStatus(Flag.COMMISSIONED, b"\x09\x09\x09", 0), tpb.DEVICE_STATE_NOT_COMMISSIONED),
        (BoardTamperedError(5), tpb.DEVICE_STATE_FRAUD_ATTEMPT),
        (BoardSilentError("gone"), tpb.DEVICE_STATE_OFFLINE),
    ],
)
def test_controller_states(answer: object, state: int) -> None:
    async def ask() -> BoardStatus:
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, BoardStatus)
        return answer

    assert run(controller_probe(ask, kcv=_KCV).check()) == [("controller", state)]


def test_board_state_without_a_key_to_compare() -> None:
    assert board_state(BoardStatus(Flag.COMMISSIONED, b"\x09\x09\x09", 0), None) == (
        tpb.DEVICE_STATE_ONLINE
    )


def test_reader_matching_follows_the_url_rules() -> None:
    readers = [("ACS ACR122U 00 00", False), ("Virtual PCD 00 00", True)]
    assert _pick(readers, "Virtual PCD 00 00", None) == readers[1]
    assert _pick(readers, "acr122", None) == readers[0]
    assert _pick(readers, "", None) == readers[1]  # the first with a card
    assert _pick(readers, "", 0) == readers[0]
    assert _pick(readers, "", 5) is None
    assert _pick(readers, "SONY", None) is None
    assert _pick([], "", None) is None


def test_loop_skips_busy_devices_and_survives_a_broken_probe() -> None:
    reported: list[tuple[str, int]] = []
    busy = [True]

    async def report(device: str, state: int) -> None:
        reported.append((device, state))

    async def broken() -> list[tuple[str, int]]:
        raise RuntimeError("probe bug")

    async def reader() -> list[tuple[str, int]]:
        return [("card", tpb.DEVICE_STATE_ONLINE)]

    async def printer() -> list[tuple[str, int]]:
        return [("printer", tpb.DEVICE_STATE_ONLINE)]

    probes = [Probe(broken, while_busy=True), Probe(reader, while_busy=True), Probe(printer)]
    monitor = DeviceMonitor(report, probes, lambda: busy[0], interval=0.01)  # type: ignore[arg-type]

    async def scenario() -> None:
        await monitor.poll_once()
        assert reported == [("card", tpb.DEVICE_STATE_ONLINE)]  # the printer belongs to the flow
        busy[0] = False
        task = asyncio.ensure_future(monitor.run())
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    run(scenario())
    assert ("printer", tpb.DEVICE_STATE_ONLINE) in reported
    assert reported.count(("card", tpb.DEVICE_STATE_ONLINE)) > 2  # the loop kept going


def test_uart_reader_follows_its_device_node(tmp_path: Path) -> None:
    node = tmp_path / "ttyUSB0"
    probe = serial_reader_probe(f"pn532_uart:{node}:115200")
    assert probe is not None
    assert probe.while_busy
    assert run(probe.check()) == [("reader", tpb.DEVICE_STATE_OFFLINE)]
    node.touch()
    assert run(probe.check()) == [("reader", tpb.DEVICE_STATE_ONLINE)]
    assert serial_reader_probe("pn53x_usb") is None
    assert serial_reader_probe("pn532_uart:COM3") is None


def test_sim_slot_reader_card_in_and_out(tmp_path: Path) -> None:
    from hw_sim.readers.slot import insert_card, remove_card, slot_path

    assert sim_slot_probe("sim://default") is None  # a fixed card: nothing to watch
    probe = sim_slot_probe(f"sim://?slot=mon&home={tmp_path}")
    assert probe is not None
    assert probe.while_busy  # a pulled card shows during a flow too
    absent = [("reader", tpb.DEVICE_STATE_ONLINE), ("card", tpb.DEVICE_STATE_NO_DEVICE)]
    assert run(probe.check()) == absent
    insert_card("mon", home=tmp_path)
    assert run(probe.check()) == [
        ("reader", tpb.DEVICE_STATE_ONLINE),
        ("card", tpb.DEVICE_STATE_ONLINE),
    ]
    remove_card("mon", home=tmp_path)
    assert run(probe.check()) == absent
    slot_path("mon", home=tmp_path).write_bytes(b"damaged")
    assert run(probe.check()) == [("reader", tpb.DEVICE_STATE_OFFLINE)]
