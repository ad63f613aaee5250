# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench verifier``: the verification service under load, against ceilings.

Why ceilings from the same run: these machines are noisy, so every figure is
a ratio. The framework ceiling is a bare gRPC echo service on the same
transport and settings (grpc.aio, mTLS, 127.0.0.1, same client); the crypto
ceiling is the same certificate and signature checks done directly with
``cryptography``. VerifyCard and AuthorizeTransfer (durable: a transfer and
an identity row per call, SQLite with fsync) are driven by 1, 8 and 32
concurrent callers; p50/p99 are per call. Card signatures are made with the
virtual card's own holder keys ahead of time, so the card's RSA time is not
counted against the service. Lives in ``myna_edge`` because it needs the
simulator's PKI, which ``verifier`` must never import.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import resource
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import grpc
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from hw_sim.card import open_card
from hw_sim.home import sim_home
from hw_sim.pki import TestPki
from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from verifier.canonical import TransferFields, card_challenge_digest, statement_digest
from verifier.config import TlsConfig, VerifierConfig
from verifier.server import VerifierServer, build_core
from verifier.tls import ensure_tls_material, issue_terminal_certificate

__all__ = ["CONCURRENCY", "POSTGRES_ENV", "BenchRig", "verifier_suite"]

CONCURRENCY: Final = (1, 8, 32)
_TERMINAL: Final = "bench-atm"
_ECHO: Final = "/myna.bench.Echo/Echo"


class BenchRig:
    """A verifier and an echo server on 127.0.0.1 (mTLS), each on its own loop thread."""

    def __init__(self, root: Path, database: str | None = None) -> None:
        for profile in ("default",):
            with open_card(profile, persist=False):
                pass
        self.pki = TestPki.open(sim_home() / "pki")
        trust = root / "trust"
        self.pki.export_public(trust)
        tls = TlsConfig(directory=root / "tls")
        ensure_tls_material(tls)
        self.config = VerifierConfig(
            listen="127.0.0.1:0",
            database=database or f"sqlite:///{root / 'bench.sqlite'}",
            trust_dir=trust,
            tls=tls,
        )
        issued = issue_terminal_certificate(tls, _TERMINAL)
        self.credentials = grpc.ssl_channel_credentials(
            issued.ca_pem, issued.key_pem, issued.certificate_pem
        )
        self.auth_key = self.pki.holder_key("default-auth")
        self.sign_key = self.pki.holder_key("default-sign")
        card_dir = sim_home() / "cards" / "default"
        self.auth_der = (card_dir / "auth-cert.der").read_bytes()
        self.sign_der = (card_dir / "sign-cert.der").read_bytes()
        self.core = build_core(self.config)
        self.server = VerifierServer(self.config, self.core)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.port = self._run(self.server.start())
        self.echo_port = self._run(self._start_echo(tls))

    def _run(self, coroutine: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=60)  # type: ignore[arg-type]

    async def _start_echo(self, tls: TlsConfig) -> int:
        async def echo(request: bytes, context: object) -> bytes:
            return request

        handler = grpc.method_handlers_generic_handler(
            "myna.bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
        )
        self._echo = grpc.aio.server()
        self._echo.add_generic_rpc_handlers((handler,))
        credentials = grpc.ssl_server_credentials(
            [(tls.path("server_key").read_bytes(), tls.path("server_cert").read_bytes())],
            root_certificates=tls.path("terminal_ca").read_bytes(),
            require_client_auth=True,
        )
        port = self._echo.add_secure_port("127.0.0.1:0", credentials)
        await self._echo.start()
        return port

    def channel(self, port: int) -> grpc.aio.Channel:
        """A client channel (create inside the client's event loop)."""
        options = (("grpc.ssl_target_name_override", "localhost"),)
        return grpc.aio.secure_channel(f"127.0.0.1:{port}", self.credentials, options=options)

    def close(self) -> None:
        """Stop both servers and the loop thread."""
        self._run(self._echo.stop(1.0))
        self._run(self.server.stop(1.0))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    # -- requests, prepared ahead -------------------------------------------
    async def verify_requests(self, stub: pb_grpc.VerifierServiceStub, n: int) -> list[Any]:
        """``n`` ready VerifyCard requests (sessions opened, nonces signed)."""
        out = []
        for i in range(n):
            session = await stub.OpenSession(  # type: ignore[misc]
                pb.OpenSessionRequest(
                    purpose=pb.SESSION_PURPOSE_CARD_VERIFICATION,
                    idempotency_key=f"vo-{time.monotonic_ns()}-{i}",
                )
            )
            digest = card_challenge_digest(
                "SESSION_PURPOSE_CARD_VERIFICATION", _TERMINAL, session.nonce
            )
            signature = self.auth_key.sign(
                digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
            )
            out.append(
                pb.VerifyCardRequest(
                    session_id=session.session_id,
                    terminal_id=_TERMINAL,
                    proof=pb.CardProof(certificate_der=self.auth_der, signature=signature),
                    idempotency_key=f"v-{session.session_id}",
                )
            )
        return out

    async def transfer_requests(self, stub: pb_grpc.VerifierServiceStub, n: int) -> list[Any]:
        """``n`` ready AuthorizeTransfer requests over the threshold, with proof."""
        out = []
        for i in range(n):
            session = await stub.OpenSession(  # type: ignore[misc]
                pb.OpenSessionRequest(
                    purpose=pb.SESSION_PURPOSE_TRANSFER,
                    idempotency_key=f"to-{time.monotonic_ns()}-{i}",
                )
            )
            fields = TransferFields(
                session.nonce, _TERMINAL, 300_000, "0001", "001", 1, "1234567",
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


async def _drive(
    call: Callable[[Any], Awaitable[Any]], requests: list[Any], inflight: int
) -> dict[str, float]:
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
    elapsed = time.perf_counter() - start
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return {
        "calls": len(latencies),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 3),
        "p99_ms": round(p99 * 1000, 3),
    }


