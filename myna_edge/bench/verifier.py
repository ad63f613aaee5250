# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench verifier``: the verification service under load, against ceilings.

Why ceilings from the same run: these machines are noisy, so every figure is
a ratio. The framework ceiling is a bare gRPC echo service on the same
transport and settings (grpc.aio, mTLS, 127.0.0.1, same client); the crypto
ceiling is the same certificate and signature checks done directly with
``cryptography``. VerifyCard and AuthorizeTransfer (durable: a transfer and
an identity row per call, SQLite with fsync) are driven by 1 to 32
concurrent callers (``CONCURRENCY``); p50/p99 are per call. Card signatures are made with the
virtual card's own holder keys ahead of time, so the card's RSA time is not
counted against the service. Lives in ``myna_edge`` because it needs the
simulator's PKI, which ``verifier`` must never import.

The verifier runs here, the echo in a spawned process of its own
(``myna_edge.bench.verifier_echo``: the verifier's pauses no longer lower
the ceiling its p99 is compared with) and the clients in another
(``myna_edge.bench.verifier_load``), so they no longer steal the server's
CPU and GIL; each run is charged both servers' CPU. On a 2-core machine
client and server still share the cores: the ratios are the honest
figures, the absolute ones are no capacity claim.
Latency targets are checked with Little's law (32 in flight at throughput X
means a mean latency of 32/X), and p99 is also given as a ratio to the
echo's own p99 at the same concurrency.

The same runs are made on PostgreSQL whenever it is installed (a throwaway
cluster, as the tests start one; ``MYNA_EDGE_BENCH_POSTGRES`` names a
database instead), and against ``myna-edge verifier --workers`` 1 and 2
(SQLite, the ends of ``CONCURRENCY``), charged every worker's CPU; each run
also reports the client process's CPU per call, the share of a small
machine's cores the servers did not get.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import resource
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, Final

import grpc
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, utils

from hw_sim.card import open_card
from hw_sim.home import sim_home
from hw_sim.pki import TestPki, open_mobile_pki
from myna_edge.bench.verifier_echo import EchoProcess
from myna_edge.bench.verifier_load import (
    CONCURRENCY,
    TERMINAL,
    LoadSpec,
    RequestFactory,
    drive_from_child,
    process_cpu_seconds,
)
from verifier.canonical import card_challenge_digest
from verifier.config import TlsConfig, VerifierConfig
from verifier.server import VerifierServer, build_core
from verifier.tls import ensure_tls_material, issue_terminal_certificate

__all__ = ["CONCURRENCY", "POSTGRES_ENV", "WORKER_COUNTS", "BenchRig", "verifier_suite"]


class BenchRig(RequestFactory):
    """A verifier (on a loop thread here) and an echo server (its own process), 127.0.0.1, mTLS."""

    def __init__(self, root: Path, database: str | None = None) -> None:
        for profile in ("default", "android-default"):
            with open_card(profile, persist=False):
                pass
        self.pki = TestPki.open(sim_home() / "pki")
        trust = root / "trust"
        self.pki.export_public(trust)
        mobile = open_mobile_pki(sim_home() / "pki")  # phones' CAs (issue 15)
        mobile.export_public(trust / "mobile")
        self.phone_auth_key = mobile.holder_key("android-default-auth")
        self.phone_auth_der = (
            sim_home() / "cards" / "android-default" / "auth-cert.der"
        ).read_bytes()
        tls = TlsConfig(directory=root / "tls")
        ensure_tls_material(tls)
        self.config = VerifierConfig(
            listen="127.0.0.1:0",
            database=database or f"sqlite:///{root / 'bench.sqlite'}",
            trust_dir=trust,
            tls=tls,
        )
        self.issued = issue_terminal_certificate(tls, TERMINAL)
        self.credentials = grpc.ssl_channel_credentials(
            self.issued.ca_pem, self.issued.key_pem, self.issued.certificate_pem
        )
        self.auth_key = self.pki.holder_key("default-auth")
        self.sign_key = self.pki.holder_key("default-sign")
        card_dir = sim_home() / "cards" / "default"
        self.auth_der = (card_dir / "auth-cert.der").read_bytes()
        self.sign_der = (card_dir / "sign-cert.der").read_bytes()
        self.core = build_core(self.config)
        # The echo in its own process (``verifier_echo``): the verifier's pauses are not its.
        self.echo = EchoProcess(
            key_pem=tls.path("server_key").read_bytes(),
            cert_pem=tls.path("server_cert").read_bytes(),
            ca_pem=tls.path("terminal_ca").read_bytes(),
        )
        self.echo_port = self.echo.port
        self.server = VerifierServer(self.config, self.core)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.port = self._run(self.server.start())

    def server_cpu_seconds(self) -> float:
        """CPU time of both servers so far: this process's (the verifier) and the echo's.

        Both are charged to every run, so neither side's idle cost is hidden.
        """
        return time.process_time() + self.echo.cpu_seconds()

    def _run(self, coroutine: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=60)  # type: ignore[arg-type]

    def load_spec(self, calls: int) -> LoadSpec:
        """What a load process needs to reach both servers as this rig's terminal."""

        def pem(key: Any) -> bytes:
            return bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )

        return LoadSpec(
            self.port, self.echo_port, self.issued.ca_pem, self.issued.key_pem,
            self.issued.certificate_pem, pem(self.auth_key), pem(self.sign_key),
            self.auth_der, self.sign_der, calls,
        )  # fmt: skip

    def close(self) -> None:
        """Stop both servers and the loop thread."""
        self.echo.close()
        self._run(self.server.stop(1.0))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


