# SPDX-License-Identifier: Apache-2.0
"""A throwaway PostgreSQL cluster: initdb in a temp folder, 127.0.0.1, free port, restartable.

Why not a system service: ``make test`` and ``myna-edge chaos`` must need
nothing but installed packages. The cluster runs as a non-root user
(PostgreSQL refuses root: under root ``setpriv`` switches to the ``postgres``
system user and execs, so the PID held is the postmaster's), listens only on
127.0.0.1, and is stopped by that PID. ``restart()`` is what an operator's
``pg_ctl restart -m fast`` does — SIGINT (fast shutdown: sessions are
terminated, in-flight transactions rolled back), then the same data folder
on the same port — so the replicas' reconnect path is exercised for real.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

from myna_edge.chaos.stack import stop_process

__all__ = ["PG_BIN", "PostgresCluster", "free_port", "postgres_cluster"]

_log = logging.getLogger(__name__)

PG_BIN = Path(os.environ.get("MYNA_EDGE_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _ephemeral_low() -> int:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text(encoding="ascii")
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A free TCP port on 127.0.0.1 *below* the ephemeral range, kept across restarts.

    Why not ``bind(0)``: that port is ephemeral, and while its server is
    down (a restart) the clients' reconnects to it — from ephemeral ports —
    can connect to themselves (TCP simultaneous open) and hold the port,
    so the server cannot bind it again.
    """
    low = _ephemeral_low()
    rng = random.SystemRandom()
    for _ in range(200):  # bounded
        port = rng.randrange(10_000, max(low, 10_001))
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(argv: list[str]) -> list[str]:
    """``argv`` run as the ``postgres`` user when we are root (PostgreSQL refuses root).

    ``setpriv`` switches user and then execs, so the PID we hold is the
    postmaster's and signals reach it. Not ``Popen(user=...)``: that forbids
    vfork, and a plain fork() in a process with gRPC threads runs gRPC's
    fork handlers in the child, which crashed it now and then (SIGSEGV).
    """
    if os.geteuid() != 0:
        return argv
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups", "--", *argv]


class PostgresCluster:
    """A running cluster; ``new_database()`` gives each user its own database."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.data = folder / "data"
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def url(self, database: str = "postgres") -> str:
        """A libpq URL for ``database`` (trust authentication on 127.0.0.1)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create a fresh database and return its URL."""
        name = "t_" + secrets.token_hex(6)
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def start_server(self, timeout: float = 30) -> None:
        """Start the postmaster on ``data`` and wait until it accepts connections."""
        with (self.folder / "postgres.log").open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell input
                _as_postgres([str(PG_BIN / "postgres"), "-D", str(self.data),
                              "-p", str(self.port), "-k", str(self.folder),
                              "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"]),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd="/",
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:  # bounded by the deadline
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop_server(self) -> None:
        """Fast shutdown by PID (``pg_ctl stop -m fast``), then kill if it lingers."""
        if self.process is not None:
            stop_process(self.process, timeout=20, sig=signal.SIGINT)

    def restart(self, pause: float = 0.0) -> float:
        """Fast shutdown, ``pause`` s, start on the same folder and port; returns seconds down."""
        started = time.monotonic()
        self.stop_server()
        time.sleep(pause)
        self.start_server()
        self.restarts += 1
        down = time.monotonic() - started
        _log.info("PostgreSQL restarted in %.2f s", down)
        return down

    def stop(self) -> None:
        """Stop the server and delete its folder; harmless twice."""
        self.stop_server()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Start a cluster for the block, stop it (by PID) and delete it after.

    Raises:
        FileNotFoundError: the PostgreSQL binaries are not in ``PG_BIN``
            (``MYNA_EDGE_PG_BIN`` overrides it).
        subprocess.CalledProcessError, psycopg.OperationalError: it did not start.
    """
    if not (PG_BIN / "initdb").exists():
        raise FileNotFoundError(f"PostgreSQL binaries not found in {PG_BIN}")
    folder = Path(tempfile.mkdtemp(prefix="myna-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    cluster = PostgresCluster(folder, free_port())
    try:
        subprocess.run(  # noqa: S603 - fixed argv, no shell input
            _as_postgres([str(PG_BIN / "initdb"), "-D", str(cluster.data), "-A", "trust",
                          "-U", "postgres", "-E", "UTF8", "--no-sync"]),
            check=True, capture_output=True, cwd="/",
        )  # fmt: skip
        cluster.start_server()
        yield cluster
    finally:
        cluster.stop()
