# SPDX-License-Identifier: Apache-2.0
"""The golden receipt: what the ATM prints after a verified transfer.

Built with the host's ESC/POS encoder; the printer emulator's rendering of
it must match ``receipt_transfer.png`` pixel for pixel.
"""

from __future__ import annotations

from pathlib import Path

from host.peripherals.escpos import Align, Receipt

__all__ = ["GOLDEN_PNG", "transfer_receipt"]

GOLDEN_PNG = Path(__file__).with_name("receipt_transfer.png")


def transfer_receipt() -> Receipt:
    """A receipt using every command of the subset."""
    stripe = bytes([0xF0, 0x0F] * 4) * 8  # 64x8 checkered raster
    return (
        Receipt()
        .raster(8, stripe)
        .text("MYNA BANK ATM", bold=True, double=True, align=Align.CENTER)
        .text("2026-11-27 10:15  T-0042", align=Align.CENTER)
        .feed(1)
        .text("Transfer        JPY 150,000", bold=True)
        .text("Payee    ACME TRADING CO.")
        .japanese("本人確認　済み")
        .text("Ref TX-2026-000123", align=Align.RIGHT)
        .qr("TX-2026-000123", module=4, ecc="M")
        .cut()
    )
