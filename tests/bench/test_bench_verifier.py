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
from myna_edge.bench.verifier import POSTGRES_ENV, BenchRig
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


def _verify_request(
    rig: BenchRig, stub: pb_grpc.VerifierServiceStub, *, phone: bool = False
) -> pb.VerifyCardRequest:
    der, key = (rig.phone_auth_der, rig.phone_auth_key) if phone else (rig.auth_der, rig.auth_key)
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
        proof=pb.CardProof(certificate_der=der, signature=_sign(key, digest)),
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
def test_bench_verify_phone(benchmark: Any, rig: BenchRig, channel: grpc.Channel) -> None:
    # Issue 15: an Android phone's certificate (mobile CAs, own CRL): beside VerifyCard.
    stub = pb_grpc.VerifierServiceStub(channel)
    result = benchmark.pedantic(
        lambda request: stub.VerifyCard(request, timeout=10),
        setup=lambda: ((_verify_request(rig, stub, phone=True),), {}),
        rounds=20,
    )
    assert result.reason == pb.REASON_OK
    assert result.credential_device == pb.CREDENTIAL_DEVICE_MOBILE


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


def test_a_named_postgresql_database_is_used_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    from myna_edge.bench import verifier as bench_verifier

    monkeypatch.setenv(POSTGRES_ENV, "postgresql://nobody@127.0.0.1:1/named")
    with bench_verifier._postgres() as url:
        assert url == "postgresql://nobody@127.0.0.1:1/named"
