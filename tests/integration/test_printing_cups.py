# SPDX-License-Identifier: Apache-2.0
"""The document printer through the real printing stack: CUPS and ``ippeveprinter``.

One engine (``hw_sim.printing.PrintEngine``: a private cupsd, an IPP
Everywhere queue, ``ippeveprinter`` as the MFP's print engine) serves the
module; each test leaves it reset (paper in, no jam, no armed fault). What
the printer received is read from its spool (``ippeveprinter -k``) and
compared byte for byte with what was sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import os
import socket
import time
from collections.abc import Iterator

import pytest
from fpdf import FPDF

from host.errors import PrinterUnavailableError
from host.flows.issuance_ports import PrintJob, PrintOutcome
from host.printing import CupsDocumentPrinter
from hw_sim.printing import EngineFault, PrintEngine, engine_tools
from tests.prerequisites import missing_prerequisite


@pytest.fixture(scope="module")
def print_engine() -> Iterator[PrintEngine]:
    """A running print engine for the module (cupsd + ippeveprinter + queue ``mfp``)."""
    missing = [tool for tool, path in engine_tools().items() if path is None]
    if missing:
        missing_prerequisite(f"print engine programs missing: {', '.join(missing)}")
    if importlib.util.find_spec("cups") is None:
        missing_prerequisite("pycups is not installed (the printing extra)")
    with PrintEngine() as engine:
        yield engine


@pytest.fixture
def engine(print_engine: PrintEngine) -> Iterator[PrintEngine]:
    yield print_engine
    print_engine.reset()


def _document(label: str) -> bytes:
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.cell(text=f"certificate {label}")
    # Bytes a filter would rewrite (the PDF's own binary comment, an odd tail).
    return bytes(pdf.output()) + b"%\xe2\xe3\xcf\xd3\n" + os.urandom(16)


def _print(
    url: str, pdf: bytes, *, title: str, timeout: float = 20.0
) -> tuple[PrintJob, list[str]]:
    statuses: list[str] = []

    async def on_status(state: str) -> None:
        statuses.append(state)

    async def scenario() -> PrintJob:
        async with CupsDocumentPrinter(url, on_status=on_status) as printer:
            return await printer.print_document(pdf, title=title, timeout=timeout)

    return asyncio.run(scenario()), statuses


def test_document_arrives_byte_for_byte(engine: PrintEngine) -> None:
    pdf = _document("one")
    job, statuses = _print(engine.queue_url, pdf, title="op-bytes")
    assert job.outcome is PrintOutcome.COMPLETED
    assert job.sha256 == hashlib.sha256(pdf).digest()
    (received,) = [doc for doc in engine.received() if doc.name == "op-bytes"]
    assert received.data == pdf
    assert statuses[-1] == "online"


@pytest.mark.parametrize(
    ("fault", "state", "device"),
    [
        ("paper", "media-empty", "paper_out"),
        ("+media-jam", "media-jam", "jam"),
        ("+cover-open", "cover-open", "cover_open"),
    ],
)
def test_printer_fault_refuses_before_a_job(
    engine: PrintEngine, fault: str, state: str, device: str
) -> None:
    if fault == "paper":
        engine.set_paper(loaded=False)
    else:
        engine.set_reasons(fault)
    before = engine.received()
    statuses: list[str] = []

    async def on_status(status: str) -> None:
        statuses.append(status)

    async def scenario() -> None:
        async with CupsDocumentPrinter(engine.queue_url, on_status=on_status) as printer:
            await printer.print_document(_document(state), title="op-refused", timeout=20.0)

    with pytest.raises(PrinterUnavailableError) as caught:
        asyncio.run(scenario())
    assert caught.value.state == state
    assert statuses == [device]
    assert engine.received() == before, "nothing reached the printer"


def test_job_aborted_mid_print(engine: PrintEngine) -> None:
    engine.arm(EngineFault.ABORT)
    job, statuses = _print(engine.queue_url, _document("abort"), title="op-abort")
    assert job.outcome is PrintOutcome.ABORTED
    # The printer reported the jam with the failed job; the agent is told.
    assert statuses == ["jam"]


def test_job_that_never_completes_is_cancelled(engine: PrintEngine) -> None:
    import cups

    engine.arm(EngineFault.HANG)
    job, _ = _print(engine.queue_url, _document("hang"), title="op-hang", timeout=2.0)
    assert job.outcome is PrintOutcome.TIMED_OUT
    cups.setServer(f"127.0.0.1:{engine.cups_port}")
    connection = cups.Connection(host="127.0.0.1", port=engine.cups_port)
    attrs = connection.getJobAttributes(int(job.job_id), requested_attributes=["job-state"])
    assert attrs["job-state"] == 7, "CUPS shows the job canceled"  # IPP canceled


def test_printer_recovers_after_faults(engine: PrintEngine) -> None:
    engine.set_paper(loaded=False)
    engine.set_paper(loaded=True)
    job, _ = _print(engine.queue_url, _document("after"), title="op-after")
    assert job.outcome is PrintOutcome.COMPLETED


def _unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_cupsd_not_running_is_a_typed_error(print_engine: PrintEngine) -> None:
    url = f"ipp://127.0.0.1:{_unused_port()}/printers/mfp"
    with pytest.raises(PrinterUnavailableError, match="unreachable") as caught:
        _print(url, _document("nocups"), title="op-nocups")
    assert caught.value.state == "offline"


def test_unknown_queue_is_a_typed_error(engine: PrintEngine) -> None:
    url = f"ipp://127.0.0.1:{engine.cups_port}/printers/absent"
    with pytest.raises(PrinterUnavailableError, match="no usable queue") as caught:
        _print(url, _document("noqueue"), title="op-noqueue")
    assert caught.value.state == "offline"


def test_engine_processes_are_stopped_by_pid(print_engine: PrintEngine) -> None:
    del print_engine  # a second engine of its own, to stop
    engine = PrintEngine().start()
    pids = engine.pids()
    root = engine.root
    assert set(pids) == {"dbus", "ippeveprinter", "cupsd"}
    engine.stop()
    engine.stop()  # harmless twice
    deadline = time.monotonic() + 5.0
    alive = dict(pids)
    while alive and time.monotonic() < deadline:
        alive = {name: pid for name, pid in alive.items() if _running(pid)}
        time.sleep(0.05)
    assert alive == {}
    assert not root.exists()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0) until its parent reaps it: check its state.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return False
