# SPDX-License-Identifier: Apache-2.0
"""``CupsDocumentPrinter``'s arguments and life cycle (no CUPS needed)."""

from __future__ import annotations

import asyncio

import pytest

from host.errors import PrinterUnavailableError
from host.flows.issuance_ports import PrintOutcome
from host.printing import CupsDocumentPrinter
from host.printing.states import PrinterCondition, PrinterStatus


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


class _Connection:
    """The one pycups call ``_device_agrees`` makes."""

    def getPrinterAttributes(self, queue: str, requested_attributes: list[str]) -> dict[str, str]:
        return {"device-uri": "ipp://localhost:8631/ipp/print"}


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        (PrinterCondition.READY, PrintOutcome.COMPLETED),
        (PrinterCondition.JAM, PrintOutcome.ABORTED),
        (PrinterCondition.PAPER_OUT, PrintOutcome.ABORTED),
    ],
)
def test_a_completed_job_on_a_faulted_device_counts_as_not_printed(
    monkeypatch: pytest.MonkeyPatch, device: PrinterCondition, expected: PrintOutcome
) -> None:
    # CUPS sometimes reports a job the device aborted at once as completed
    # (found by the issuance campaign): the device's own state decides.
    printer = CupsDocumentPrinter("ipp://127.0.0.1:631/printers/mfp")
    ready = PrinterStatus(condition=PrinterCondition.READY, reason="none", reasons=())
    after = PrinterStatus(condition=device, reason=device.value, reasons=(device.value,))
    monkeypatch.setattr(printer, "_check", lambda: ready)
    monkeypatch.setattr(printer, "_connect", _Connection)
    monkeypatch.setattr(printer, "_submit", lambda connection, pdf, title: 7)
    monkeypatch.setattr(printer, "_wait", lambda connection, job, deadline: PrintOutcome.COMPLETED)
    monkeypatch.setattr(printer, "_device_status", lambda uri: after)
    job = printer._print(b"%PDF-1.7", "op-1", 5.0)
    assert (job.job_id, job.outcome) == ("7", expected)
    asyncio.run(printer.aclose())
