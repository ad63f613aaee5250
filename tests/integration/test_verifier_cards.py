# SPDX-License-Identifier: Apache-2.0
"""VerifyCard end to end: real server, mTLS, real stubs, the virtual card signing.

Also the transport-level rules: no client certificate means no call, health
and reflection are served, plaintext only under --insecure-dev.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from host.card import KeyKind
from myna.edge.v1 import verifier_pb2 as pb
from tests.verifier_support import ServerThread, VerifierEnv, card_certificate, make_env, prove
from verifier.service import ERROR_METADATA_KEY

PURPOSE = "SESSION_PURPOSE_CARD_VERIFICATION"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("verifier-cards"))


@pytest.fixture
def server(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


def _open(
    stub: object, key: str = "", purpose: int = pb.SESSION_PURPOSE_CARD_VERIFICATION
) -> pb.OpenSessionResponse:
    request = pb.OpenSessionRequest(
        purpose=purpose, idempotency_key=key or f"open-{id(stub)}-{purpose}"
    )  # type: ignore[arg-type]
    return stub.OpenSession(request, timeout=10)  # type: ignore[attr-defined,no-any-return]


def _verify(
    env: VerifierEnv, server: ServerThread, profile: str = "default", terminal: str = "atm-01"
) -> pb.VerifyCardResponse:
    with server.stub(env.credentials(terminal)) as stub:
        session = stub.OpenSession(
            pb.OpenSessionRequest(
                purpose=pb.SESSION_PURPOSE_CARD_VERIFICATION, idempotency_key="o1"
            ),
            timeout=10,
        )
        proof = prove(profile, KeyKind.AUTH, PURPOSE, terminal, session.nonce)
        return stub.VerifyCard(
            pb.VerifyCardRequest(
                session_id=session.session_id,
                terminal_id=terminal,
                proof=proof,
                idempotency_key="v1",
            ),
            timeout=10,
        )


def test_valid_card_is_accepted_and_audited(env: VerifierEnv, server: ServerThread) -> None:
    response = _verify(env, server)
    assert response.verdict == pb.VERDICT_ACCEPTED
    assert response.reason == pb.REASON_OK
    assert response.revocation_source == pb.REVOCATION_SOURCE_CRL
    cert = x509.load_der_x509_certificate(card_certificate("default", KeyKind.AUTH))
    assert response.certificate_serial == format(cert.serial_number, "X")
    with server.core.storage.transaction() as tx:
        entries = tx.audit_entries()
    assert [(e.action, e.verdict, e.terminal_id) for e in entries] == [
        ("VERIFY_CARD", "ACCEPTED", "atm-01")
    ]
    assert entries[0].certificate_serial == response.certificate_serial


@pytest.mark.parametrize(
    ("profile", "reason"),
    [("revoked", pb.REASON_CERTIFICATE_REVOKED), ("expired", pb.REASON_CERTIFICATE_EXPIRED)],
)
def test_revoked_and_expired_cards_are_rejected(
    env: VerifierEnv, server: ServerThread, profile: str, reason: int
) -> None:
    response = _verify(env, server, profile)
    assert response.verdict == pb.VERDICT_REJECTED
    assert response.reason == reason


def _foreign_certificate(genuine_der: bytes) -> tuple[bytes, rsa.RSAPrivateKey]:
    """Same names as the genuine certificate, issued by a look-alike CA."""
    genuine = x509.load_der_x509_certificate(genuine_der)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    holder_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(genuine.subject)
        .issuer_name(genuine.issuer)
        .public_key(holder_key.public_key())
        .serial_number(genuine.serial_number)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER), holder_key


def test_certificate_from_another_ca_is_untrusted(env: VerifierEnv, server: ServerThread) -> None:
    from cryptography.hazmat.primitives.asymmetric import padding, utils

    from verifier.canonical import card_challenge_digest

    der, key = _foreign_certificate(card_certificate("default", KeyKind.AUTH))
    with server.stub(env.credentials("atm-01")) as stub:
        session = _open(stub)
        digest = card_challenge_digest(PURPOSE, "atm-01", session.nonce)
        signature = key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        response = stub.VerifyCard(
            pb.VerifyCardRequest(
                session_id=session.session_id,
                terminal_id="atm-01",
                proof=pb.CardProof(certificate_der=der, signature=signature),
                idempotency_key="v-foreign",
            ),
            timeout=10,
        )
    assert response.reason == pb.REASON_CERTIFICATE_UNTRUSTED


def test_signature_over_other_data_is_rejected(env: VerifierEnv, server: ServerThread) -> None:
    with server.stub(env.credentials("atm-01")) as stub:
        session = _open(stub)
        proof = prove("default", KeyKind.AUTH, PURPOSE, "atm-01", b"\x00" * 32)
        response = stub.VerifyCard(
            pb.VerifyCardRequest(
                session_id=session.session_id,
                terminal_id="atm-01",
                proof=proof,
                idempotency_key="v",
            ),
            timeout=10,
        )
    assert response.reason == pb.REASON_SIGNATURE_INVALID


def _verify_with(
    stub: object, session: pb.OpenSessionResponse, terminal: str, key: str, signer: str = ""
) -> pb.VerifyCardResponse:
    proof = prove("default", KeyKind.AUTH, PURPOSE, signer or terminal, session.nonce)
    request = pb.VerifyCardRequest(
        session_id=session.session_id, terminal_id=terminal, proof=proof, idempotency_key=key
    )
    return stub.VerifyCard(request, timeout=10)  # type: ignore[attr-defined,no-any-return]


def test_replayed_nonce_is_rejected_but_a_retry_with_the_same_key_is_not(
    env: VerifierEnv, server: ServerThread
) -> None:
    with server.stub(env.credentials("atm-01")) as stub:
        session = _open(stub)
        first = _verify_with(stub, session, "atm-01", "k1")
        retry = _verify_with(stub, session, "atm-01", "k1")
        replay = _verify_with(stub, session, "atm-01", "k2")
    assert first.reason == pb.REASON_OK
    assert retry == first  # same key, same request: the stored answer
    assert replay.reason == pb.REASON_NONCE_REPLAYED


def test_same_key_with_a_different_body_is_refused(env: VerifierEnv, server: ServerThread) -> None:
    with server.stub(env.credentials("atm-01")) as stub:
        one = _open(stub, key="same", purpose=pb.SESSION_PURPOSE_CARD_VERIFICATION)
        again = _open(stub, key="same", purpose=pb.SESSION_PURPOSE_CARD_VERIFICATION)
        assert again == one
        with pytest.raises(grpc.RpcError) as caught:
            _open(stub, key="same", purpose=pb.SESSION_PURPOSE_TRANSFER)
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    trailers = dict(caught.value.trailing_metadata() or ())
    assert pb.ErrorInfo.FromString(trailers[ERROR_METADATA_KEY]).reason == "IDEMPOTENCY_KEY_REUSED"


def test_expired_nonce_is_rejected(env: VerifierEnv, server: ServerThread) -> None:
    with server.stub(env.credentials("atm-01")) as stub:
        session = _open(stub)
        server.clock.advance(server.config.policy.nonce_ttl_seconds + 1)
        response = _verify_with(stub, session, "atm-01", "late")
    assert response.reason == pb.REASON_NONCE_EXPIRED


def test_nonce_from_another_terminal_is_rejected(env: VerifierEnv, server: ServerThread) -> None:
    with server.stub(env.credentials("atm-01")) as first:
        session = _open(first)
    with server.stub(env.credentials("atm-02")) as second:
        response = _verify_with(second, session, "atm-02", "steal")
    assert response.reason == pb.REASON_NONCE_OTHER_TERMINAL
    # The owner can still use it: the thief did not burn it.
    with server.stub(env.credentials("atm-01")) as first:
        assert _verify_with(first, session, "atm-01", "own").reason == pb.REASON_OK


def test_terminal_id_field_must_match_the_certificate(
    env: VerifierEnv, server: ServerThread
) -> None:
    with server.stub(env.credentials("atm-01")) as stub:
        session = _open(stub)
        with pytest.raises(grpc.RpcError) as caught:
            _verify_with(stub, session, "atm-02", "spoof", signer="atm-02")
    # The proto's convention: acting for another terminal is PERMISSION_DENIED.
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_terminal_without_client_certificate_cannot_call(
    env: VerifierEnv, server: ServerThread
) -> None:
    ca = env.tls.path("terminal_ca").read_bytes()
    with (
        server.stub(grpc.ssl_channel_credentials(root_certificates=ca)) as stub,
        pytest.raises(grpc.RpcError) as caught,
    ):
        _open(stub)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    with server.core.storage.transaction() as tx:
        assert tx.count("sessions") == 0


def test_plaintext_client_cannot_reach_an_mtls_server(
    env: VerifierEnv, server: ServerThread
) -> None:
    with server.stub(None) as stub, pytest.raises(grpc.RpcError) as caught:
        _open(stub)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_every_call_is_logged_with_a_request_id(
    env: VerifierEnv, server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="myna_metrics.access_log")
    with server.stub(env.credentials("atm-01")) as stub:
        stub.OpenSession(
            pb.OpenSessionRequest(
                purpose=pb.SESSION_PURPOSE_CARD_VERIFICATION, idempotency_key="logged"
            ),
            metadata=(("x-request-id", "req-42"),),
            timeout=10,
        )
        with pytest.raises(grpc.RpcError):
            stub.OpenSession(pb.OpenSessionRequest(idempotency_key="bad"), timeout=10)
    # The server logs after it has answered: give its thread a moment.
    deadline = time.monotonic() + 5
    while True:
        lines = [r.getMessage() for r in caplog.records if r.name == "myna_metrics.access_log"]
        if len(lines) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert any(
        line.startswith("req-42 /myna.edge.v1.VerifierService/OpenSession OK") for line in lines
    ), lines
    assert any("OpenSession INVALID_ARGUMENT" in line for line in lines), lines


def test_health_and_reflection(env: VerifierEnv, server: ServerThread) -> None:
    with server.channel(env.credentials("atm-01")) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        answer = health.Check(
            health_pb2.HealthCheckRequest(service="myna.edge.v1.VerifierService"), timeout=10
        )
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
        )
        names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert {"myna.edge.v1.VerifierService", "grpc.health.v1.Health"} <= names


def test_insecure_dev_serves_plaintext_with_a_header_terminal(
    env: VerifierEnv, tmp_path: Path
) -> None:
    config = dataclasses.replace(env.config(), insecure_dev=True)
    thread = ServerThread(config).start()
    try:
        with thread.channel(None) as channel:
            from myna.edge.v1 import verifier_pb2_grpc as pb_grpc

            stub = pb_grpc.VerifierServiceStub(channel)
            session = stub.OpenSession(
                pb.OpenSessionRequest(
                    purpose=pb.SESSION_PURPOSE_CARD_VERIFICATION, idempotency_key="d"
                ),
                metadata=(("x-myna-dev-terminal-id", "kiosk-dev"),),
                timeout=10,
            )
        with thread.core.storage.transaction() as tx:
            stored = tx.get_session(session.session_id)
        assert stored is not None
        assert stored.terminal_id == "kiosk-dev"
    finally:
        thread.stop()
