# SPDX-License-Identifier: Apache-2.0
"""Verifier benchmarks (pytest-benchmark): one round trip each, against same-run ceilings.

The ``verifier`` group holds the bare echo call (the framework's ceiling on
the same mTLS transport), VerifyCard, AuthorizeTransfer (durable) and the raw
``cryptography`` checks, so the table reads as ratios. The concurrent
figures (1 to 32 in flight, p50/p99, server CPU per call, driven from a
separate client process; PostgreSQL when installed; ``--workers`` 1 and 2)
come from ``myna-edge bench verifier``, whose suite is smoke-run here with
tiny sizes so it cannot rot.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from myna_edge.bench.verifier import (
    CONCURRENCY,
    POSTGRES_ENV,
    WORKER_COUNTS,
    BenchRig,
    verifier_suite,
)
from verifier.canonical import TransferFields, card_challenge_digest, statement_digest

TERMINAL = "bench-atm"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BenchRig]:
    running = BenchRig(Path(tmp_path_factory.mktemp("bench-verifier")))
    yield running
    running.close()


@pytest.fixture(scope="module")
def channel(rig: BenchRig) -> Iterator[grpc.Channel]:
    options = (("grpc.ssl_target_name_override", "localhost"),)
    with grpc.secure_channel(f"127.0.0.1:{rig.port}", rig.credentials, options=options) as chan:
        yield chan


def _sign(key: Any, digest: bytes) -> bytes:
    return bytes(key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())))


def _verify_request(rig: BenchRig, stub: pb_grpc.VerifierServiceStub) -> pb.VerifyCardRequest:
    session = stub.OpenSession(
        pb.OpenSessionRequest(
            purpose=pb.SESSION_PURPOSE_CARD_VERIFICATION,
            idempotency_key=f"o-{secrets.token_hex(8)}",
        ),
        timeout=10,
    )
    digest = card_challenge_digest("SESSION_PURPOSE_CARD_VERIFICATION", TERMINAL, session.nonce)
    return pb.VerifyCardRequest(
        session_id=session.session_id,
        terminal_id=TERMINAL,
        proof=pb.CardProof(certificate_der=rig.auth_der, signature=_sign(rig.auth_key, digest)),
        idempotency_key=f"v-{session.session_id}",
    )


def _transfer_request(
    rig: BenchRig, stub: pb_grpc.VerifierServiceStub
) -> pb.AuthorizeTransferRequest:
    session = stub.OpenSession(
        pb.OpenSessionRequest(
            purpose=pb.SESSION_PURPOSE_TRANSFER,
            idempotency_key=f"t-{secrets.token_hex(8)}",
        ),
        timeout=10,
    )
    fields = TransferFields(
        session.nonce, TERMINAL, 300_000, "0001", "001", 1, "1234567", "ヤマダ", "タナカ",
        "0312345678",
    )  # fmt: skip
    return pb.AuthorizeTransferRequest(
        session_id=session.session_id,
        statement=pb.TransferStatement(**dataclasses.asdict(fields)),
        identity_proof=pb.CardProof(
            certificate_der=rig.sign_der, signature=_sign(rig.sign_key, statement_digest(fields))
        ),
        idempotency_key=f"a-{session.session_id}",
    )


@pytest.mark.benchmark(group="verifier")
def test_bench_echo_ceiling(benchmark: Any, rig: BenchRig) -> None:
    options = (("grpc.ssl_target_name_override", "localhost"),)
    with grpc.secure_channel(
        f"127.0.0.1:{rig.echo_port}", rig.credentials, options=options
    ) as chan:
        echo = chan.unary_unary("/myna.bench.Echo/Echo")
        assert benchmark(echo, b"\x00" * 1200, timeout=10) == b"\x00" * 1200


@pytest.mark.benchmark(group="verifier")
def test_bench_verify_card(benchmark: Any, rig: BenchRig, channel: grpc.Channel) -> None:
    stub = pb_grpc.VerifierServiceStub(channel)
    result = benchmark.pedantic(
        lambda request: stub.VerifyCard(request, timeout=10),
        setup=lambda: ((_verify_request(rig, stub),), {}),
        rounds=20,
    )
    assert result.reason == pb.REASON_OK


@pytest.mark.benchmark(group="verifier")
def test_bench_authorize_transfer(benchmark: Any, rig: BenchRig, channel: grpc.Channel) -> None:
    stub = pb_grpc.VerifierServiceStub(channel)
    result = benchmark.pedantic(
        lambda request: stub.AuthorizeTransfer(request, timeout=10),
        setup=lambda: ((_transfer_request(rig, stub),), {}),
        rounds=20,
    )
    assert result.reason == pb.REASON_OK
    assert result.identity_verified


@pytest.mark.benchmark(group="verifier")
def test_bench_raw_crypto_checks(benchmark: Any, rig: BenchRig) -> None:
    digest = card_challenge_digest("SESSION_PURPOSE_CARD_VERIFICATION", TERMINAL, b"n" * 32)
    signature = _sign(rig.auth_key, digest)
    result = benchmark(
        rig.core.check_proof, "auth", rig.auth_der, signature, digest, dt.datetime.now(dt.UTC)
    )
    assert result.accepted


def test_suite_reports_ratios() -> None:
    from myna_edge.chaos.pgcluster import PG_BIN

    report = verifier_suite(1)
    runs = report["runs"]
    assert isinstance(runs, dict)
    assert set(runs) == {
        f"{kind}_{n}" for kind in ("echo", "verify_card", "authorize_transfer") for n in CONCURRENCY
    }
    assert all(run["calls"] >= 2 * int(name.rsplit("_", 1)[1]) for name, run in runs.items())
    assert all(run["server_cpu_us_per_call"] > 0 for run in runs.values())
    assert all(run["client_cpu_us_per_call"] >= 0 for run in runs.values())
    # SQLite group commit: every durable run reports how many calls shared an fsync.
    assert all(
        runs[f"{kind}_{n}"]["units_per_commit"] >= 1
        for kind in ("verify_card", "authorize_transfer")
        for n in CONCURRENCY
    )
    assert report["clients_in_separate_process"] is True
    for ratio in (
        "verify_vs_echo_throughput_at_32",
        "verify_vs_echo_throughput_at_1",
        "authorize_vs_echo_throughput_at_32",
        "authorize_vs_verify_throughput_at_32",
        "verify_vs_echo_p99_at_32",
        "verify_server_cpu_vs_echo_at_32",
        "workers_2_vs_1_verify_at_32",
        "workers_2_vs_1_authorize_at_32",
    ):
        assert isinstance(report[ratio], float)
        assert report[ratio] > 0
    # --workers 1 and 2: the ends of CONCURRENCY, every worker's CPU charged.
    workers = report["workers"]
    assert isinstance(workers, dict)
    assert set(workers) == {str(n) for n in WORKER_COUNTS}
    for figures in workers.values():
        assert set(figures) == {
            f"{kind}_{n}"
            for kind in ("echo", "verify_card", "authorize_transfer")
            for n in (CONCURRENCY[0], CONCURRENCY[-1])
        }
        assert all(run["server_cpu_us_per_call"] > 0 for run in figures.values())
    # PostgreSQL by default when it is installed (a throwaway cluster).
    if (PG_BIN / "initdb").exists():
        assert isinstance(report["postgresql_runs"], dict)
        assert set(report["postgresql_runs"]) == set(runs)
        assert report["postgresql_vs_sqlite_verify_at_32"] > 0  # type: ignore[operator]
    else:
        assert "not installed" in str(report["postgresql"])


def test_a_named_postgresql_database_is_used_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    from myna_edge.bench import verifier as bench_verifier

    monkeypatch.setenv(POSTGRES_ENV, "postgresql://nobody@127.0.0.1:1/named")
    with bench_verifier._postgres() as url:
        assert url == "postgresql://nobody@127.0.0.1:1/named"