def _crypto_seconds(rig: BenchRig, rounds: int) -> tuple[float, float]:
    """Median cost of VerifyCard's checks: raw ``cryptography`` calls, and the service's.

    The raw figure parses the certificate, checks the root's signature on it
    and the card's signature, with no caching; the service's figure is
    ``Core.check_proof`` (certificate cache, remembered revocation answer).
    """
    import datetime as dt

    from cryptography import x509

    digest = card_challenge_digest("SESSION_PURPOSE_CARD_VERIFICATION", TERMINAL, b"n" * 32)
    signature = rig.auth_key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    root = rig.core.trust.roots("auth")[0]

    def raw() -> None:
        certificate = x509.load_der_x509_certificate(rig.auth_der)
        certificate.verify_directly_issued_by(root)
        key: Any = certificate.public_key()
        key.verify(signature, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))

    def service() -> None:
        now = dt.datetime.now(dt.UTC)
        assert rig.core.check_proof("auth", rig.auth_der, signature, digest, now).accepted

    medians = []
    for check in (raw, service):
        samples = []
        for _ in range(max(rounds, 5) * 10):
            start = time.perf_counter()
            check()
            samples.append(time.perf_counter() - start)
        medians.append(statistics.median(samples))
    return medians[0], medians[1]


# -- the load generator: a separate process ----------------------------------
#: A PostgreSQL URL here runs PostgreSQL on that database instead of a throwaway cluster.
POSTGRES_ENV: Final = "MYNA_EDGE_BENCH_POSTGRES"
#: Worker counts compared (``myna-edge verifier --workers N``), at the ends of ``CONCURRENCY``.
WORKER_COUNTS: Final = (1, 2)


def _run_rig(database: str | None, rounds: int) -> tuple[dict[str, Any], tuple[float, float], int]:
    with tempfile.TemporaryDirectory(prefix="myna-bench-verifier-") as folder:
        rig = BenchRig(Path(folder), database)
        try:
            figures, load_pid = drive_from_child(
                rig.load_spec(max(rounds, 1) * 100),
                rig.core.storage,
                cpu_clock=rig.server_cpu_seconds,
            )
            crypto = _crypto_seconds(rig, rounds)
        finally:
            rig.close()
    return figures, crypto, load_pid


def _run_workers(rounds: int) -> dict[str, dict[str, Any]]:
    """The same load against ``--workers N`` (SQLite), for each of ``WORKER_COUNTS``.

    The server CPU charged to a run is every worker's (read from ``/proc``)
    plus the rig's (this process, idle here, and the echo's); the client's own
    CPU per call is beside it.
    """
    from verifier.workers import WorkerPool

    levels = (CONCURRENCY[0], CONCURRENCY[-1])
    out: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="myna-bench-workers-") as folder:
        rig = BenchRig(Path(folder))
        try:
            for count in WORKER_COUNTS:
                pool = WorkerPool(rig.config, count)
                try:
                    spec = dataclasses.replace(
                        rig.load_spec(max(rounds, 1) * 100), port=pool.start(), levels=levels
                    )

                    def clock(pool: WorkerPool = pool) -> float:
                        return rig.server_cpu_seconds() + sum(map(process_cpu_seconds, pool.pids))

                    out[str(count)], _ = drive_from_child(spec, None, cpu_clock=clock)
                finally:
                    pool.stop()
        finally:
            rig.close()
    return out


