# SPDX-License-Identifier: Apache-2.0
"""The servicer under concurrency: group commit must not bend exactly-once.

A real server (mTLS on 127.0.0.1, SQLite with group commit) gets many
VerifyCard calls at once: each is answered only after it is stored, each
nonce is consumed once, every decision is audited once, and the same request
sent many times at once (same idempotency key) gets one answer, stored once.
Signatures are made with the test PKI's holder key of the ``default`` card
(what the virtual card signs with), so the test stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from hw_sim.home import sim_home
from hw_sim.pki import TestPki
from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from tests.verifier_support import ServerThread, VerifierEnv, make_env
from verifier.canonical import card_challenge_digest

TERMINAL = "atm-07"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("verifier-service"))


@pytest.fixture
def server(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


def _requests(stub: pb_grpc.VerifierServiceStub, n: int, tag: str) -> list[pb.VerifyCardRequest]:
    key = TestPki.open(sim_home() / "pki").holder_key("default-auth")
    der = (sim_home() / "cards" / "default" / "auth-cert.der").read_bytes()
    out = []
    for i in range(n):
        session = stub.OpenSession(
            pb.OpenSessionRequest(
                purpose=pb.SESSION_PURPOSE_CARD_VERIFICATION, idempotency_key=f"{tag}-o{i}"
            ),
            timeout=10,
        )
        digest = card_challenge_digest("SESSION_PURPOSE_CARD_VERIFICATION", TERMINAL, session.nonce)
        signature = key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        out.append(
            pb.VerifyCardRequest(
                session_id=session.session_id,
                terminal_id=TERMINAL,
                proof=pb.CardProof(certificate_der=der, signature=signature),
                idempotency_key=f"{tag}-v{i}",
            )
        )
    return out


def _all_at_once(stub: pb_grpc.VerifierServiceStub, requests: list[Any]) -> list[Any]:
    futures = [stub.VerifyCard.future(r, timeout=30) for r in requests]  # type: ignore[attr-defined]
    return [f.result() for f in futures]


def test_concurrent_verifications_are_each_stored_once(
    env: VerifierEnv, server: ServerThread
) -> None:
    with server.stub(env.credentials(TERMINAL)) as stub:
        requests = _requests(stub, 32, "many")
        with server.core.storage.transaction() as tx:
            audited = tx.count("audit")
        answers = _all_at_once(stub, requests)
        assert [a.reason for a in answers] == [pb.REASON_OK] * 32
        with server.core.storage.transaction() as tx:
            assert tx.count("audit") == audited + 32
            for request in requests:
                session = tx.get_session(request.session_id)
                assert session is not None
                assert session.used_us is not None  # consumed, and committed
        # The same nonces under new keys: replays.
        replays = [
            pb.VerifyCardRequest(**{**_fields(r), "idempotency_key": "r" + r.idempotency_key})
            for r in requests[:4]
        ]
        assert {a.reason for a in _all_at_once(stub, replays)} == {pb.REASON_NONCE_REPLAYED}


def test_the_same_request_at_once_gets_one_stored_answer(
    env: VerifierEnv, server: ServerThread
) -> None:
    with server.stub(env.credentials(TERMINAL)) as stub:
        (request,) = _requests(stub, 1, "dup")
        with server.core.storage.transaction() as tx:
            audited = tx.count("audit")
        answers = _all_at_once(stub, [request] * 16)
        assert all(a == answers[0] for a in answers)
        assert answers[0].reason == pb.REASON_OK
        with server.core.storage.transaction() as tx:
            assert tx.count("audit") == audited + 1


def _fields(request: pb.VerifyCardRequest) -> dict[str, Any]:
    return {
        "session_id": request.session_id,
        "terminal_id": request.terminal_id,
        "proof": request.proof,
        "idempotency_key": request.idempotency_key,
    }
