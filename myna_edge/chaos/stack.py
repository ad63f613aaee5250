# SPDX-License-Identifier: Apache-2.0
"""The real stack as separate processes a campaign can SIGKILL and restart.

Why processes and not threads: a crash test proves something only when the
crash is real. ``ChaosStack`` writes a ``verifier.toml`` (SQLite, mTLS,
the simulator's exported test PKI) and a ``terminal.toml`` (ATM profile,
virtual card, receipt printer emulator on a pty, the controller board's
real firmware under the MicroPython unix port with an injected key), then
runs ``myna-edge verifier`` and ``myna-edge agent`` as child processes on
127.0.0.1 (a free port picked once and kept, so a restarted verifier is
found where the agent expects it) and a Unix socket. Both can be killed
with SIGKILL by PID and restarted on the same database and journal any
number of times; ``close`` kills whatever still runs, by PID. The simulated
devices live in this process and outlive agent restarts, as hardware does.
Every wait is bounded by a deadline.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, Literal

import grpc

from host.peripherals import BoardKey, Controller
from host.private_files import write_private
from host.transport.sim import sim_trust_dir
from hw_sim.devices import SimController, SimPrinter
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from verifier.config import TlsConfig
from verifier.tls import ensure_tls_material, issue_terminal_certificate

__all__ = ["ROOT", "ChaosStack", "StackError", "free_port", "wait_verifier_online"]

_log = logging.getLogger(__name__)

#: The repository root (the children run ``python -m myna_edge`` from here).
ROOT: Final = Path(__file__).resolve().parents[2]
_START_DEADLINE: Final = 30.0  # seconds for a process to start serving


def wait_verifier_online(
    stub: tpb_grpc.TerminalServiceStub, deadline: float, alive: Callable[[], bool]
) -> Literal["ready", "exited", "timeout"]:
    """Poll an agent's GetStatus until it reports the verifier online (its recovery ran).

    Bounded by ``deadline`` (``time.monotonic()``); "exited" as soon as ``alive()``
    says the agent process is gone.
    """
    while time.monotonic() < deadline:
        if not alive():
            return "exited"
        try:
            status = stub.GetStatus(tpb.GetStatusRequest(), timeout=1)
        except grpc.RpcError:
            time.sleep(0.05)
            continue
        states = {d.device: d.state for d in status.devices}
        if states.get("verifier") == tpb.DEVICE_STATE_ONLINE:
            return "ready"
        time.sleep(0.05)
    return "timeout"


class StackError(RuntimeError):
    """A process of the stack did not start, or exited when it should not have."""


def stop_process(
    process: subprocess.Popen[bytes], timeout: float, sig: int = signal.SIGTERM
) -> int | None:
    """Ask a child to stop (``sig``, by PID), SIGKILL it if it outlasts ``timeout``.

    Harmless when it has ended. Returns its exit code.
    """
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return process.returncode


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-800:]
    except OSError:
        return ""


class ChaosStack:
    """Verifier and agent processes plus simulated devices under ``workdir``; a context manager.

    Args:
        workdir: where configs, databases, journals and logs go (kept).
        terminal_id: the ATM's id (its mTLS certificate's CN).
        recovery_answer_seconds: how long start-up recovery waits for the
            ATM application's "did the cash move?" answer.
        printer: attach the receipt printer emulator.
        policy: extra ``[policy]`` lines for the verifier (TOML values).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        terminal_id: str = "atm-01",
        recovery_answer_seconds: float = 10.0,
        printer: bool = True,
        policy: dict[str, float | int] | None = None,
    ) -> None:
        self.workdir = workdir
        self.terminal_id = terminal_id
        self._answer_seconds = recovery_answer_seconds
        self._with_printer = printer
        self._policy = dict(policy or {})
        self.port = 0
        self.socket = workdir / "agent.sock"
        self.database = workdir / "verifier.sqlite"
        self.journal = workdir / "journal.sqlite"
        self.pad: SimController | None = None
        self.printer: SimPrinter | None = None
        self.verifier: subprocess.Popen[bytes] | None = None
        self.agent: subprocess.Popen[bytes] | None = None
        #: True from an agent start until ``wait_agent_ready`` saw it ready.
        self.agent_fresh = False
        self.started: list[subprocess.Popen[bytes]] = []  # every child, for close()
        self._stack = contextlib.ExitStack()

    # --- set-up ----------------------------------------------------------------

    def open(self) -> ChaosStack:
        """Write the configs and start the simulated devices (not the processes).

        Raises:
            MicroPythonMissingError: the MicroPython unix port is not installed.
        """
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.pad = self._stack.enter_context(SimController())
            key = BoardKey.generate()
            with Controller(self.pad.url, key=key) as controller:
                controller.inject_key(key)
            write_private(self.workdir / "board.key", key.material().hex().encode("ascii"))
            if self._with_printer:
                self.printer = self._stack.enter_context(SimPrinter(self.workdir / "receipts"))
            self.port = free_port()
            self._write_configs()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _write_configs(self) -> None:
        tls = TlsConfig(directory=self.workdir / "tls")
        ensure_tls_material(tls)
        trust = sim_trust_dir("sim://default")
        policy = "".join(f"{k} = {v!r}\n" for k, v in self._policy.items())
        (self.workdir / "verifier.toml").write_text(
            f'listen = "127.0.0.1:{self.port}"\ndatabase = "sqlite:///{self.database}"\n'
            f'trust_dir = "{trust}"\n\n[tls]\ndirectory = "tls"\n\n[policy]\n{policy}',
            encoding="utf-8",
        )
        issued = issue_terminal_certificate(tls, self.terminal_id)
        for name, data in (("ca.pem", issued.ca_pem), ("t.pem", issued.certificate_pem),
                           ("t.key", issued.key_pem)):  # fmt: skip
            write_private(self.workdir / name, data)  # owner-only: t.key is a private key
        assert self.pad is not None
        printer = f'printer = "{self.printer.url}"\n' if self.printer is not None else ""
        (self.workdir / "terminal.toml").write_text(
            f'profile = "atm"\nterminal_id = "{self.terminal_id}"\n'
            f'reader = "sim://default?persist=0"\n{printer}'
            f'controller = "{self.pad.url}"\ncontroller_key = "board.key"\n'
            f'listen = "unix:{self.socket}"\njournal = "{self.journal}"\n'
            f'electronic_journal = "ej.txt"\n'
            f"recovery_answer_seconds = {self._answer_seconds}\n\n"
            f'[verifier]\ntarget = "127.0.0.1:{self.port}"\nca = "ca.pem"\n'
            f'certificate = "t.pem"\nkey = "t.key"\n',
            encoding="utf-8",
        )

    def __enter__(self) -> ChaosStack:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Kill every child still running (by PID), then stop the devices; harmless twice."""
        for proc in self.started:
            self._kill(proc)
        self.started.clear()
        self.verifier = self.agent = None
        self._stack.close()

    # --- processes ---------------------------------------------------------------

    def _spawn(
        self, argv: list[str], log_name: str, env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        with (self.workdir / log_name).open("ab") as log:
            # One marker per start: the log of every incarnation stays readable.
            hook = env.get("MYNA_EDGE_TEST_KILL_AT", "")
            log.write(f"=== start #{len(self.started) + 1} {argv[0]} {hook}\n".encode())
            log.flush()
            proc = subprocess.Popen(  # noqa: S603 - our own CLI
                [sys.executable, "-m", "myna_edge", "-v", *argv],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip
        self.started.append(proc)
        return proc

    def _env(self) -> dict[str, str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("MYNA_EDGE_TEST_KILL_AT", None)
        return env

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes] | None) -> None:
        if proc is None:
            return
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def start_verifier(self) -> None:
        """Start ``myna-edge verifier`` on the stack's port and wait until it accepts TCP.

        Raises:
            StackError: it exited or did not listen within the deadline.
        """
        if self.verifier is not None and self.verifier.poll() is None:
            raise StackError("the verifier is already running")
        argv = ["verifier", "--config", str(self.workdir / "verifier.toml")]
        self.verifier = proc = self._spawn(argv, "verifier.log", self._env())
        deadline = time.monotonic() + _START_DEADLINE
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = _tail(self.workdir / "verifier.log")
                raise StackError(f"the verifier exited with {proc.returncode}: {tail}")
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.02)
        raise StackError("the verifier did not listen in time")

    def kill_verifier(self) -> bool:
        """SIGKILL the verifier; False when it was not running."""
        proc, self.verifier = self.verifier, None
        alive = proc is not None and proc.poll() is None
        self._kill(proc)
        return alive

    def start_agent(self, kill_at: str = "") -> None:
        """Start ``myna-edge agent`` (``kill_at`` arms the journal crash hook); don't wait."""
        if self.agent is not None and self.agent.poll() is None:
            raise StackError("the agent is already running")
        env = self._env()
        if kill_at:
            env["MYNA_EDGE_TEST_KILL_AT"] = kill_at
        argv = ["agent", "--config", str(self.workdir / "terminal.toml")]
        self.agent = self._spawn(argv, "agent.log", env)
        self.agent_fresh = True

    def kill_agent(self) -> bool:
        """SIGKILL the agent; False when it was not running (e.g. the hook killed it)."""
        proc, self.agent = self.agent, None
        alive = proc is not None and proc.poll() is None
        self._kill(proc)
        return alive

    def stop_agent(self) -> int:
        """Stop the agent with SIGTERM (clean shutdown); its exit status.

        Raises:
            StackError: it did not exit within 10 s (it is then killed).
        """
        proc, self.agent = self.agent, None
        if proc is None:
            return 0
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._kill(proc)
            raise StackError("the agent did not stop on SIGTERM") from None

    def agent_alive(self) -> bool:
        """Whether the agent process runs."""
        return self.agent is not None and self.agent.poll() is None

    def wait_agent_ready(self, stub: tpb_grpc.TerminalServiceStub, timeout: float = 30.0) -> None:
        """Until the agent's API answers with the verifier online (recovery ran before).

        Raises:
            StackError: the agent exited, or was not ready within ``timeout``.
        """
        outcome = wait_verifier_online(stub, time.monotonic() + timeout, self.agent_alive)
        if outcome == "exited":
            raise StackError(f"the agent exited during start-up: {self._agent_tail()}")
        if outcome == "timeout":
            raise StackError(f"the agent was not ready in time: {self._agent_tail()}")
        self.agent_fresh = False

    def _agent_tail(self) -> str:
        return _tail(self.workdir / "agent.log")
