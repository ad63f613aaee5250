# SPDX-License-Identifier: Apache-2.0
"""A private pcscd with a vpcd reader that only talks over 127.0.0.1.

Why: tests and demos need the real PC/SC daemon, but vpcd binds its port on
every interface (it has no bind-address setting) and a system pcscd may be
in the way. This runs ``pcscd -f`` (foreground) with ``-c DIR``, a private
reader.conf.d holding one vpcd reader on a chosen port, and stops it by PID.
When it may (root, ``unshare`` present) it starts pcscd in a fresh network
namespace with only loopback up: vpcd's "every interface" is then a private
loopback, nothing is reachable from outside, and the bridge dials into that
namespace from its own thread (``VpcdBridge(netns=...)``). PC/SC clients
are unaffected, because pcscd's socket is a path in the file system.

pcscd 1.9.9 has one fixed socket and PID file (``/run/pcscd/``), so only one
pcscd can run on a machine. Choice: refuse with ``PcscdBusyError`` when
another live pcscd holds the PID file, rather than reuse it — its reader
configuration is not ours, and tests must not touch a user's readers. A
pcscd started by this module for another run (its config folder carries
``PRIVATE_CONF_MARK``) is waited for up to ``busy_wait`` seconds, so
parallel test runs take turns. Without root there is no namespace and vpcd
listens on every interface of the host (only 127.0.0.1 is ever dialled).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Final

from hw_sim.errors import SimError
from hw_sim.lifecycle import StartStopABC

__all__ = [
    "PCSCD_PID_FILE",
    "PRIVATE_CONF_MARK",
    "VPCD_DRIVER",
    "PcscdBusyError",
    "PcscdProcess",
    "running_pcscd_pid",
    "write_reader_conf",
]

_log = logging.getLogger(__name__)

PCSCD_PID_FILE: Final = Path("/run/pcscd/pcscd.pid")
PCSCD_SOCKET: Final = Path("/run/pcscd/pcscd.comm")
VPCD_DRIVER: Final = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
_STOP_TIMEOUT_S: Final = 5.0
#: Folder-name part that marks a reader.conf.d as one of ours (``hw_sim.readers.stack``).
PRIVATE_CONF_MARK: Final = "myna-pcsc-"


class PcscdBusyError(SimError):
    """Another pcscd runs on this machine, or pcscd/vpcd is not installed."""


def running_pcscd_pid() -> int | None:
    """Return the PID of a live pcscd holding the PID file, else None."""
    try:
        # pcscd writes "PID\n" and a NUL.
        pid = int(PCSCD_PID_FILE.read_bytes().split()[0].strip(b"\x00"))
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def _is_private(pid: int) -> bool:
    """Whether pcscd ``pid`` runs a reader.conf.d this module wrote."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\x00")
    except OSError:
        return False
    return any(PRIVATE_CONF_MARK.encode() in part for part in argv)


def write_reader_conf(folder: Path, port: int, name: str = "Virtual PCD") -> Path:
    """Write a reader.conf.d with one vpcd reader (readers 0 and 1 on ``port``, +1)."""
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "vpcd"
    conf.write_text(
        f'FRIENDLYNAME "{name}"\n'
        f"DEVICENAME   /dev/null:0x{port:04X}\n"
        f"LIBPATH      {VPCD_DRIVER}\n"
        f"CHANNELID    0x{port:04X}\n",
        encoding="ascii",
    )
    return folder


class PcscdProcess(StartStopABC):
    """``pcscd -f`` with a private reader.conf.d; a context manager.

    Args:
        config_dir: a folder written by ``write_reader_conf``.
        log_path: where pcscd's output goes.
        isolate: run pcscd in its own network namespace; None = when root.
    """

    def __init__(self, config_dir: Path, log_path: Path, *, isolate: bool | None = None) -> None:
        self._config_dir = config_dir
        self._log_path = log_path
        if isolate is None:
            isolate = os.geteuid() == 0 and shutil.which("unshare") is not None
        self._isolate = isolate
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def isolated(self) -> bool:
        """Whether pcscd runs (or will run) in its own network namespace."""
        return self._isolate

    @property
    def netns(self) -> Path | None:
        """The network namespace pcscd (and vpcd) live in, when isolated."""
        if not self._isolate or self._process is None:
            return None
        return Path(f"/proc/{self._process.pid}/ns/net")

    @property
    def pid(self) -> int | None:
        """The daemon's PID while it runs."""
        return None if self._process is None else self._process.pid

    def start(self, ready_timeout: float = 10.0, busy_wait: float = 0.0) -> PcscdProcess:
        """Start pcscd and wait until its socket answers.

        Args:
            ready_timeout: how long pcscd may take to come up.
            busy_wait: how long to wait for another *private* pcscd (one this
                module started, e.g. a parallel test run) to go away; a system
                pcscd is never waited for.

        Raises:
            PcscdBusyError: pcscd is missing, another one runs, or it died.
        """
        binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
        if not Path(binary).exists() or not VPCD_DRIVER.exists():
            raise PcscdBusyError("pcscd or vpcd is not installed (pcscd, vsmartcard-vpcd)")
        deadline = time.monotonic() + busy_wait
        while True:
            other = running_pcscd_pid()
            if other is None:
                try:
                    return self._launch(binary, ready_timeout)
                except PcscdBusyError:
                    # Lost a start race with another run: wait for it like for any other.
                    if time.monotonic() >= deadline or running_pcscd_pid() is None:
                        raise
                    continue
            if time.monotonic() >= deadline or not _is_private(other):
                raise PcscdBusyError(
                    f"another pcscd (PID {other}) runs on this machine; stop it first "
                    "(tests never reuse a pcscd whose readers are not theirs)"
                )
            time.sleep(0.2)

    def _launch(self, binary: str, ready_timeout: float) -> PcscdProcess:
        argv = [binary, "-f", "-c", str(self._config_dir)]
        if self._isolate:
            # unshare and sh exec in place, so the PID is pcscd's.
            script = 'ip link set lo up && exec "$@"'
            argv = ["unshare", "--net", "--", "sh", "-c", script, "sh", *argv]
        with self._log_path.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell input
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise PcscdBusyError(f"pcscd exited with {code}; see {self._log_path}")
            if PCSCD_SOCKET.exists() and running_pcscd_pid() == self._process.pid:
                _log.info("pcscd %d ready", self._process.pid)
                return self
            time.sleep(0.05)
        self.stop()
        raise PcscdBusyError(f"pcscd did not become ready; see {self._log_path}")

    def stop(self) -> None:
        """Stop pcscd by PID (SIGTERM, then SIGKILL); harmless when stopped."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(_STOP_TIMEOUT_S)
        # A killed pcscd leaves its files behind, which would block the next one.
        if running_pcscd_pid() is None:
            for leftover in (PCSCD_PID_FILE, PCSCD_SOCKET):
                with contextlib.suppress(OSError):
                    leftover.unlink()
