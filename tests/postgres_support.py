# SPDX-License-Identifier: Apache-2.0
"""A throwaway PostgreSQL cluster for tests: initdb in a temp folder, 127.0.0.1, free port.

Why not a system service: ``make test`` must need nothing but installed
packages. The cluster runs as a non-root user (PostgreSQL refuses root:
under root we use the ``postgres`` system user via ``runuser``), listens
only on 127.0.0.1, and is stopped by its PID at the end. When the binaries
are missing the caller fails under CI=true and skips otherwise.
"""

from __future__ import annotations

import contextlib
import os
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

from tests.prerequisites import missing_prerequisite

__all__ = ["PG_BIN", "PostgresCluster", "postgres_cluster"]

PG_BIN = Path(os.environ.get("MYNA_EDGE_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresCluster:
    """A running cluster; ``new_database()`` gives each test its own database."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, folder: Path) -> None:
        self.process = process
        self.port = port
        self.folder = folder

    def url(self, database: str = "postgres") -> str:
        """A libpq URL for ``database`` (trust authentication on 127.0.0.1)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create a fresh database and return its URL."""
        name = "t_" + secrets.token_hex(6)
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        """Fast shutdown by PID, then kill if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


def _user() -> dict[str, object]:
    # PostgreSQL refuses to run as root: drop to the postgres system user. The
    # switch happens in the child itself (not through runuser), so the PID we
    # hold is the postmaster's and signals reach it.
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": [], "cwd": "/"}


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Start a cluster; fail under CI=true (skip otherwise) when PostgreSQL is missing."""
    if not (PG_BIN / "initdb").exists():
        missing_prerequisite(f"PostgreSQL binaries not found in {PG_BIN}")
    folder = Path(tempfile.mkdtemp(prefix="myna-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    subprocess.run(
        [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
         "--no-sync"],
        check=True,
        capture_output=True,
        **_user(),  # type: ignore[call-overload]
    )  # fmt: skip
    port = _free_port()
    process = subprocess.Popen(
        [str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port), "-k", str(folder),
         "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **_user(),  # type: ignore[call-overload]
    )  # fmt: skip
    cluster = PostgresCluster(process, port, folder)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(cluster.url(), connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield cluster
    finally:
        cluster.stop()
