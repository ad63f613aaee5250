# SPDX-License-Identifier: Apache-2.0
"""``PrintEngine``: a private CUPS with an IPP Everywhere printer, for tests and the demo.

Three processes, started here and stopped by PID (each in its own session,
so a job-processing child dies with its parent's group):

- ``ippeveprinter`` (Debian ``cups-ipp-utils``), CUPS's IPP Everywhere
  printer, on a free port of the loopback (it listens on ``127.0.0.1`` and
  ``::1``), keeping every document it receives (``-k``) and processing each
  with ``hw_sim.printing.command`` (the fault switch);
- ``cupsd`` with its own configuration, spool and log folders, listening on
  ``127.0.0.1`` only, with one queue (``mfp``) made by
  ``lpadmin -m everywhere`` and ``printer-error-policy=abort-job``;
- a private ``dbus-daemon``: Debian builds ``ippeveprinter`` with Avahi, and
  it exits ("Unable to initialize DNS-SD") when it has no D-Bus to talk to;
  with ``-r off`` it advertises nothing.

Faults: ``set_paper(False)`` empties the trays through ``ippeveprinter``'s
``/media`` form (``media-empty``); ``set_reasons`` sets or clears
``media-jam``/``cover-open`` with a control job sent straight to the printer
(only a job's program can change them); ``arm`` makes the next job abort or
never finish. Control jobs are named ``myna-engine-control`` and are not
among ``received()``.

Quirk: cupsd running as root runs the ``ipp`` backend as ``lp``, which must
reach the spool, so the engine's folder is a fresh ``0711`` folder under the
system temporary folder, not pytest's private one.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from hw_sim.printing.command import CONTROL_ENV, NEXT_JOB, RELEASE
from hw_sim.printing.configs import CONTROL_TEST, CUPS_FILES_CONF, CUPSD_CONF, STATE_TEST

__all__ = ["EngineFault", "PrintEngine", "PrintEngineError", "ReceivedDocument", "engine_tools"]

QUEUE: Final = "mfp"
CONTROL_JOB: Final = "myna-engine-control"
_TOOLS: Final = ("cupsd", "lpadmin", "ippeveprinter", "ipptool", "dbus-daemon")
_SBIN: Final = ("/usr/sbin", "/sbin")
_READY_TIMEOUT: Final = 10.0
_POLL: Final = 0.05
_TRAYS: Final = 4  # ippeveprinter's media-source-supported: auto, main, manual, by-pass-tray
_FULL_TRAY: Final = 250
_A4: Final = "iso_a4_210x297mm"
_JOB_FILE: Final = re.compile(r"^(\d+)-(.*)\.pdf$")


class PrintEngineError(RuntimeError):
    """The engine did not start, or a control step did not take effect."""


class EngineFault(StrEnum):
    """What the next job does (see ``hw_sim.printing.command``)."""

    #: Report media-jam and fail mid-print: the job ends ``aborted``.
    ABORT = "abort"
    #: Never finish (until ``release``): the job stays ``processing``.
    HANG = "hang"
    #: Wait until ``release``, then print: the job stays ``processing`` meanwhile.
    HOLD = "hold"


@dataclass(frozen=True, slots=True)
class ReceivedDocument:
    """A document the printer received, as it kept it (``ippeveprinter -k``)."""

    job_id: int
    name: str
    data: bytes


def engine_tools() -> dict[str, str | None]:
    """Each program the engine runs → its path, or ``None`` when missing."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
    return {tool: shutil.which(tool, path=path) for tool in _TOOLS}


def _free_port() -> int:
    """A TCP port free on both 127.0.0.1 and ::1 (ippeveprinter binds both)."""
    for _ in range(50):  # bounded: a busy loopback is a broken machine
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as v4:
            v4.bind(("127.0.0.1", 0))
            port: int = v4.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as v6:
                    v6.bind(("::1", port))
            except OSError:
                continue
            return port
    raise PrintEngineError("no free loopback port")


def _tail(log: Path) -> str:
    try:
        return log.read_text(encoding="utf-8", errors="replace")[-800:]
    except OSError:
        return ""


