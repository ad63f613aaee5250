# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench capacity``: the national peak, the cores it needs, a load test at that peak.

Why a model and a load test together: a throughput figure alone says
nothing about whether a deployment is big enough. The model turns public
figures (cited in ``SOURCES``; what is an estimate says so) into peak calls
per second for each RPC; the load test offers that rate, open loop (Poisson
arrivals, so a slow answer does not slow the arrivals down), to one
verifier process on 127.0.0.1 and measures each RPC's p99 and the server's
CPU per call; ``cores_needed`` follows from the two. The SLO is derived in
docs/internals/benchmarks.md ("Capacity model"): p99 at most 100 ms per RPC at the server.

The load runs for a bounded time (``5 + min(rounds, 25)`` seconds, then at
most 30 s to drain) from a spawned client process (the same rig as
``myna-edge bench verifier``). The store is PostgreSQL (a throwaway
cluster) when installed, as in a deployment; else SQLite, and the report
says which. A figure, never a timed test assertion.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import multiprocessing
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from myna_edge.bench.verifier import BenchRig
from myna_edge.bench.verifier_load import TERMINAL, LoadSpec, _Client, process_cpu_seconds
from verifier.canonical import TransferFields, card_challenge_digest, statement_digest

__all__ = [
    "ASSUMPTIONS",
    "FLOWS",
    "SLO_P99_MS",
    "SOURCES",
    "Source",
    "capacity_suite",
    "national_peak",
]


@dataclass(frozen=True)
class Source:
    """A public figure the model starts from."""

    what: str
    value: float
    where: str


#: Public figures (docs/internals/benchmarks.md, "Capacity model", cites them in full).
SOURCES: Final = {
    "certificates_per_year": Source(
        "certificates issued at convenience stores, FY2023 (J-LIS via Kyodo, 2024-11)",
        31_890_000,
        "https://news.yahoo.co.jp/articles/96849696ddc61f2b46bf17409e85414bd4ff6e64",
    ),
    "issuing_locations": Source(
        "locations issuing certificates (same article)",
        55_000,
        "https://news.yahoo.co.jp/articles/96849696ddc61f2b46bf17409e85414bd4ff6e64",
    ),
    "zengin_transfers_per_day": Source(
        "interbank transfers per business day, average (Zengin-Net pamphlet, 2014)",
        5_600_000,
        "https://www.zengin-net.jp/zengin_net/pdf/pamphlet_j.pdf",
    ),
    "atms": Source(
        "ATMs in Japan, 2020 (IMF Financial Access Survey)",
        134_084,
        "IMF Financial Access Survey, data.imf.org",
    ),
}

#: Estimates (not published figures): each is a planning assumption.
ASSUMPTIONS: Final = {
    "certificate_growth": 2.0,  # planning margin over FY2023 (FY2022 -> FY2023 was x1.5)
    "certificate_peak_month": 1.6,  # March (moving, tax returns) over an average month
    "certificate_peak_hour_share": 0.12,  # busiest hour's share of the 06:30-23:00 day
    "certificate_burst": 2.0,  # busiest second over the busiest hour's mean
    "atm_share_of_transfers": 0.2,  # upper bound: transfers started at an ATM, all with a card
    "transfer_peak_day": 3.0,  # month-end / "gotobi" days over an average day
    "transfer_peak_hour_share": 0.15,  # busiest hour's share of such a day
    "transfer_burst": 1.5,  # busiest second over the busiest hour's mean
    "resets_per_year": 2_000_000,  # PIN resets at a kiosk (no public figure found)
}
#: The RPCs each flow makes (PIN-reset flows make two OpenSessions).
FLOWS: Final = {
    "certificate": {"OpenSession": 1, "VerifyCard": 1},
    "transfer": {"OpenSession": 1, "AuthorizeTransfer": 1, "CommitTransfer": 1},
    "pin_reset": {"OpenSession": 2, "ReserveReset": 1, "RedeemReset": 1, "ConfirmReset": 1},
}
#: Per-RPC p99 objective at the server (docs/internals/benchmarks.md derives it).
SLO_P99_MS: Final = 100.0
#: CPU utilisation a deployment is sized for (head-room keeps queues, hence p99, short).
TARGET_UTILISATION: Final = 0.5
_HOUR: Final = 3600.0


def national_peak() -> dict[str, dict[str, float]]:
    """Peak flows per second and the calls per second per RPC they make (the model)."""
    a, s = ASSUMPTIONS, SOURCES
    certificates = s["certificates_per_year"].value * a["certificate_growth"] / 365
    certificates *= a["certificate_peak_month"] * a["certificate_peak_hour_share"] / _HOUR
    transfers = s["zengin_transfers_per_day"].value * a["atm_share_of_transfers"]
    transfers *= a["transfer_peak_day"] * a["transfer_peak_hour_share"] / _HOUR
    resets = a["resets_per_year"] / 365 * a["certificate_peak_month"]
    resets *= a["certificate_peak_hour_share"] / _HOUR
    flows = {
        "certificate": certificates * a["certificate_burst"],
        "transfer": transfers * a["transfer_burst"],
        "pin_reset": resets * a["certificate_burst"],
    }
    calls: dict[str, float] = {}
    for flow, rate in flows.items():
        for rpc, count in FLOWS[flow].items():
            calls[rpc] = calls.get(rpc, 0.0) + rate * count
    return {
        "flows_per_s": {k: round(v, 2) for k, v in flows.items()},
        "calls_per_s": {k: round(v, 2) for k, v in calls.items()},
    }


