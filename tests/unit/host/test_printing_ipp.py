# SPDX-License-Identifier: Apache-2.0
"""``CupsDocumentPrinter``'s arguments and life cycle (no CUPS needed)."""

from __future__ import annotations

import asyncio

import pytest

from host.errors import PrinterUnavailableError
from host.printing import CupsDocumentPrinter


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:631/printers/mfp",
        "ipp://127.0.0.1:631/classes/mfp",
        "ipp://127.0.0.1:631/printers/",
        "ipp://127.0.0.1:631/printers/mfp/extra",
        "ipp:///printers/mfp",
    ],
)
def test_only_a_cups_queue_uri(url: str) -> None:
    with pytest.raises(ValueError, match="CUPS queue URI"):
        CupsDocumentPrinter(url)


def test_queue_and_port_from_the_uri() -> None:
    printer = CupsDocumentPrinter("ipp://localhost/printers/mfp")
    assert printer.queue == "mfp"
    assert repr(printer) == "CupsDocumentPrinter('ipp://localhost/printers/mfp')"
    asyncio.run(printer.aclose())
    with pytest.raises(ValueError, match="poll_interval"):
        CupsDocumentPrinter("ipp://localhost/printers/mfp", poll_interval=0)


def test_bad_arguments_and_closed_port() -> None:
    async def scenario() -> None:
        async with CupsDocumentPrinter("ipp://127.0.0.1:9/printers/mfp") as printer:
            with pytest.raises(ValueError, match="empty"):
                await printer.print_document(b"", title="op", timeout=1.0)
            with pytest.raises(ValueError, match="timeout"):
                await printer.print_document(b"%PDF", title="op", timeout=0)
        await printer.aclose()  # harmless twice
        with pytest.raises(PrinterUnavailableError, match="closed") as caught:
            await printer.print_document(b"%PDF", title="op", timeout=1.0)
        assert caught.value.state == "offline"

    asyncio.run(scenario())
