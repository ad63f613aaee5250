# SPDX-License-Identifier: Apache-2.0
"""``myna-edge verifier --workers N``: N server processes on one port, one supervisor.

Why processes: one Python process serves gRPC on one core (the GIL), and the
service is CPU-bound at the gRPC layer (issue 18). Each worker is a whole
``VerifierServer`` (its own event loop, gRPC server, health service,
sweeper and storage connections) listening with ``SO_REUSEPORT`` on the same
address, and the kernel spreads incoming connections over them. All state
is in the database, so any worker can serve any call: on PostgreSQL as for
replicas; on SQLite (WAL) the workers share the file, one writer at a time
across processes (``SqliteStorage`` takes a file lock around each group
commit, so a waiting worker sleeps in the kernel, not in SQLite's busy
loop), and each keeps its own group commit.

The supervisor (the process started by the CLI) serves nothing. It
migrates the database once, reserves the port (a bound socket with
``SO_REUSEPORT`` that never listens, so ``:0`` resolves to one port for all
and the port stays ours while a worker restarts), spawns the workers (never
forks: gRPC does not survive a fork), and waits. SIGTERM or SIGINT to the
supervisor is passed on as SIGTERM to every worker, which drains (health
NOT_SERVING, in-flight calls finish) and exits; one that lingers past the
grace is killed. A worker that dies on its own is logged with its exit code
and started again; too many deaths in a minute stop the whole service
(exit 1) instead of looping. A worker that cannot start because the
database is down at that moment (a PostgreSQL restart or fail-over) is no
such death: the supervisor tries again with a backoff doubling from 0.25 s
to at most 5 s until the database answers or it is told to stop. A worker
dies with its supervisor (Linux ``PR_SET_PDEATHSIG``), so killing the
supervisor leaves no stray server.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Final

from verifier.config import VerifierConfig
from verifier.errors import ConfigError, StorageUnavailableError, VerifierError

__all__ = ["WorkerPool", "default_workers", "reserve_port"]

_log = logging.getLogger(__name__)

#: More deaths than this within ``_DEATH_WINDOW`` seconds stop the service.
_MAX_DEATHS: Final = 5
_DEATH_WINDOW: Final = 60.0
_PR_SET_PDEATHSIG: Final = 1
#: Backoff between starts of a worker while the database is down (seconds).
_RETRY_FIRST: Final = 0.25
_RETRY_MAX: Final = 5.0


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def reserve_port(listen: str) -> tuple[socket.socket, str]:
    """A bound, never-listening ``SO_REUSEPORT`` socket on ``listen``, and the resolved address.

    Raises:
        ConfigError: the address does not parse or cannot be bound.
    """
    host, _, port_text = listen.rpartition(":")
    if not host or not port_text.isdigit():
        raise ConfigError(f"listen address {listen!r} must be host:port")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host.strip("[]"), int(port_text), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(f"cannot resolve {listen!r}: {exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {listen}: {exc}") from exc
    return sock, f"{host}:{sock.getsockname()[1]}"


@dataclass(frozen=True)
class _Logging:
    """The supervisor's log level and format, for the spawned workers (picklable)."""

    level: int
    fmt: str | None


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its supervisor dies (a crash stays a crash)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


def _worker_main(config: VerifierConfig, logs: _Logging, ready: Connection) -> None:
    """A spawned worker: serve until SIGTERM, telling the supervisor when it listens."""
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:  # the supervisor died before the request took effect
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor passes SIGTERM on
    logging.basicConfig(level=logs.level, format=logs.fmt or logging.BASIC_FORMAT)
    try:
        asyncio.run(_serve_worker(config, ready))
    except VerifierError as exc:
        # The database being down is worth another try; anything else is not.
        kind = "unavailable" if isinstance(exc, StorageUnavailableError) else "error"
        with contextlib.suppress(OSError):
            ready.send((kind, str(exc)))
        raise SystemExit(1) from exc
    finally:
        ready.close()


async def _serve_worker(config: VerifierConfig, ready: Connection) -> None:
    from verifier.server import VerifierServer

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    server = VerifierServer(config, worker=True)
    port = await server.start()
    ready.send(("ready", port))
    await stopping.wait()
    await server.stop(drain=config.shutdown_drain_seconds)


