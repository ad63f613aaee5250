# SPDX-License-Identifier: Apache-2.0
"""Verifier replicas as real processes on one PostgreSQL, and the terminals' configuration.

Why real ``myna-edge verifier`` processes: a replica that is SIGKILLed must
drop its connections, its in-flight calls and its database sessions the
way a crashed machine does, which a thread cannot. Each replica keeps its
port across restarts (the agents' target list is fixed), writes its log
(INFO: one access line per call, with ``retry=N`` on gRPC retries) to its
own file, and is stopped or killed by its PID; every wait is bounded.
The trust material is the simulator's test PKI and a terminal CA in the
work folder; both replicas share one server certificate (TLS name
``localhost``), as replicas behind one service name do.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import grpc

from host.private_files import write_private
from host.transport.sim import sim_trust_dir
from hw_sim.card import open_card
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from myna_edge.chaos.pgcluster import free_port
from myna_edge.chaos.stack import stop_process, wait_verifier_online
from verifier.config import TlsConfig
from verifier.tls import ensure_tls_material, issue_terminal_certificate

__all__ = [
    "SERVER_NAME",
    "AgentProcess",
    "ReplicaError",
    "Trust",
    "VerifierReplica",
    "prepare_trust",
    "terminal_toml",
]

_log = logging.getLogger(__name__)

#: The repository root (the children run ``python -m myna_edge`` from here).
ROOT: Final = Path(__file__).resolve().parents[2]
#: The TLS name of the replicas' shared server certificate.
SERVER_NAME: Final = "localhost"
_START_DEADLINE: Final = 30.0
_RPC_LINE: Final = re.compile(
    r" /myna\.edge\.v1\.VerifierService/(\w+) (\w+) [\d.]+ ms( retry=\d+)?"
)


class ReplicaError(RuntimeError):
    """A verifier replica did not start, or exited when it should not have."""


@dataclass(frozen=True)
class Trust:
    """The verifier's trust folder and TLS material, made once per campaign."""

    trust_dir: Path
    tls: TlsConfig


def prepare_trust(workdir: Path) -> Trust:
    """Make sure the test card and PKI exist, export the trust folder, make the TLS material."""
    with open_card("default", persist=False):  # creates the card's certificates if needed
        pass
    tls = TlsConfig(directory=workdir / "tls")
    ensure_tls_material(tls)
    return Trust(sim_trust_dir("sim://"), tls)


def terminal_toml(
    trust: Trust, folder: Path, terminal_id: str, addresses: list[str], journal: str
) -> Path:
    """A terminal.toml (ATM profile, virtual card) whose verifier is every replica."""
    folder.mkdir(parents=True, exist_ok=True)
    issued = issue_terminal_certificate(trust.tls, terminal_id)
    for name, data in (("ca.pem", issued.ca_pem), ("t.pem", issued.certificate_pem),
                       ("t.key", issued.key_pem)):  # fmt: skip
        write_private(folder / name, data)  # owner-only: t.key is a private key
    targets = ", ".join(f'"{a}"' for a in addresses)
    path = folder / "terminal.toml"
    path.write_text(
        f'profile = "atm"\nterminal_id = "{terminal_id}"\nreader = "sim://default?persist=0"\n'
        f'listen = "unix:{folder}/agent.sock"\njournal = "{journal}"\n'
        f'electronic_journal = "ej.txt"\nrecovery_answer_seconds = 0\n\n'
        f'[verifier]\ntargets = [{targets}]\nserver_name = "{SERVER_NAME}"\n'
        f'ca = "ca.pem"\ncertificate = "t.pem"\nkey = "t.key"\ntimeout = 5\n',
        encoding="utf-8",
    )
    return path


