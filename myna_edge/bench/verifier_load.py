# SPDX-License-Identifier: Apache-2.0
"""The load generator of ``myna-edge bench verifier``: a spawned client process.

Why a separate process: in one process the load generator steals the
server's CPU and GIL, so the figures measured the client as much as the
service. The echo ceiling and the services are driven by the same client
process the same way (one channel, N concurrent callers, a warm-up before
each measured run; the prepared requests frozen out of the cyclic garbage
collector's reach, ``gc.freeze``). At every run's start and end the client waits for the
server process to read its own CPU clock, so each run is charged the
server's CPU time per call (``server_cpu_us_per_call``) and, on SQLite, the
calls per group commit (``units_per_commit``). The process is spawned, never
forked (gRPC does not survive a fork), and is killed by its own handle if it
does not finish in time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import multiprocessing
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any, Final

import grpc
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, utils

from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from verifier.canonical import TransferFields, card_challenge_digest, statement_digest

__all__ = [
    "CONCURRENCY",
    "ECHO_METHOD",
    "TERMINAL",
    "LoadSpec",
    "RequestFactory",
    "drive",
    "drive_from_child",
    "process_cpu_seconds",
    "summarise",
]

#: Callers in flight; the report plots throughput against these.
CONCURRENCY: Final = (1, 2, 4, 8, 16, 32)
TERMINAL: Final = "bench-atm"
ECHO_METHOD: Final = "/myna.bench.Echo/Echo"


class RequestFactory:
    """Channels and ready-made requests, shared by the rig and the load process."""

    credentials: grpc.ChannelCredentials
    auth_key: Any
    sign_key: Any
    auth_der: bytes
    sign_der: bytes

    def channel(self, port: int) -> grpc.aio.Channel:
        """A client channel (create inside the client's event loop)."""
        options = (("grpc.ssl_target_name_override", "localhost"),)
        return grpc.aio.secure_channel(f"127.0.0.1:{port}", self.credentials, options=options)

    @staticmethod
    async def _sessions(stub: pb_grpc.VerifierServiceStub, purpose: int, n: int) -> list[Any]:
        limit = asyncio.Semaphore(8)  # prepared ahead, not measured: just be quick

        async def one(i: int) -> Any:
            async with limit:
                return await stub.OpenSession(  # type: ignore[misc]
                    pb.OpenSessionRequest(
                        purpose=purpose,  # type: ignore[arg-type]
                        idempotency_key=f"o{purpose}-{time.monotonic_ns()}-{i}",
                    )
                )

        return list(await asyncio.gather(*(one(i) for i in range(n))))

    async def verify_requests(self, stub: pb_grpc.VerifierServiceStub, n: int) -> list[Any]:
        """``n`` ready VerifyCard requests (sessions opened, nonces signed)."""
        out = []
        for session in await self._sessions(stub, pb.SESSION_PURPOSE_CARD_VERIFICATION, n):
            digest = card_challenge_digest(
                "SESSION_PURPOSE_CARD_VERIFICATION", TERMINAL, session.nonce
            )
            signature = self.auth_key.sign(
                digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
            )
            out.append(
                pb.VerifyCardRequest(
                    session_id=session.session_id,
                    terminal_id=TERMINAL,
                    proof=pb.CardProof(certificate_der=self.auth_der, signature=signature),
                    idempotency_key=f"v-{session.session_id}",
                )
            )
        return out

    async def transfer_requests(self, stub: pb_grpc.VerifierServiceStub, n: int) -> list[Any]:
        """``n`` ready AuthorizeTransfer requests over the threshold, with proof."""
        out = []
        for session in await self._sessions(stub, pb.SESSION_PURPOSE_TRANSFER, n):
            fields = TransferFields(
                session.nonce, TERMINAL, 300_000, "0001", "001", 1, "1234567",
                "ヤマダ　ハナコ", "ヤマダ　タロウ", "0312345678",
            )  # fmt: skip
            signature = self.sign_key.sign(
                statement_digest(fields), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
            )
            out.append(
                pb.AuthorizeTransferRequest(
                    session_id=session.session_id,
                    statement=pb.TransferStatement(**dataclasses.asdict(fields)),
                    identity_proof=pb.CardProof(certificate_der=self.sign_der, signature=signature),
                    idempotency_key=f"t-{session.session_id}",
                )
            )
        return out


async def _timed(
    call: Callable[[Any], Awaitable[Any]], requests: list[Any], inflight: int
) -> tuple[list[float], float]:
    """Per-call latencies and the wall time of ``requests`` sent ``inflight`` at a time."""
    latencies: list[float] = []
    queue = list(reversed(requests))

    async def worker() -> None:
        while queue:
            request = queue.pop()
            start = time.perf_counter()
            await call(request)
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(inflight)))
    return latencies, time.perf_counter() - start


