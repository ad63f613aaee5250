# SPDX-License-Identifier: Apache-2.0
"""hw_sim.devices.escpos_parse: the printer's parser, fed whole or byte by byte."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from host.peripherals.escpos import Receipt
from hw_sim.devices.escpos_parse import EscPosPrinter, Line, QrBlock, RasterBlock
from tests.vectors.receipts import transfer_receipt


def test_golden_receipt_parses() -> None:
    printer = EscPosPrinter()
    assert printer.feed(bytes(transfer_receipt())) == b""
    (receipt,) = printer.receipts
    kinds = [type(b) for b in receipt.blocks]
    assert kinds[0] is RasterBlock
    assert QrBlock in kinds
    text = receipt.text()
    assert "MYNA BANK ATM" in text
    assert "本人確認　済み" in text
    assert "[QR TX-2026-000123]" in text
    title = receipt.blocks[1]
    assert isinstance(title, Line)
    assert title.align == 1
    assert title.segments[0].bold
    assert title.segments[0].width == 2


@settings(max_examples=30)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=60))
def test_any_chunking_gives_the_same_receipt(cuts: list[int]) -> None:
    data = bytes(transfer_receipt())
    whole = EscPosPrinter()
    whole.feed(data)
    split = EscPosPrinter()
    position = 0
    for size in cuts * 100:
        if position >= len(data):
            break
        split.feed(data[position : position + size])
        position += size
    split.feed(data[position:])
    assert split.receipts == whole.receipts


def test_status_answers_and_offline_discards() -> None:
    printer = EscPosPrinter()
    assert printer.feed(b"\x10\x04\x02\x10\x04\x04") == b"\x12\x12"
    printer.paper_out = True
    assert printer.feed(b"\x10\x04\x04") == b"\x72"
    printer.feed(bytes(Receipt().text("LOST").cut()))
    assert printer.receipts == []
    printer.paper_out = False
    printer.cover_open = True
    assert printer.feed(b"\x10\x04\x02") == b"\x16"


def test_unknown_commands_are_skipped() -> None:
    printer = EscPosPrinter()
    printer.feed(b"\x1b\x74\x01" + bytes(Receipt().text("OK").cut()))
    assert printer.receipts[0].text().startswith("OK")