class VerifierReplica:
    """One ``myna-edge verifier`` process on a fixed port; restartable, killable by PID."""

    def __init__(self, name: str, workdir: Path, trust: Trust, database: str) -> None:
        self.name = name
        self.port = free_port()  # kept across restarts: the agents' targets are fixed
        self.address = f"127.0.0.1:{self.port}"
        self.log_path = workdir / f"verifier-{name}.log"
        self.config = workdir / f"verifier-{name}.toml"
        self.config.write_text(
            f'listen = "{self.address}"\ndatabase = "{database}"\n'
            f'trust_dir = "{trust.trust_dir}"\n[tls]\ndirectory = "{trust.tls.directory}"\n',
            encoding="utf-8",
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        """Start the process and wait until it listens.

        Raises:
            ReplicaError: it exited or did not listen within the deadline.
        """
        mark = self.log_path.stat().st_size if self.log_path.exists() else 0
        environ = {**os.environ, "PYTHONPATH": str(ROOT)}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed argv
                # One process per replica (--workers 1): the campaign SIGKILLs a
                # replica by PID and restarts PostgreSQL under it; a supervisor whose
                # worker starts while the database is down exits for good (issue 18).
                [sys.executable, "-m", "myna_edge", "-v", "verifier", "--config",
                 str(self.config), "--workers", "1"],
                cwd=ROOT, env=environ, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip
        deadline = time.monotonic() + _START_DEADLINE
        while time.monotonic() < deadline:  # bounded
            with self.log_path.open("rb") as log:
                log.seek(mark)
                # The command's own line, printed once every worker listens (a
                # worker's "verifier listening" log line comes before that).
                if b"myna-edge verifier: listening on port" in log.read():
                    return
            if self.process.poll() is not None:
                raise ReplicaError(f"verifier {self.name} exited; see {self.log_path}")
            time.sleep(0.05)
        raise ReplicaError(f"verifier {self.name} did not listen within {_START_DEADLINE:.0f} s")

    def kill(self) -> None:
        """SIGKILL by PID (a crashed machine) and reap it."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.kills += 1
            _log.info("verifier %s killed", self.name)

    def stop(self) -> None:
        """SIGTERM by PID (drain), SIGKILL if it lingers; harmless twice."""
        if self.process is not None:
            stop_process(self.process, timeout=15)

    def served(self) -> dict[str, int]:
        """Calls logged so far: ``calls``, ``retries`` (gRPC retry attempts), ``unavailable``."""
        counts = {"calls": 0, "retries": 0, "unavailable": 0}
        if not self.log_path.exists():
            return counts
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            match = _RPC_LINE.search(line)
            if match is None:
                continue
            counts["calls"] += 1
            counts["retries"] += match[3] is not None
            counts["unavailable"] += match[2] == "UNAVAILABLE"
        return counts


class AgentProcess:
    """One terminal's agent (``myna_edge.chaos.replicas.agent``) as a process, stopped by PID."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.socket = config.parent / "agent.sock"
        self.log_path = config.parent / "agent.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until its API answers with the verifier online.

        Raises:
            ReplicaError: it exited or was not ready within the deadline.
        """
        environ = {**os.environ, "PYTHONPATH": str(ROOT)}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own module, fixed argv
                [sys.executable, "-m", "myna_edge.chaos.replicas.agent", "--config",
                 str(self.config)],
                cwd=ROOT, env=environ, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip
        process = self.process
        with grpc.insecure_channel(f"unix:{self.socket}") as channel:
            outcome = wait_verifier_online(
                tpb_grpc.TerminalServiceStub(channel),
                time.monotonic() + _START_DEADLINE,
                lambda: process.poll() is None,
            )
        if outcome == "exited":
            raise ReplicaError(f"agent exited; see {self.log_path}")
        if outcome == "ready":
            return
        raise ReplicaError(f"agent not ready within {_START_DEADLINE:.0f} s; see {self.log_path}")

    def stop(self) -> int | None:
        """SIGTERM by PID (the agent stops in order), SIGKILL if it lingers; its exit code."""
        return None if self.process is None else stop_process(self.process, timeout=20)