def summarise(latencies: list[float], elapsed: float, inflight: int) -> dict[str, float]:
    """Throughput, p50/p99 and the mean latency Little's law implies."""
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        "calls": len(ordered),
        "per_second": round(len(ordered) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(p99 * 1000, 3),
        # Little's law: what the mean latency must be at this throughput.
        "littles_law_mean_ms": round(inflight * elapsed / len(ordered) * 1000, 3),
    }


async def drive(
    call: Callable[[Any], Awaitable[Any]], requests: list[Any], inflight: int
) -> dict[str, float]:
    """Send ``requests`` with ``inflight`` concurrent callers; their figures."""
    latencies, elapsed = await _timed(call, requests, inflight)
    return summarise(latencies, elapsed, inflight)


@dataclasses.dataclass(frozen=True)
class LoadSpec:
    """Everything the client process needs (picklable: bytes and ints only)."""

    port: int
    echo_port: int
    ca_pem: bytes
    key_pem: bytes
    certificate_pem: bytes
    auth_key_pem: bytes
    sign_key_pem: bytes
    auth_der: bytes
    sign_der: bytes
    calls: int
    #: The in-flight levels to run (the worker comparison runs only the ends).
    levels: tuple[int, ...] = CONCURRENCY


class _Client(RequestFactory):
    """The client half of ``BenchRig`` inside the load process."""

    def __init__(self, spec: LoadSpec) -> None:
        self.port, self.echo_port = spec.port, spec.echo_port
        self.credentials = grpc.ssl_channel_credentials(
            spec.ca_pem, spec.key_pem, spec.certificate_pem
        )
        self.auth_key = serialization.load_pem_private_key(spec.auth_key_pem, None)
        self.sign_key = serialization.load_pem_private_key(spec.sign_key_pem, None)
        self.auth_der, self.sign_der = spec.auth_der, spec.sign_der


async def _measure(
    client: _Client, calls: int, mark: Callable[[str], None], levels: tuple[int, ...] = CONCURRENCY
) -> dict[str, Any]:
    """Each target at every ``CONCURRENCY`` level: a warm-up, then ``calls`` measured calls.

    The targets take turns in blocks (echo, VerifyCard, AuthorizeTransfer,
    echo, ...), so a burst of noise from elsewhere on the machine hits the
    ceiling and the services alike instead of skewing one ratio. ``mark``
    tells the server process where each block starts and ends, so it can
    charge its own CPU time to the target.
    """
    figures: dict[str, Any] = {}
    async with (
        client.channel(client.port) as channel,
        client.channel(client.echo_port) as echo_channel,
    ):
        stub = pb_grpc.VerifierServiceStub(channel)
        echo: Any = echo_channel.unary_unary(ECHO_METHOD)
        payload = b"\x00" * 1200  # about a VerifyCardRequest's size
        for inflight in levels:
            n, warm = max(calls, inflight * 4), inflight * 2
            block = max(inflight * 8, 64)
            runs: list[tuple[str, Callable[[Any], Awaitable[Any]], list[Any]]] = [
                (f"echo_{inflight}", echo, [payload] * (n + warm)),
                (f"verify_card_{inflight}", stub.VerifyCard,
                 await client.verify_requests(stub, n + warm)),
                (f"authorize_transfer_{inflight}", stub.AuthorizeTransfer,
                 await client.transfer_requests(stub, n + warm)),
            ]  # fmt: skip
            # The requests (thousands of messages) live until the level ends: hide them and
            # everything before them from the cyclic collector, so the client's own full
            # collections do not stall its callers and show up as server latency.
            gc.collect()
            gc.freeze()
            for _, call, requests in runs:
                await _timed(call, requests[:warm], inflight)
            totals: dict[str, tuple[list[float], float]] = {name: ([], 0.0) for name, _, _ in runs}
            for offset in range(warm, n + warm, block):
                for name, call, requests in runs:
                    mark(f"start {name}")
                    latencies, elapsed = await _timed(
                        call, requests[offset : min(offset + block, n + warm)], inflight
                    )
                    mark(f"end {name}")
                    done, spent = totals[name]
                    totals[name] = (done + latencies, spent + elapsed)
            for name, (latencies, elapsed) in totals.items():
                figures[name] = summarise(latencies, elapsed, inflight)
            del runs
            gc.unfreeze()  # the level's requests go; the next level freezes its own
    return figures


