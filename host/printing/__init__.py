# SPDX-License-Identifier: Apache-2.0
"""The MFP's document printer: certificates printed through CUPS.

``CupsDocumentPrinter`` (``ipp``) is the ``DocumentPrinterPort`` of the
issuance flow (``host.flows.issuance_ports``): it submits the PDF the centre
authorised, unchanged, to a CUPS queue whose printer is an IPP Everywhere
device, waits for the job's final state and maps the printer's
``printer-state-reasons`` to ``PrinterUnavailableError.state`` and to the
agent's device status (``states``, sans-I/O)::

    async with CupsDocumentPrinter("ipp://127.0.0.1:631/printers/mfp") as printer:
        job = await printer.print_document(pdf, title=operation_id, timeout=60.0)

pycups (the ``printing`` extra) is imported on first use only.
"""

from __future__ import annotations

from host.printing.ipp import CupsDocumentPrinter
from host.printing.states import (
    JobState,
    JobStatus,
    PrinterCondition,
    PrinterStatus,
    parse_job_attributes,
    parse_printer_attributes,
)

__all__ = [
    "CupsDocumentPrinter",
    "JobState",
    "JobStatus",
    "PrinterCondition",
    "PrinterStatus",
    "parse_job_attributes",
    "parse_printer_attributes",
]
