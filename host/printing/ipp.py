# SPDX-License-Identifier: Apache-2.0
"""``CupsDocumentPrinter``: the MFP's document printer as a CUPS queue (pycups).

Device: any printer behind a CUPS queue; the MFP's own engine is an IPP
Everywhere printer (tests and the demo run CUPS's ``ippeveprinter``, see
``hw_sim.printing``). URL grammar: the queue's own IPP URI,
``ipp://HOST[:PORT]/printers/QUEUE`` (port 631 by default).

========================  =====================================================
capability                how
========================  =====================================================
submit a PDF unchanged    Create-Job + Send-Document as ``application/vnd.cups-raw``
wait for the final state  Get-Job-Attributes every ``poll_interval`` seconds
give up                   Cancel-Job when ``timeout`` runs out (``TIMED_OUT``)
paper, jam, cover state   Get-Printer-Attributes of the queue and of the device
========================  =====================================================

Why pycups (OpenPrinting's binding of libcups, PyPI ``pycups``): CUPS's own
client library speaks CUPS's dialect (queues, Create-Job on
``/printers/NAME``, job ids that survive a cupsd restart), with nothing
hand-rolled; the pure-Python IPP clients on PyPI (``pyipp``, ``aioipp``)
target printer monitoring and lack document submission, and running ``lp``
and ``lpstat`` would mean parsing localised text.

Quirks:

- libcups keeps its server in per-thread globals and ``cupsCreateJob``
  ignores the connection's host, so the single worker thread sets the
  server once (``cups.setServer``) before its first request.
- Raw submission: CUPS runs no filter, so the device receives exactly the
  bytes the centre authorised (the test compares them with what
  ``ippeveprinter -k`` kept). The queue must have
  ``printer-error-policy=abort-job``: with CUPS's default ``stop-printer`` a
  failed job stops the queue, and ``retry-job`` could print a resident's
  certificate after they left.
- A CUPS queue learns its device's paper and cover state only while a job
  runs, and keeps the last reasons after it (a jam cleared since still
  shows), so when the queue's ``device-uri`` is ``ipp://`` or ``ipps://``
  the check before a job asks the device itself and takes from the queue
  only its own state (stopped, not accepting jobs).
- The job title is visible in CUPS job lists and logs: pass an operation id,
  never a name or a document kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType, TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

from host.errors import PrinterUnavailableError
from host.flows.issuance_ports import PrintJob, PrintOutcome
from host.printing.states import (
    PrinterCondition,
    PrinterStatus,
    parse_job_attributes,
    parse_printer_attributes,
)

__all__ = ["CupsDocumentPrinter"]

_log = logging.getLogger(__name__)

#: Raw: CUPS hands the file to the backend untouched (no pdftopdf, no raster).
_RAW_FORMAT: Final = "application/vnd.cups-raw"
_PRINTER_ATTRIBUTES: Final = [
    "printer-state",
    "printer-state-reasons",
    "printer-is-accepting-jobs",
    "device-uri",
]
#: What the queue itself decides (CUPS ``cupsdisable`` and ``cupsreject``).
_QUEUE_OWN: Final = ("printer-state", "printer-is-accepting-jobs")
_JOB_ATTRIBUTES: Final = ["job-state", "job-state-reasons"]
#: IPP status server-error-not-accepting-jobs (RFC 8011 §13.1.5.7).
_NOT_ACCEPTING: Final = 0x0506


def _pycups() -> ModuleType:
    try:
        # The optional library, loaded on first use (pycups ships no type stubs).
        return importlib.import_module("cups")
    except ImportError as exc:
        raise PrinterUnavailableError(
            "pycups is not installed (pip install 'myna-edge[printing]')", state="offline"
        ) from exc


def _parse_url(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    segments = parts.path.strip("/").split("/")
    if parts.scheme != "ipp" or not parts.hostname or len(segments) != 2:
        raise ValueError(f"not a CUPS queue URI (ipp://HOST[:PORT]/printers/QUEUE): {url!r}")
    if segments[0] != "printers" or not segments[1]:
        raise ValueError(f"not a CUPS queue URI (ipp://HOST[:PORT]/printers/QUEUE): {url!r}")
    return parts.hostname, parts.port or 631, segments[1]


class CupsDocumentPrinter:
    """A ``DocumentPrinterPort`` over a CUPS queue.

    Args:
        url: the queue, ``ipp://HOST[:PORT]/printers/QUEUE``.
        poll_interval: seconds between job-state queries.
        on_status: told the printer's condition (``online``, ``paper_out``,
            ``jam``, ``cover_open``, ``offline``) after each check and job;
            the agent turns it into a device-status event.

    Raises:
        ValueError: ``url`` is not a CUPS queue URI, or ``poll_interval`` ≤ 0.
    """

    def __init__(
        self,
        url: str,
        *,
        poll_interval: float = 0.1,
        on_status: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self.url = url
        self._host, self._port, self.queue = _parse_url(url)
        self._poll_interval = poll_interval
        self._on_status = on_status
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cups")
        self._closed = False

    def __repr__(self) -> str:
        return f"CupsDocumentPrinter({self.url!r})"

    # --- worker thread -------------------------------------------------------

    def _connect(self) -> Any:
        cups = _pycups()
        # Per-thread in libcups; cupsCreateJob reads it (see the module's quirks).
        cups.setServer(f"{self._host}:{self._port}")
        try:
            return cups.Connection(host=self._host, port=self._port)
        except RuntimeError as exc:  # pycups: "failed to connect to server"
            raise PrinterUnavailableError(
                f"CUPS at {self._host}:{self._port} is unreachable", state="offline"
            ) from exc

    def _device_status(self, device_uri: object) -> PrinterStatus | None:
        """The IPP device's own state, or ``None`` for a device that is not IPP."""
        if not isinstance(device_uri, str) or urlsplit(device_uri).scheme not in ("ipp", "ipps"):
            return None
        cups = _pycups()
        parts = urlsplit(device_uri)
        try:
            device = cups.Connection(host=parts.hostname, port=parts.port or 631)
            attrs = device.getPrinterAttributes(
                uri=device_uri, requested_attributes=_PRINTER_ATTRIBUTES
            )
        except (RuntimeError, cups.IPPError, cups.HTTPError) as exc:
            raise PrinterUnavailableError(
                "the printer behind the queue does not answer", state="offline"
            ) from exc
        return parse_printer_attributes(attrs)

    def _check(self) -> PrinterStatus:
        cups = _pycups()
        connection = self._connect()
        try:
            attrs = connection.getPrinterAttributes(
                self.queue, requested_attributes=_PRINTER_ATTRIBUTES
            )
        except (cups.IPPError, cups.HTTPError) as exc:
            raise PrinterUnavailableError(
                f"CUPS has no usable queue {self.queue!r}", state="offline"
            ) from exc
        device = self._device_status(attrs.get("device-uri"))
        if device is None:  # no live source: the queue's reasons are all there is
            return parse_printer_attributes(attrs)
        # The queue keeps the device's reasons from its last job (a jam cleared
        # since still shows), so with the device at hand only the queue's own
        # state counts: stopped, or not accepting jobs.
        admin = {name: attrs.get(name) for name in _QUEUE_OWN}
        queue = parse_printer_attributes(admin)
        return queue if queue.condition is not PrinterCondition.READY else device

    def _submit(self, connection: Any, pdf: bytes, title: str) -> int:
        cups = _pycups()
        try:
            job_id = int(connection.createJob(self.queue, title, {}))
        except (cups.IPPError, cups.HTTPError) as exc:
            state = "not-accepting-jobs" if _ipp_status(exc) == _NOT_ACCEPTING else "offline"
            raise PrinterUnavailableError("CUPS refused the job", state=state) from exc
        try:
            connection.startDocument(self.queue, job_id, title, _RAW_FORMAT, 1)
            connection.writeRequestData(pdf, len(pdf))
            connection.finishDocument(self.queue)
        except (cups.IPPError, cups.HTTPError) as exc:
            self._cancel(connection, job_id)
            raise PrinterUnavailableError(
                "CUPS did not take the document", state="offline"
            ) from exc
        return job_id

    def _cancel(self, connection: Any, job_id: int) -> None:
        cups = _pycups()
        try:
            connection.cancelJob(job_id)
        except (cups.IPPError, cups.HTTPError) as exc:
            # Already final (it completed just now) or CUPS is gone: nothing to undo.
            _log.warning("cancel of job %d refused: %s", job_id, exc)

    def _wait(self, connection: Any, job_id: int, deadline: float) -> PrintOutcome:
        cups = _pycups()
        while True:  # bounded by the deadline
            try:
                attrs = connection.getJobAttributes(job_id, requested_attributes=_JOB_ATTRIBUTES)
            except (cups.IPPError, cups.HTTPError) as exc:
                _log.warning("job %d state query failed: %s", job_id, exc)
                attrs = {}
            status = parse_job_attributes(attrs)
            outcome = status.state.outcome
            if outcome is not None:
                _log.info("job %d %s (%s)", job_id, status.state.name, ",".join(status.reasons))
                return outcome
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _log.warning("job %d not final in time; cancelling", job_id)
                self._cancel(connection, job_id)
                return PrintOutcome.TIMED_OUT
            time.sleep(min(self._poll_interval, remaining))

    def _print(self, pdf: bytes, title: str, timeout: float) -> PrintJob:
        deadline = time.monotonic() + timeout
        status = self._check()
        if status.condition is not PrinterCondition.READY:
            raise PrinterUnavailableError(
                f"the printer cannot print: {status.reason}", state=status.reason
            )
        connection = self._connect()
        job_id = self._submit(connection, pdf, title)
        outcome = self._wait(connection, job_id, deadline)
        if outcome is PrintOutcome.COMPLETED and not self._device_agrees(connection):
            _log.warning("job %d: CUPS says completed, the device reports a fault", job_id)
            outcome = PrintOutcome.ABORTED
        return PrintJob(job_id=str(job_id), outcome=outcome, sha256=hashlib.sha256(pdf).digest())

    def _device_agrees(self, connection: Any) -> bool:
        """Whether an IPP device is still ready after a job CUPS reports completed.

        Why: when the device aborts a job right after receiving it, CUPS's
        ``ipp`` backend sometimes marks the job completed (job-state 9) though
        the device aborted it (seen 3 in 24 aborts against ``ippeveprinter``;
        found by ``myna-edge chaos issuance``): charged without paper. The MFP
        prints one job at a time, so a jam or paper-out on the device right
        after our job is our job's.
        """
        cups = _pycups()
        try:
            attrs = connection.getPrinterAttributes(self.queue, requested_attributes=["device-uri"])
            device = self._device_status(attrs.get("device-uri"))
        except (cups.IPPError, cups.HTTPError, PrinterUnavailableError):
            return False  # unknown: not printed (refund) is the safe side
        return device is None or device.condition is PrinterCondition.READY

    # --- the port -----------------------------------------------------------

    async def _run(self, call: Callable[[], Any]) -> Any:
        if self._closed:
            raise PrinterUnavailableError("the document printer is closed", state="offline")
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def check(self) -> PrinterStatus:
        """The printer's condition now (queue, then device), reported to ``on_status``.

        Raises:
            PrinterUnavailableError: CUPS, the queue or the device does not answer
                (``state="offline"``).
        """
        try:
            status: PrinterStatus = await self._run(self._check)
        except PrinterUnavailableError:
            await self._report(PrinterCondition.OFFLINE)
            raise
        await self._report(status.condition)
        return status

    async def print_document(self, pdf: bytes, *, title: str, timeout: float) -> PrintJob:
        """Print ``pdf`` once, unchanged, and wait up to ``timeout`` seconds for the end.

        Returns:
            The job, ``COMPLETED``, ``ABORTED`` (the printer aborted it, or
            someone cancelled it) or ``TIMED_OUT`` (cancelled by us), with
            the SHA-256 of ``pdf``.

        Raises:
            ValueError: ``pdf`` is empty or ``timeout`` ≤ 0.
            PrinterUnavailableError: the printer cannot take a job; ``state`` is
                the blocking printer-state-reasons keyword (``media-empty``,
                ``media-jam``, ``door-open``/``cover-open``, ``offline``...).
                No job exists.
        """
        if not pdf:
            raise ValueError("empty document")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        try:
            job: PrintJob = await self._run(lambda: self._print(pdf, title, timeout))
        except PrinterUnavailableError as exc:
            await self._report(_condition_of(exc.state))
            raise
        # After the job, the device's state says whether it jammed or ran out.
        if job.outcome is not PrintOutcome.COMPLETED:
            with contextlib.suppress(PrinterUnavailableError):  # reported as offline by check()
                await self.check()
        else:
            await self._report(PrinterCondition.READY)
        return job

    async def _report(self, condition: PrinterCondition) -> None:
        if self._on_status is not None:
            await self._on_status(condition.value)

    async def aclose(self) -> None:
        """Stop the worker thread; harmless twice."""
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _ipp_status(exc: Exception) -> int | None:
    """The IPP status code of a ``cups.IPPError`` (its first argument)."""
    code = exc.args[0] if exc.args else None
    return code if isinstance(code, int) else None


def _condition_of(state: str) -> PrinterCondition:
    """The device status for a ``PrinterUnavailableError.state`` keyword."""
    condition = parse_printer_attributes({"printer-state-reasons": [state]}).condition
    # not-accepting-jobs and the like are not printer-state-reasons keywords.
    return PrinterCondition.OFFLINE if condition is PrinterCondition.READY else condition