# -- the load: a spawned client process -----------------------------------------------
def _sign(key: Any, digest: bytes) -> bytes:
    return bytes(key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())))


class _OpenLoop:
    """Issuance and transfer flows started at Poisson arrival times, each RPC timed."""

    def __init__(self, client: _Client, stub: pb_grpc.VerifierServiceStub) -> None:
        self.client, self.stub = client, stub
        self.latencies: dict[str, list[float]] = {}
        self.failures: dict[str, int] = {}
        self._keys = 0

    def _key(self) -> str:
        self._keys += 1
        return f"cap-{time.monotonic_ns()}-{self._keys}"

    async def _timed(self, rpc: str, call: Any, request: Any) -> Any:
        start = time.perf_counter()
        try:
            answer = await call(request, timeout=30)
        except Exception:
            self.failures[rpc] = self.failures.get(rpc, 0) + 1
            raise
        self.latencies.setdefault(rpc, []).append(time.perf_counter() - start)
        return answer

    async def _session(self, purpose: int) -> Any:
        request = pb.OpenSessionRequest(purpose=purpose, idempotency_key=self._key())  # type: ignore[arg-type]
        return await self._timed("OpenSession", self.stub.OpenSession, request)

    async def certificate(self) -> None:
        """A kiosk reading the card before issuing a certificate."""
        session = await self._session(pb.SESSION_PURPOSE_CARD_VERIFICATION)
        digest = card_challenge_digest("SESSION_PURPOSE_CARD_VERIFICATION", TERMINAL, session.nonce)
        signature = await asyncio.to_thread(_sign, self.client.auth_key, digest)
        proof = pb.CardProof(certificate_der=self.client.auth_der, signature=signature)
        request = pb.VerifyCardRequest(
            session_id=session.session_id, terminal_id=TERMINAL, proof=proof,
            idempotency_key=self._key(),
        )  # fmt: skip
        await self._timed("VerifyCard", self.stub.VerifyCard, request)

    async def transfer(self) -> None:
        """An ATM transfer over the threshold: authorise with the card, then commit."""
        session = await self._session(pb.SESSION_PURPOSE_TRANSFER)
        fields = TransferFields(
            session.nonce, TERMINAL, 300_000, "0001", "001", 1, "1234567",
            "ヤマダ　ハナコ", "ヤマダ　タロウ", "0312345678",
        )  # fmt: skip
        signature = await asyncio.to_thread(_sign, self.client.sign_key, statement_digest(fields))
        request = pb.AuthorizeTransferRequest(
            session_id=session.session_id,
            statement=pb.TransferStatement(**dataclasses.asdict(fields)),
            identity_proof=pb.CardProof(certificate_der=self.client.sign_der, signature=signature),
            idempotency_key=self._key(),
        )  # fmt: skip
        authorized = await self._timed("AuthorizeTransfer", self.stub.AuthorizeTransfer, request)
        commit = pb.CommitTransferRequest(
            authorization_id=authorized.authorization_id, idempotency_key=self._key()
        )
        await self._timed("CommitTransfer", self.stub.CommitTransfer, commit)


def _schedule(rates: dict[str, float], seconds: float, seed: int) -> list[tuple[float, str]]:
    """Poisson arrival times of each flow over ``seconds``, merged and sorted."""
    rng = random.Random(seed)  # noqa: S311 - load timing, not security
    arrivals = []
    for flow, rate in rates.items():
        at = rng.expovariate(rate) if rate > 0 else seconds
        while at < seconds:
            arrivals.append((at, flow))
            at += rng.expovariate(rate)
    return sorted(arrivals)


async def _offer(
    spec: LoadSpec, rates: dict[str, float], seconds: float, conn: Connection
) -> dict[str, Any]:
    client = _Client(spec)
    async with client.channel(spec.port) as channel:
        load = _OpenLoop(client, pb_grpc.VerifierServiceStub(channel))
        await load.certificate()  # warm: connection, certificate cache
        await load.transfer()
        load.latencies.clear()
        conn.send(("start", None))  # the server's CPU is charged from here
        conn.recv()
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        start, lag = loop.time(), 0.0
        for at, flow in _schedule(rates, seconds, seed=18):
            delay = start + at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            lag = max(lag, -delay)
            task = loop.create_task(getattr(load, flow)())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        elapsed = loop.time() - start
        if tasks:
            _, pending = await asyncio.wait(set(tasks), timeout=30)
            for task in pending:
                task.cancel()
    return {
        "latencies": load.latencies,
        "failures": load.failures,
        "elapsed_s": elapsed,
        "max_arrival_lag_ms": round(lag * 1000, 2),
    }