class WorkerPool:
    """N worker processes serving ``config.listen`` together; ``start``, ``supervise``, ``stop``."""

    def __init__(self, config: VerifierConfig, workers: int, *, grace: float = 5.0) -> None:
        if workers < 1:
            raise ConfigError("--workers must be at least 1")
        self.config = config
        self.size = workers
        self.grace = grace
        self.port = 0
        self._reserved: socket.socket | None = None
        self._reserved_operator: socket.socket | None = None
        #: The operator listener's port, which every worker serves (0: not configured).
        self.operator_port = 0
        self._workers: list[BaseProcess | None] = [None] * workers
        self._context = multiprocessing.get_context("spawn")
        self._deaths: deque[float] = deque()
        self._stopping = threading.Event()
        #: Workers started again after they died (figures for tests and logs).
        self.restarts = 0
        #: Worker starts refused because the database was down (each retried).
        self.start_retries = 0

    @property
    def pids(self) -> list[int]:
        """The live workers' process ids."""
        return [w.pid for w in self._workers if w is not None and w.pid is not None]

    def start(self, timeout: float = 60.0) -> int:
        """Migrate, reserve the port, start every worker; returns the port once all listen.

        Raises:
            ConfigError: the address cannot be bound.
            VerifierError: a worker failed to start (the others are stopped).
        """
        from verifier.storage import open_storage

        open_storage(self.config.database).close()  # migrate once, not N times at once
        self._reserved, listen = reserve_port(self.config.listen)
        self.config = replace(self.config, listen=listen)
        self.port = int(listen.rpartition(":")[2])
        if self.config.operator is not None:  # every worker serves it, from the fleet table
            self._reserved_operator, where = reserve_port(self.config.operator.listen)
            operator = replace(self.config.operator, listen=where)
            self.config = replace(self.config, operator=operator)
            self.operator_port = int(where.rpartition(":")[2])
        try:
            for index in range(self.size):
                self._spawn(index, timeout)
        except BaseException:
            self.stop()
            raise
        return self.port

    def _spawn(self, index: int, timeout: float) -> None:
        root = logging.getLogger()
        fmt = (
            root.handlers[0].formatter._fmt
            if root.handlers and root.handlers[0].formatter
            else None
        )
        theirs, ours = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_worker_main,
            args=(self.config, _Logging(root.getEffectiveLevel(), fmt), ours),
            name=f"verifier-worker-{index}",
        )
        process.start()
        ours.close()
        self._workers[index] = process
        try:
            if not theirs.poll(timeout):
                raise VerifierError(f"verifier worker {index} did not listen within {timeout} s")
            kind, body = theirs.recv()
        except EOFError:
            process.join(timeout=5)
            raise VerifierError(
                f"verifier worker {index} exited before listening (code {process.exitcode})"
            ) from None
        finally:
            theirs.close()
        if kind == "unavailable":
            process.join(timeout=5)
            raise StorageUnavailableError(f"verifier worker {index} failed: {body}")
        if kind != "ready":
            raise VerifierError(f"verifier worker {index} failed: {body}")
        _log.info("verifier worker %d (pid %s) listening on port %d", index, process.pid, body)

    def supervise(self, *, poll: float = 0.5, until: Callable[[], bool] | None = None) -> None:
        """Restart workers that die until ``stop`` (or ``until()``); returns when stopping.

        Raises:
            VerifierError: workers died more than 5 times in a minute (all are stopped).
        """
        while not self._stopping.is_set() and not (until is not None and until()):
            live = [w.sentinel for w in self._workers if w is not None]
            wait(live, timeout=poll)
            for index, process in enumerate(self._workers):
                if process is None or process.is_alive() or self._stopping.is_set():
                    continue
                self._restart(index, process)

    def _restart(self, index: int, process: BaseProcess) -> None:
        code = process.exitcode
        process.join()
        now = time.monotonic()
        self._deaths.append(now)
        while self._deaths and self._deaths[0] < now - _DEATH_WINDOW:
            self._deaths.popleft()
        if len(self._deaths) > _MAX_DEATHS:
            _log.error("verifier workers keep dying (%d in a minute): stopping", len(self._deaths))
            self._workers[index] = None
            self.stop()
            raise VerifierError("verifier workers keep dying; see the log")
        _log.warning(
            "verifier worker %d (pid %s) exited with code %s; starting it again",
            index,
            process.pid,
            code,
        )
        if not self._spawn_when_database_answers(index):
            return
        self.restarts += 1
        again = self._workers[index]
        _log.warning("verifier worker %d started again as pid %s", index, again and again.pid)

    def _spawn_when_database_answers(self, index: int) -> bool:
        """``_spawn``, again after a bounded backoff while the database is down.

        Why (replica campaign): a worker that dies while PostgreSQL restarts
        is started again while it is still down; giving up then stopped the
        whole service for good. Returns False if told to stop first.

        Raises:
            VerifierError: the worker failed for another reason.
        """
        delay = _RETRY_FIRST
        while True:
            try:
                self._spawn(index, 60.0)
                return True
            except StorageUnavailableError as exc:
                self.start_retries += 1
                _log.warning("%s; the database is down: trying again in %.2f s", exc, delay)
            if self._stopping.wait(delay):
                return False
            delay = min(delay * 2, _RETRY_MAX)

    def stop(self) -> None:
        """SIGTERM every worker, wait ``grace`` (+10 s) for them to drain, kill stragglers."""
        self._stopping.set()
        running = [w for w in self._workers if w is not None and w.is_alive()]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()  # SIGTERM: the worker drains and exits
        deadline = time.monotonic() + self.grace + 10.0
        for process in running:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                _log.warning("verifier worker pid %s did not stop; killing it", process.pid)
                process.kill()  # by its own handle
                process.join(timeout=10)
        for reserved in (self._reserved, self._reserved_operator):
            if reserved is not None:
                reserved.close()
        self._reserved = self._reserved_operator = None

    def exit_codes(self) -> list[int | None]:
        """Each worker's exit code (None while it runs, or if it never started)."""
        return [None if w is None else w.exitcode for w in self._workers]

    def request_stop(self, *_: Any) -> None:
        """A signal handler: make ``supervise`` return (call ``stop`` after it)."""
        self._stopping.set()