def _load_process(spec: LoadSpec, conn: Connection) -> None:
    """Entry point of the client process: drive the load, send the figures back."""

    def mark(what: str) -> None:
        conn.send(("mark", what))
        conn.recv()  # the server's acknowledgement: it has read its CPU clock

    try:
        figures = asyncio.run(_measure(_Client(spec), spec.calls, mark, spec.levels))
        figures["load_process"] = {"pid": os.getpid()}
        conn.send(("done", figures))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises
        conn.send(("error", repr(exc)))
    finally:
        conn.close()


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a live process has used, from ``/proc``; 0 if unreadable."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive_from_child(
    spec: LoadSpec,
    storage: object,
    timeout: float = 600.0,
    *,
    cpu_clock: Callable[[], float] = time.process_time,
) -> tuple[dict[str, Any], int]:
    """Run the load in a spawned process; charge the server's CPU (``cpu_clock``) per run.

    ``storage`` is the served verifier's storage: a SQLite one counts its
    group commits, which each run reports as ``units_per_commit``.
    ``cpu_clock`` is this process's CPU time unless the servers run
    elsewhere (worker processes). The client process's own CPU per call is
    reported too (``client_cpu_us_per_call``): on a small machine it is the
    share of the cores the servers did not get.

    Raises:
        TimeoutError: the load process did not finish within ``timeout``.
        RuntimeError: the load process failed (its error is in the message).
    """
    context = multiprocessing.get_context("spawn")  # never fork a process running gRPC
    parent, child = context.Pipe()
    process = context.Process(target=_load_process, args=(spec, child))
    process.start()
    child.close()
    # Per target: this process's CPU seconds, SQLite group-commit units and commits.
    spent: dict[str, list[float]] = {}
    started: list[float] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            if not parent.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError("the load process did not finish in time")
            try:
                kind, body = parent.recv()
            except EOFError:
                raise RuntimeError("the load process failed: it exited without figures") from None
            if kind == "mark":
                edge, name = body.split(" ", 1)
                now = [
                    cpu_clock(),
                    float(getattr(storage, "group_units", 0)),
                    float(getattr(storage, "group_commits", 0)),
                    process_cpu_seconds(process.pid or 0),
                ]
                if edge == "start":
                    started = now
                else:
                    total = spent.setdefault(name, [0.0, 0.0, 0.0, 0.0])
                    for i, value in enumerate(now):
                        total[i] += value - started[i]
                parent.send("ok")
            elif kind == "done":
                break
            else:
                raise RuntimeError(f"the load process failed: {body}")
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()  # by its own handle: only the process we started
            process.join(timeout=10)
        parent.close()
    figures: dict[str, Any] = body
    load_pid: int = figures.pop("load_process")["pid"]
    for name, run in figures.items():
        cpu, units, commits, client = spent[name]
        run["server_cpu_us_per_call"] = round(cpu / run["calls"] * 1e6, 1)
        run["client_cpu_us_per_call"] = round(client / run["calls"] * 1e6, 1)
        if commits:
            run["units_per_commit"] = round(units / commits, 2)
    return figures, load_pid
