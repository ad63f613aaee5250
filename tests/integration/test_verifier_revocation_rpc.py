# SPDX-License-Identifier: Apache-2.0
"""CheckRevocation and VerifyCard with OCSP configured: OCSP decides, CRL when it is down."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from cryptography import x509

from host.card import KeyKind
from hw_sim.home import sim_home
from hw_sim.pki import TestPki
from hw_sim.pki.ocsp import OcspResponder
from myna.edge.v1 import verifier_pb2 as pb
from tests.verifier_support import ServerThread, VerifierEnv, card_certificate, make_env, prove
from verifier.config import RevocationConfig


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("verifier-revocation"))


@pytest.fixture
def responder() -> Iterator[OcspResponder]:
    with OcspResponder(TestPki.open(sim_home() / "pki")) as running:
        yield running


@pytest.fixture
def server(env: VerifierEnv, responder: OcspResponder) -> Iterator[ServerThread]:
    revocation = RevocationConfig(ocsp_urls={"auth": responder.url, "sign": responder.url})
    thread = ServerThread(dataclasses.replace(env.config(), revocation=revocation)).start()
    yield thread
    thread.stop()


def _serial(profile: str) -> str:
    cert = x509.load_der_x509_certificate(card_certificate(profile, KeyKind.AUTH))
    return format(cert.serial_number, "x")


def _check(env: VerifierEnv, server: ServerThread, profile: str) -> pb.CheckRevocationResponse:
    with server.stub(env.credentials("atm-01")) as stub:
        return stub.CheckRevocation(
            pb.CheckRevocationRequest(
                kind=pb.CERTIFICATE_KIND_AUTHENTICATION, serial_hex=_serial(profile)
            ),
            timeout=10,
        )


def test_ocsp_decides_when_configured(env: VerifierEnv, server: ServerThread) -> None:
    revoked = _check(env, server, "revoked")
    assert (revoked.status, revoked.source) == (
        pb.REVOCATION_STATUS_REVOKED,
        pb.REVOCATION_SOURCE_OCSP,
    )
    assert revoked.HasField("revocation_time")
    good = _check(env, server, "default")
    assert (good.status, good.source) == (pb.REVOCATION_STATUS_GOOD, pb.REVOCATION_SOURCE_OCSP)


def test_responder_down_falls_back_to_the_crl(
    env: VerifierEnv, server: ServerThread, responder: OcspResponder
) -> None:
    responder.close()
    answer = _check(env, server, "revoked")
    assert (answer.status, answer.source) == (
        pb.REVOCATION_STATUS_REVOKED,
        pb.REVOCATION_SOURCE_CRL,
    )
    with server.stub(env.credentials("atm-01")) as stub:
        session = stub.OpenSession(
            pb.OpenSessionRequest(
                purpose=pb.SESSION_PURPOSE_CARD_VERIFICATION, idempotency_key="o"
            ),
            timeout=10,
        )
        proof = prove(
            "default", KeyKind.AUTH, "SESSION_PURPOSE_CARD_VERIFICATION", "atm-01", session.nonce
        )
        verdict = stub.VerifyCard(
            pb.VerifyCardRequest(
                session_id=session.session_id,
                terminal_id="atm-01",
                proof=proof,
                idempotency_key="v",
            ),
            timeout=10,
        )
    assert verdict.reason == pb.REASON_OK
    assert verdict.revocation_source == pb.REVOCATION_SOURCE_CRL


def test_verify_card_records_ocsp_as_the_source(env: VerifierEnv, server: ServerThread) -> None:
    with server.stub(env.credentials("atm-01")) as stub:
        session = stub.OpenSession(
            pb.OpenSessionRequest(
                purpose=pb.SESSION_PURPOSE_CARD_VERIFICATION, idempotency_key="o"
            ),
            timeout=10,
        )
        proof = prove(
            "revoked", KeyKind.AUTH, "SESSION_PURPOSE_CARD_VERIFICATION", "atm-01", session.nonce
        )
        verdict = stub.VerifyCard(
            pb.VerifyCardRequest(
                session_id=session.session_id,
                terminal_id="atm-01",
                proof=proof,
                idempotency_key="v",
            ),
            timeout=10,
        )
    assert verdict.reason == pb.REASON_CERTIFICATE_REVOKED
    assert verdict.revocation_source == pb.REVOCATION_SOURCE_OCSP