def _capacity_process(
    spec: LoadSpec, rates: dict[str, float], seconds: float, conn: Connection
) -> None:
    """Entry point of the client process: offer the load, send the figures back."""
    try:
        conn.send(("done", asyncio.run(_offer(spec, rates, seconds, conn))))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises
        conn.send(("error", repr(exc)))
    finally:
        conn.close()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


@contextlib.contextmanager
def _store() -> Iterator[tuple[str | None, str]]:
    """PostgreSQL (a throwaway cluster) when installed, else SQLite (None)."""
    from myna_edge.chaos.pgcluster import PG_BIN, postgres_cluster

    if not (PG_BIN / "initdb").exists():
        yield None, "sqlite"
        return
    with postgres_cluster() as cluster:
        yield cluster.new_database(), "postgresql"


def _load_test(rates: dict[str, float], seconds: float) -> dict[str, Any]:
    """Offer ``rates`` (flows/s) to one verifier process for ``seconds``; per-RPC figures."""
    with _store() as (database, store), tempfile.TemporaryDirectory(prefix="myna-cap-") as folder:
        rig = BenchRig(Path(folder), database)
        context = multiprocessing.get_context("spawn")  # never fork a process running gRPC
        parent, child = context.Pipe()
        process = context.Process(
            target=_capacity_process, args=(rig.load_spec(1), rates, seconds, child)
        )
        try:
            process.start()
            child.close()
            cpu, client_cpu, kind, body = 0.0, 0.0, "error", "no answer"
            while parent.poll(seconds + 120):  # bounded: the child stops by itself
                kind, body = parent.recv()
                now, client_now = time.process_time(), process_cpu_seconds(process.pid or 0)
                if kind != "start":
                    cpu, client_cpu = now - cpu, client_now - client_cpu
                    break
                cpu, client_cpu = now, client_now
                parent.send("go")
            else:
                raise TimeoutError("the capacity load did not finish in time")
        finally:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()  # by its own handle
                process.join(timeout=10)
            parent.close()
            rig.close()
    if kind != "done":
        raise RuntimeError(f"the capacity load failed: {body}")
    calls = sum(len(v) for v in body["latencies"].values())
    per_rpc = {
        rpc: {
            "calls": len(values),
            "per_second": round(len(values) / body["elapsed_s"], 2),
            "p50_ms": round(_percentile(values, 0.5) * 1000, 2),
            "p99_ms": round(_percentile(values, 0.99) * 1000, 2),
            "failures": body["failures"].get(rpc, 0),
        }
        for rpc, values in sorted(body["latencies"].items())
    }
    return {
        "store": store,
        "seconds": round(body["elapsed_s"], 1),
        "rpcs": per_rpc,
        "calls": calls,
        "server_cpu_us_per_call": round(cpu / max(calls, 1) * 1e6, 1),
        "client_cpu_us_per_call": round(client_cpu / max(calls, 1) * 1e6, 1),
        "max_arrival_lag_ms": body["max_arrival_lag_ms"],
    }


def capacity_suite(rounds: int) -> dict[str, object]:
    """The model's national peak, a bounded load test at it scaled to this machine, the cores.

    A short calibration run (a quarter of the national peak) measures the
    server's CPU per call; from it, the cores the national peak needs at
    ``TARGET_UTILISATION``. The measured run then offers the share of the
    national peak that one server core carries at that utilisation (this
    machine has one core for the server; the client takes the other), or the
    whole peak if it fits.
    """
    peak = national_peak()
    flows = peak["flows_per_s"]
    # PIN resets (< 1 flow/s nationally) are left out of the offered load.
    rates = {"certificate": flows["certificate"], "transfer": flows["transfer"]}
    total = sum(peak["calls_per_s"].values())
    calibration = _load_test({k: v / 4 for k, v in rates.items()}, seconds=3.0)
    cpu_us = calibration["server_cpu_us_per_call"]
    cores = total * cpu_us / 1e6 / TARGET_UTILISATION
    scale = min(1.0, 1.0 / cores)
    test = _load_test(
        {k: v * scale for k, v in rates.items()}, seconds=5.0 + min(max(rounds, 1), 25)
    )
    worst = max(run["p99_ms"] for run in test["rpcs"].values())
    return {
        "national_peak": peak,
        "national_peak_calls_per_s": round(total, 1),
        "assumptions": dict(ASSUMPTIONS),
        "sources": {
            k: {"what": s.what, "value": s.value, "where": s.where} for k, s in SOURCES.items()
        },
        "calibration_server_cpu_us_per_call": cpu_us,
        "cores_needed": round(cores, 2),
        "target_utilisation": TARGET_UTILISATION,
        "scale_of_national_peak": round(scale, 3),
        "load_test": test,
        "slo_p99_ms": SLO_P99_MS,
        "worst_p99_vs_slo": round(worst / SLO_P99_MS, 3),
        "failures": sum(run["failures"] for run in test["rpcs"].values()),
    }
