# SPDX-License-Identifier: Apache-2.0
"""Regressions the fault matrix found in ``host``, each kept as its smallest case.

1. A full journal disk ended flows as INTERNAL_ERROR/"failed" (an agent
   bug, in the kiosk's eyes) instead of HARDWARE_ERROR/"storage_error".
2. A cancel while the agent waited for the card inserted waited out a
   blocking open (a reader URL's ``?wait=N``): ``ThreadedCard.release``
   queued behind the open, and ``aclose`` then blocked the event loop in
   ``executor.shutdown(wait=True)``. Now the release returns at once and
   the worker closes whatever the late open brings.
3. The electronic journal ignored short writes: on a full disk a line was
   written in part, ``append`` returned as if it had been written, and the
   next line was glued to the torn one. Now the line is written whole or
   not at all, and the caller gets the OSError.
4. A PIN reset whose ConfirmReset did not get through after the card had
   taken the new secret ended DEVICE_NOT_READY/"service_unavailable": the
   user was told it failed while the new secret was in force (and the
   verifier confirmed it later). Now the flow completes; recovery confirms.
5. After a burst of line noise long enough for the board's link to give up
   on a frame, the controller stayed mute for good (the firmware's link
   stops once ``failed``; only a new session resets it): every later ATM
   entry failed until the agent restarted. Now the driver starts a new
   session (HELLO) before the next command after the board went silent.
6. After line noise garbled the length of a printer command, the printer
   emulator (like a real one) kept collecting that command's "data" and
   swallowed everything after it, status requests included: the printer
   stayed offline for good. Now a silent printer gets the real-time "clear
   buffers" (DLE DC4 8) and one more status request; the emulator honours
   it even mid-command, as Epson printers do.
"""

from __future__ import annotations

import asyncio
import errno
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from host.api import Profile
from host.api.translate import completion_for
from host.errors import BoardSilentError, JournalError
from host.flows import Outcome, ReadOutcome, ThreadedCard
from host.flows.context import error_code
from host.journal import ElectronicJournal
from host.peripherals import Controller
from host.peripherals.escpos import CLEAR_BUFFERS, Receipt
from host.peripherals.printer import ReceiptPrinter
from hw_sim.devices import LinkFaults, SimPrinter
from hw_sim.devices.escpos_parse import EscPosPrinter
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import verifier_pb2 as vpb
from myna_edge.chaos.faults.check import check_electronic_journal, check_run, settle
from myna_edge.chaos.faults.disk import Filler, small_disk
from myna_edge.chaos.faults.drive import PullableCard, drive, fresh_pins, read_card, reset
from myna_edge.chaos.faults.relay import TcpRelay
from myna_edge.chaos.faults.world import CARD, World, terminal
from tests.integration.controller_support import running_sim
from tests.prerequisites import missing_prerequisite

URL = f"sim://{CARD}?persist=0"


def test_storage_failures_are_hardware_errors_not_agent_bugs() -> None:
    for exc in (JournalError("journal write failed: OperationalError"), OSError(errno.ENOSPC, "x")):
        assert error_code(exc) == "storage_error"
        done = completion_for(ReadOutcome(Outcome.FAILED, "op", reason=error_code(exc)))
        assert done.code == tpb.COMPLETION_CODE_HARDWARE_ERROR
        assert done.error_code == "storage_error"