class PrintEngine:
    """The MFP's print engine: CUPS + ``ippeveprinter``; a context manager.

    Use ``queue_url`` for ``host.printing.CupsDocumentPrinter``. ``stop`` is
    harmless twice.
    """

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="myna-print-"))
        self.root.chmod(0o711)  # the ipp backend runs as lp under a root cupsd
        self.spool = self.root / "printer"
        self.control = self.root / "control"
        for folder in ("conf", "spool", "tmp", "cache", "state", "log", "printer", "control"):
            (self.root / folder).mkdir(mode=0o755)
        self._tools = engine_tools()
        self._processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.cups_port = 0
        self.printer_port = 0

    @property
    def queue_url(self) -> str:
        """The CUPS queue's IPP URI (``ipp://127.0.0.1:PORT/printers/mfp``)."""
        return f"ipp://127.0.0.1:{self.cups_port}/printers/{QUEUE}"

    @property
    def printer_uri(self) -> str:
        """The IPP Everywhere printer's URI (the queue's device)."""
        return f"ipp://127.0.0.1:{self.printer_port}/ipp/print"

    def _tool(self, name: str) -> str:
        path = self._tools.get(name)
        if path is None:
            raise PrintEngineError(f"{name} is not installed (see scripts/debian-packages.txt)")
        return path

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = self.root / "log" / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603 - our own argv, no shell
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self._processes.append((name, process))

    def _wait_listening(self, name: str, port: int) -> None:
        process = dict(self._processes)[name]
        log = self.root / "log" / f"{name}.log"
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise PrintEngineError(f"{name} exited ({process.returncode}): {_tail(log)}")
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(_POLL)
        raise PrintEngineError(f"{name} not listening on {port}: {_tail(log)}")

    def start(self) -> Self:
        """Start dbus-daemon, ippeveprinter and cupsd, and register the queue.

        Raises:
            PrintEngineError: a program is missing, exited or did not listen.
        """
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        bus = self.root / "bus"
        self._spawn(
            "dbus",
            [self._tool("dbus-daemon"), "--session", f"--address=unix:path={bus}", "--nofork"],
        )
        deadline = time.monotonic() + _READY_TIMEOUT
        while not bus.exists() and time.monotonic() < deadline:
            time.sleep(_POLL)
        command = self.root / "print-command"
        source_root = Path(__file__).resolve().parents[2]
        command.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m hw_sim.printing.command "$@"\n')
        command.chmod(0o755)
        env = {
            **os.environ,
            "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={bus}",
            CONTROL_ENV: str(self.control),
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(source_root), os.environ.get("PYTHONPATH")])
            ),
        }
        self.printer_port = _free_port()
        self._spawn(
            "ippeveprinter",
            [
                self._tool("ippeveprinter"),
                *("-p", str(self.printer_port), "-n", "localhost", "-r", "off"),
                *("-d", str(self.spool), "-k", "-c", str(command)),
                *("-f", "application/pdf", "-m", "Myna MFP", "MFP"),
            ],
            env,
        )
        self._wait_listening("ippeveprinter", self.printer_port)
        self.cups_port = _free_port()
        (self.root / "conf" / "cupsd.conf").write_text(CUPSD_CONF.format(port=self.cups_port))
        (self.root / "conf" / "cups-files.conf").write_text(CUPS_FILES_CONF.format(root=self.root))
        conf = self.root / "conf"
        self._spawn(
            "cupsd",
            [
                self._tool("cupsd"),
                "-f",
                "-c",
                str(conf / "cupsd.conf"),
                "-s",
                str(conf / "cups-files.conf"),
            ],
        )
        self._wait_listening("cupsd", self.cups_port)
        self._run(
            self._tool("lpadmin"),
            *("-h", f"127.0.0.1:{self.cups_port}", "-p", QUEUE, "-E"),
            *("-v", self.printer_uri, "-m", "everywhere"),
            *("-o", "printer-error-policy=abort-job"),
        )

    def _run(self, *argv: str) -> str:
        done = subprocess.run(  # noqa: S603 - our own argv, no shell
            argv, capture_output=True, text=True, timeout=_READY_TIMEOUT, check=False
        )
        if done.returncode != 0:
            raise PrintEngineError(f"{Path(argv[0]).name} failed: {done.stderr.strip()}")
        return done.stdout

    def pids(self) -> dict[str, int]:
        """Each running process's PID, by name."""
        return {name: process.pid for name, process in self._processes if process.poll() is None}

    def stop(self) -> None:
        """Stop cupsd, ippeveprinter and dbus-daemon by PID and remove the folder."""
        while self._processes:
            _name, process = self._processes.pop()  # cupsd first, dbus last
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=5)
            # The group: a job's program (or cupsd's backend) must not outlive it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)

    # --- faults -------------------------------------------------------------

    def arm(self, fault: EngineFault) -> None:
        """Make the next job ``fault`` (consumed by that job)."""
        (self.control / RELEASE).unlink(missing_ok=True)
        (self.control / NEXT_JOB).write_text(fault.value, encoding="ascii")

    def release(self) -> None:
        """Let a hung job end (it does not print) or a held one print."""
        (self.control / NEXT_JOB).unlink(missing_ok=True)
        (self.control / RELEASE).touch()

    def set_paper(self, *, loaded: bool) -> None:
        """Fill or empty every tray (``media-empty`` when empty), via the ``/media`` form."""
        level = _FULL_TRAY if loaded else 0
        query = "&".join(f"size{i}={_A4}&type{i}=&level{i}={level}" for i in range(_TRAYS))
        url = f"http://127.0.0.1:{self.printer_port}/media?{query}"
        with urllib.request.urlopen(url, timeout=_READY_TIMEOUT) as answer:
            answer.read()

    def state(self) -> tuple[str, frozenset[str]]:
        """The printer's ``printer-state`` and ``printer-state-reasons`` (ipptool)."""
        test = self.root / "state.test"
        test.write_text(STATE_TEST)
        out = self._run(self._tool("ipptool"), "-c", self._local_uri, str(test))
        rows = list(csv.reader(io.StringIO(out)))
        if len(rows) < 2 or len(rows[1]) < 2:
            raise PrintEngineError(f"unexpected ipptool answer: {out!r}")
        return rows[1][0], frozenset(rows[1][1].split(","))

    @property
    def _local_uri(self) -> str:
        # ipptool resolves "localhost" to ::1 or 127.0.0.1; the printer has both.
        return f"ipp://localhost:{self.printer_port}/ipp/print"

    def set_reasons(self, *changes: str) -> None:
        """Add (``+media-jam``) or remove (``-cover-open``) printer-state-reasons.

        A control job straight to the printer carries them (only a job's
        program can change them); returns once the printer is idle again.

        Raises:
            PrintEngineError: the control job was refused or not processed in time.
        """
        (self.control / NEXT_JOB).write_text("state:" + ",".join(changes), encoding="ascii")
        document = self.root / "control.pdf"
        document.write_bytes(b"%PDF-1.4\n%control\n%%EOF\n")
        test = self.root / "control.test"
        test.write_text(CONTROL_TEST)
        self._run(self._tool("ipptool"), "-f", str(document), self._local_uri, str(test))
        self._wait_idle(lambda: not (self.control / NEXT_JOB).exists())

    def _wait_idle(self, also: Callable[[], bool] = lambda: True) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if also() and self.state()[0] == "idle":
                return
            time.sleep(_POLL)
        raise PrintEngineError("the printer did not become idle")

    def reset(self) -> None:
        """Paper in, no jam or open cover, no armed fault, no hung job (between tests)."""
        self.release()
        self._wait_idle()
        self.set_paper(loaded=True)
        _, reasons = self.state()
        stuck = sorted(r.rsplit("-", 1)[0] for r in reasons if r != "none")
        if stuck:
            self.set_reasons(*(f"-{reason}" for reason in stuck))
        (self.control / RELEASE).unlink(missing_ok=True)

    def received(self, *, include_control: bool = False) -> list[ReceivedDocument]:
        """The documents the printer kept, by job id (control jobs left out)."""
        documents = []
        for path in self.spool.iterdir():
            match = _JOB_FILE.match(path.name)
            if match is None or (match[2] == CONTROL_JOB and not include_control):
                continue
            documents.append(ReceivedDocument(int(match[1]), match[2], path.read_bytes()))
        return sorted(documents, key=lambda doc: doc.job_id)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