@contextlib.contextmanager
def _postgres() -> Iterator[str | None]:
    """A PostgreSQL URL: ``MYNA_EDGE_BENCH_POSTGRES``, else a throwaway cluster if installed."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        yield url
        return
    from myna_edge.chaos.pgcluster import PG_BIN, postgres_cluster

    if not (PG_BIN / "initdb").exists():
        yield None
        return
    with postgres_cluster() as cluster:
        yield cluster.new_database()


def _ratio(a: float, b: float) -> float:
    return round(a / b, 3)


def _headline(figures: dict[str, Any], crypto: tuple[float, float] | None) -> dict[str, object]:
    """The ratios of one set of runs (SQLite or PostgreSQL) to the echo of the same run."""
    top = CONCURRENCY[-1]
    verify, echo = figures[f"verify_card_{top}"], figures[f"echo_{top}"]
    transfer = figures[f"authorize_transfer_{top}"]
    one, echo_one = figures[f"verify_card_{CONCURRENCY[0]}"], figures[f"echo_{CONCURRENCY[0]}"]
    report: dict[str, object] = {
        "verify_vs_echo_throughput_at_32": _ratio(verify["per_second"], echo["per_second"]),
        "verify_vs_echo_throughput_at_1": _ratio(one["per_second"], echo_one["per_second"]),
        "authorize_vs_echo_throughput_at_32": _ratio(transfer["per_second"], echo["per_second"]),
        # The echo's own p99 at 32 in flight bounds any service's p99 on this machine.
        "echo_p99_ms_at_32": echo["p99_ms"],
        "verify_vs_echo_p99_at_32": _ratio(verify["p99_ms"], echo["p99_ms"]),
        "authorize_vs_verify_throughput_at_32": _ratio(
            transfer["per_second"], verify["per_second"]
        ),
        "verify_server_cpu_vs_echo_at_32": _ratio(
            verify["server_cpu_us_per_call"], echo["server_cpu_us_per_call"]
        ),
    }
    if crypto is not None:
        report["crypto_share_of_verify_p50_at_1"] = round(crypto[0] / (one["p50_ms"] / 1000), 3)
        report["crypto_check_ms"] = round(crypto[0] * 1000, 3)
        report["service_check_proof_ms"] = round(crypto[1] * 1000, 3)
    return report


def verifier_suite(rounds: int) -> dict[str, object]:
    """The verifier figures: throughput and latency at 1 to 32 in flight, as ratios.

    SQLite, then PostgreSQL when it is installed (a throwaway cluster, or the
    database named by ``MYNA_EDGE_BENCH_POSTGRES``), then ``--workers`` 1
    and 2 on SQLite.
    """
    figures, crypto, load_pid = _run_rig(None, rounds)
    top = CONCURRENCY[-1]
    report: dict[str, object] = {"runs": figures, **_headline(figures, crypto)}
    # Both ceilings and services were driven from another process than the servers'.
    report["clients_in_separate_process"] = load_pid != os.getpid()
    with _postgres() as postgres:
        if postgres is None:
            report["postgresql"] = "not installed: no PostgreSQL rows"
        else:
            pg_figures, _, _ = _run_rig(postgres, rounds)
            report["postgresql_runs"] = pg_figures
            report["postgresql"] = _headline(pg_figures, None)
            for key, label in (("verify_card", "verify"), ("authorize_transfer", "authorize")):
                report[f"postgresql_vs_sqlite_{label}_at_32"] = _ratio(
                    pg_figures[f"{key}_{top}"]["per_second"], figures[f"{key}_{top}"]["per_second"]
                )
    workers = _run_workers(rounds)
    report["workers"] = workers
    last, first = workers[str(WORKER_COUNTS[-1])], workers[str(WORKER_COUNTS[0])]
    for key, label in (("verify_card", "verify"), ("authorize_transfer", "authorize")):
        report[f"workers_{WORKER_COUNTS[-1]}_vs_{WORKER_COUNTS[0]}_{label}_at_32"] = _ratio(
            last[f"{key}_{top}"]["per_second"], first[f"{key}_{top}"]["per_second"]
        )
    # The clients run in their own process: this is the servers' (and harness's) peak.
    report["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return report