def _crypto_seconds(rig: BenchRig, rounds: int) -> float:
    """Median cost of the checks VerifyCard does, called directly."""
    import datetime as dt

    digest = card_challenge_digest("SESSION_PURPOSE_CARD_VERIFICATION", _TERMINAL, b"n" * 32)
    signature = rig.auth_key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    samples = []
    for _ in range(max(rounds, 5)):
        start = time.perf_counter()
        result = rig.core.check_proof(
            "auth", rig.auth_der, signature, digest, dt.datetime.now(dt.UTC)
        )
        samples.append(time.perf_counter() - start)
        assert result.accepted
    return statistics.median(samples)


async def _measure(rig: BenchRig, calls: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    async with rig.channel(rig.port) as channel, rig.channel(rig.echo_port) as echo_channel:
        stub = pb_grpc.VerifierServiceStub(channel)
        echo: Any = echo_channel.unary_unary(_ECHO)
        payload = b"\x00" * 1200  # about a VerifyCardRequest's size
        for inflight in CONCURRENCY:
            n = max(calls, inflight * 2)
            figures[f"echo_{inflight}"] = await _drive(echo, [payload] * n, inflight)
            verify = await rig.verify_requests(stub, n)
            figures[f"verify_card_{inflight}"] = await _drive(stub.VerifyCard, verify, inflight)
            transfer = await rig.transfer_requests(stub, n)
            figures[f"authorize_transfer_{inflight}"] = await _drive(
                stub.AuthorizeTransfer, transfer, inflight
            )
    return figures


#: A PostgreSQL URL here adds the same runs on PostgreSQL, side by side.
POSTGRES_ENV: Final = "MYNA_EDGE_BENCH_POSTGRES"


def _run_rig(database: str | None, rounds: int) -> tuple[dict[str, Any], float]:
    with tempfile.TemporaryDirectory(prefix="myna-bench-verifier-") as folder:
        rig = BenchRig(Path(folder), database)
        try:
            figures = asyncio.run(_measure(rig, calls=max(rounds, 4) * 4))
            crypto = _crypto_seconds(rig, rounds)
        finally:
            rig.close()
    return figures, crypto


def verifier_suite(rounds: int) -> dict[str, object]:
    """The verifier figures: throughput and latency at 1/8/32 in flight, as ratios.

    Set ``MYNA_EDGE_BENCH_POSTGRES`` to a ``postgresql://`` URL (an empty
    database) to add the PostgreSQL runs.
    """
    figures, crypto = _run_rig(None, rounds)
    top = CONCURRENCY[-1]
    verify, echo = figures[f"verify_card_{top}"], figures[f"echo_{top}"]
    transfer = figures[f"authorize_transfer_{top}"]
    report: dict[str, object] = {
        "runs": figures,
        "verify_vs_echo_throughput_at_32": round(verify["per_second"] / echo["per_second"], 3),
        "authorize_vs_verify_throughput_at_32": round(
            transfer["per_second"] / verify["per_second"], 3
        ),
        "crypto_share_of_verify_p50_at_1": round(
            crypto / (figures["verify_card_1"]["p50_ms"] / 1000), 3
        ),
        "crypto_check_ms": round(crypto * 1000, 3),
    }
    postgres = os.environ.get(POSTGRES_ENV)
    if postgres:
        pg_figures, _ = _run_rig(postgres, rounds)
        report["postgresql_runs"] = pg_figures
        report["postgresql_vs_sqlite_verify_at_32"] = round(
            pg_figures[f"verify_card_{top}"]["per_second"] / verify["per_second"], 3
        )
        report["postgresql_vs_sqlite_authorize_at_32"] = round(
            pg_figures[f"authorize_transfer_{top}"]["per_second"] / transfer["per_second"], 3
        )
    # Client and server share this process: the figure bounds the service's peak.
    report["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return report
