# SPDX-License-Identifier: Apache-2.0
"""Receipt building and the threaded printer port's failure path."""

from __future__ import annotations

import asyncio

import pytest

from host.errors import BoardAbsentError
from host.flows import ThreadedPrinter
from host.flows.printer_port import build_receipt
from hw_sim.devices.escpos_parse import EscPosPrinter, QrBlock


def test_ascii_and_japanese_lines() -> None:
    data = bytes(build_receipt(["REF auth-1", "ヤマダ　ハナコ"]))
    assert b"REF auth-1" in data
    assert "ヤマダ　ハナコ".encode("shift_jis") in data
    with pytest.raises(ValueError, match="Shift_JIS"):
        build_receipt(["\U0001f600"])


def test_reference_as_qr_code() -> None:
    printer = EscPosPrinter()
    printer.feed(bytes(build_receipt(["REF TX-1"], qr="TX-1")))
    (receipt,) = printer.receipts
    qrs = [b for b in receipt.blocks if isinstance(b, QrBlock)]
    assert [(q.data, q.ecc) for q in qrs] == [("TX-1", "M")]
    printer.feed(bytes(build_receipt(["REF TX-2"])))
    assert not [b for b in printer.receipts[1].blocks if isinstance(b, QrBlock)]


def test_absent_printer_raises_and_closes_cleanly() -> None:
    states: list[str] = []

    async def report(state: str) -> None:
        states.append(state)

    async def scenario() -> None:
        printer = ThreadedPrinter("/dev/nonexistent-printer", timeout=0.1, on_status=report)
        with pytest.raises(BoardAbsentError):
            await printer.print_lines(["X"])
        await printer.aclose()

    asyncio.run(scenario())
    assert states == ["offline"]