class WaitingReader(ThreadedCard):
    """A reader whose open blocks until ``gate`` (as ``pcsc://...?wait=N`` does)."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__(URL)
        self.gate = gate
        self.entered = threading.Event()

    def _open(self) -> None:
        self.entered.set()
        self.gate.wait(30)
        super()._open()


def test_release_does_not_wait_out_a_blocked_open() -> None:
    gate = threading.Event()
    card = WaitingReader(gate)

    async def scenario() -> None:
        waiter = asyncio.ensure_future(card.wait_card(60))
        assert await asyncio.to_thread(card.entered.wait, 10)
        waiter.cancel()
        await asyncio.wait_for(card.aclose(), 10)  # hang detector: the gate stays shut
        assert not gate.is_set()

    try:
        asyncio.run(scenario())
    finally:
        gate.set()
    card._executor.shutdown(wait=True)  # the late open ran and closed what it opened
    assert card._transport is None
    assert card._card is None


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    started = World.start(tmp_path_factory.mktemp("faults-regressions"))
    yield started
    started.close()


def test_cancel_at_insert_card_is_not_held_by_a_waiting_reader(
    world: World, tmp_path: Path
) -> None:
    gate = threading.Event()
    readers: list[WaitingReader] = []

    def factory() -> ThreadedCard:
        readers.append(WaitingReader(gate))
        return readers[-1]

    async def scenario() -> None:
        async with terminal(
            world, tmp_path, Profile.KIOSK, factory, terminal_id="regress-kiosk"
        ) as t:  # fmt: skip

            async def cancel(kind: int, nth: int) -> None:
                if kind == tpb.PROMPT_TYPE_INSERT_CARD:
                    await asyncio.to_thread(readers[-1].entered.wait, 10)
                    await t.stub.Cancel(tpb.CancelRequest(request_ids=["r-cancel"]), timeout=5)

            run = await drive(t, read_card("r-cancel"), deadline=15, hook=cancel)
            assert run.state == "CANCELED/cancelled"
            assert not gate.is_set()  # the reader was still waiting for a card

    try:
        asyncio.run(scenario())
    finally:
        gate.set()
    for reader in readers:
        reader._executor.shutdown(wait=True)
        assert reader._transport is None


def test_electronic_journal_line_is_whole_or_absent_on_a_full_disk(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        missing_prerequisite("mounting a tmpfs needs root (CI runs as root)")
    with small_disk(tmp_path / "disk", "1m") as disk:
        ej = ElectronicJournal(disk / "ej.txt", "atm-01")
        ej.append("op", "TRANSFER-COMMIT", authorization="aut_1")
        used = (disk / "ej.txt").stat().st_size
        probe = len(ej.append("op", "PAD", note="x")) + 1
        ej.append("op", "PAD", note="x" * (4096 - 100 - used - 2 * probe + 1))
        assert (disk / "ej.txt").stat().st_size == 4096 - 100  # 100 bytes left in its page
        Filler(disk).fill()
        for _ in range(2):
            with pytest.raises(OSError, match="No space left"):
                ej.append("op", "TRANSFER-REVERSE", authorization="aut_2", payee="x" * 300)
        text = (disk / "ej.txt").read_text(encoding="utf-8")
        assert len(text) == 4096 - 100  # nothing of the refused lines stayed
        assert "aut_2" not in text
        assert check_electronic_journal(text) == []
        assert check_electronic_journal(text + "2026-11-27T00:00:00.000000Z atm-01 op TRA") == [4]


def test_reset_completes_when_only_its_confirmation_is_lost(world: World, tmp_path: Path) -> None:
    fresh = fresh_pins()

    async def scenario() -> None:
        with TcpRelay(world.server.port) as relay:
            client = world.client("regress-reset", port=relay.port, timeout=1.0)
            async with terminal(
                world, tmp_path, Profile.KIOSK, lambda: PullableCard(URL),
                terminal_id="regress-reset", client=client,
            ) as t:  # fmt: skip

                async def cut_after_the_new_secret(kind: int, nth: int) -> None:
                    if kind == tpb.PROMPT_TYPE_NEW_SECRET and nth == 2:
                        relay.arm("blackhole", 0)  # the next call is ConfirmReset

                operation = vpb.RESET_OPERATION_SIGNING_PASSWORD
                booking = world.book(operation)
                request = reset("r-reset", operation)
                try:
                    run = await drive(t, request, deadline=30, hook=cut_after_the_new_secret)
                finally:
                    relay.heal()
                assert relay.triggered == 1
                assert run.state == "SUCCESS"  # the card took the new secret: say so
                assert world.reservations()[booking] == "REDEEMED"  # not confirmed yet
                await settle(t, "regress-reset")
                check_run("regress-reset", t, world, run, {"SUCCESS"}, fresh, reservation=booking)
                assert world.reservations()[booking] == "CONFIRMED"

    asyncio.run(scenario())


def test_controller_speaks_again_once_the_line_is_clean() -> None:
    with (
        running_sim(faults=LinkFaults(seed=1), retransmit_ms=50) as sim,
        Controller(sim.url, retransmit_timeout=0.05, timeout=1.0) as board,
    ):
        assert board.echo(b"before") == b"before"
        relay = sim.relay
        relay.faults = LinkFaults(drop=1.0, seed=1)  # the cable is cut both ways
        sim.press("1", "2", wait=False)  # the board's key events go nowhere: its link gives up
        with pytest.raises(BoardSilentError):
            board.echo(b"lost")
        relay.faults = LinkFaults(seed=1)  # clean again
        answers = []
        for n in range(3):
            try:
                answers.append(board.echo(b"after%d" % n))
            except BoardSilentError:
                answers.append(b"")
        assert answers[1:] == [b"after1", b"after2"]  # at most the first waits in vain


GARBLED_QR = bytes((0x1D, 0x28, 0x6B, 0xFF, 0xF0))  # GS ( k with a length hit by noise


def test_printer_emulator_honours_clear_buffers_mid_command() -> None:
    printer = EscPosPrinter()
    assert printer.feed(GARBLED_QR + b"\x10\x04\x02") == b""  # swallowed as QR data
    assert printer.feed(CLEAR_BUFFERS + b"\x10\x04\x02") == bytes((0x12,))
    printer.feed(bytes(Receipt().text("after the noise").cut()))
    assert "after the noise" in printer.receipts[-1].text()


def test_printer_speaks_again_after_a_garbled_command(tmp_path: Path) -> None:
    with SimPrinter(tmp_path) as sim, ReceiptPrinter(sim.url, timeout=0.5) as printer:
        with serial.serial_for_url(sim.url) as line:  # what noise made of a QR command
            line.write(GARBLED_QR)
            line.flush()
        assert not printer.status().paper_out  # answered, after clearing
        printer.print_receipt(Receipt().text("after the noise").cut())
        (receipt,) = sim.wait_receipts(1)
        assert "after the noise" in receipt.text()
