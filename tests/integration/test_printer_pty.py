# SPDX-License-Identifier: Apache-2.0
"""Receipt printer driver <-> ESC/POS emulator over ptys, with rendered output."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from host.errors import BoardAbsentError, BoardSilentError, CoverOpenError, PaperOutError
from host.peripherals.escpos import Receipt
from host.peripherals.printer import ReceiptPrinter
from hw_sim.devices import LinkFaults, SimPrinter
from hw_sim.pty import open_pty
from tests.vectors.receipts import GOLDEN_PNG, transfer_receipt


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimPrinter]:
    with SimPrinter(tmp_path / "out") as printer:
        yield printer


def test_receipt_printed_and_rendered(sim: SimPrinter, tmp_path: Path) -> None:
    with ReceiptPrinter(sim.url) as printer:
        assert printer.status().ready
        printer.print_receipt(transfer_receipt())
    (receipt,) = sim.wait_receipts(1)
    assert "TX-2026-000123" in receipt.text()
    text = (tmp_path / "out" / "receipt-0001.txt").read_text(encoding="utf-8")
    assert "本人確認　済み" in text
    with Image.open(tmp_path / "out" / "receipt-0001.png") as png, Image.open(GOLDEN_PNG) as golden:
        assert png.convert("1").tobytes() == golden.convert("1").tobytes()


def test_paper_out_and_cover_open_refuse(sim: SimPrinter) -> None:
    with ReceiptPrinter(sim.url) as printer:
        sim.set_paper_out(True)
        with pytest.raises(PaperOutError):
            printer.print_receipt(Receipt().text("X").cut())
        sim.set_paper_out(False)
        sim.set_cover_open(True)
        assert printer.status().cover_open
        with pytest.raises(CoverOpenError):
            printer.print_receipt(Receipt().text("X").cut())
        sim.set_cover_open(False)
        printer.print_receipt(Receipt().text("AFTER").cut())
    assert sim.wait_receipts(1)[0].text().startswith("AFTER")


def test_absent_and_silent_printer() -> None:
    with pytest.raises(BoardAbsentError):
        ReceiptPrinter("/dev/nonexistent-printer").open()
    master, slave, path = open_pty()
    try:
        with ReceiptPrinter(path, timeout=0.2) as printer, pytest.raises(BoardSilentError):
            printer.status()
    finally:
        os.close(master)
        os.close(slave)


def test_printing_through_a_delaying_link(tmp_path: Path) -> None:
    # ESC/POS has no retransmission: only delay and duplication-free faults
    # keep a receipt intact, and a slow line must not break the driver.
    faults = LinkFaults(delay=0.2, delay_seconds=0.01, seed=5)
    with SimPrinter(tmp_path, faults=faults) as sim, ReceiptPrinter(sim.url) as printer:
        printer.print_receipt(transfer_receipt())
        (receipt,) = sim.wait_receipts(1)
        assert "[QR TX-2026-000123]" in receipt.text()
        assert sim.printer.receipts[0].text() == receipt.text()
