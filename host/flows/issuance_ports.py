# SPDX-License-Identifier: Apache-2.0
"""The certificate-issuance flow's ports: the payment device and the document printer.

Why ports: the MFP flow (``host.flows.issue``) must not know whether the fee
goes into a ccTalk coin acceptor or a test double, or whether the document
goes to CUPS or to a list in memory, exactly as the card is a ``CardPort``.
Each real backend lives in ``host.peripherals`` (the payment device) or
``host.printing`` (CUPS), and its failures are the typed errors named here,
so the flow decides refund or retry from a type, never from a message.

The rule the flow keeps with them (issue 14): charged if and only if
printed. The fee is held in escrow (``PaymentPort.collect``, while the
document is requested) before anything prints, taken (``PaymentPort.take``)
only after the printer has reported the job complete, and refunded
(``PaymentPort.refund``) otherwise. Every method is idempotent for one ``payment_id``: a flow that
resumes after a crash asks again and gets the same answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

__all__ = [
    "DocumentPrinterPort",
    "Escrow",
    "PaymentPort",
    "PaymentProgress",
    "PrintJob",
    "PrintOutcome",
]


@dataclass(frozen=True, slots=True)
class Escrow:
    """Money held for one payment, neither taken nor given back yet.

    Attributes:
        payment_id: the flow's id for this payment (its journal operation id).
        fee_yen: what the resident was asked for.
        inserted_yen: what the device holds (≥ ``fee_yen``; the excess is
            change, paid out by ``take`` or with the refund).
    """

    payment_id: str
    fee_yen: int
    inserted_yen: int


class PaymentPort(Protocol):
    """A coin/bill acceptor with an escrow: collect, then take or refund.

    Errors: ``host.errors.PaymentTimeoutError`` (the resident did not pay in
    time: whatever was inserted is returned before it is raised),
    ``host.errors.PaymentCancelledError`` (cancelled while paying; inserted
    money returned), ``host.errors.PaymentDeviceError`` (the device failed;
    the flow refunds and the operator is told).
    """

    async def collect(self, *, payment_id: str, fee_yen: int, timeout: float) -> Escrow:
        """Wait until at least ``fee_yen`` is inserted and hold it in escrow."""
        ...

    async def take(self, escrow: Escrow) -> int:
        """Keep the fee and pay out the change; returns the change in yen."""
        ...

    async def refund(self, escrow: Escrow) -> int:
        """Give back everything inserted; returns the yen returned."""
        ...


@runtime_checkable
class PaymentProgress(Protocol):
    """A payment device that reports money as it goes in (optional, beside ``PaymentPort``).

    Why apart: a screen shows the amount in and what is missing, but a
    device that cannot say so still collects; the flow asks only when the
    port has it.
    """

    def watch(self, on_inserted: Callable[[int], None] | None) -> None:
        """Call ``on_inserted(total_yen)`` after each insertion during ``collect``; None stops."""
        ...


class PrintOutcome(StrEnum):
    """How a print job ended, as the print engine reported it."""

    COMPLETED = "completed"
    #: The printer aborted or cancelled the job (jam, paper out mid-job).
    ABORTED = "aborted"
    #: No final state within the timeout: the job may still print; the flow
    #: treats it as not printed, cancels it, and refunds.
    TIMED_OUT = "timed_out"


@dataclass(frozen=True, slots=True)
class PrintJob:
    """One document handed to the print engine.

    Attributes:
        job_id: the engine's id (IPP ``job-id`` as text).
        outcome: how it ended.
        sha256: SHA-256 of the bytes the engine accepted (the centre compares
            it with the document it issued).
    """

    job_id: str
    outcome: PrintOutcome
    sha256: bytes


class DocumentPrinterPort(Protocol):
    """The MFP's print engine for A4 documents (PDF).

    Errors: ``host.errors.PrinterUnavailableError`` before a job exists
    (paper out, cover open, jam, offline: nothing was printed).
    """

    async def print_document(self, pdf: bytes, *, title: str, timeout: float) -> PrintJob:
        """Print ``pdf`` once and wait for the job's final state."""
        ...
