# SPDX-License-Identifier: Apache-2.0
"""The verifier over PostgreSQL while the database restarts: UNAVAILABLE, then the same answer.

Real ``VerifierServer`` over mTLS on a real cluster. While PostgreSQL is down
a state-changing call is answered UNAVAILABLE (reason STORAGE_UNAVAILABLE,
no database text), the code the client's gRPC retries; after the restart
the same request with the same idempotency key is served once, and a
repeat gets the stored answer.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from myna.edge.v1 import verifier_pb2 as pb
from tests.postgres_support import PostgresCluster, postgres_cluster
from tests.verifier_support import ServerThread, VerifierEnv, make_env


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("verifier-pg-restart"))


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster() as running:
        yield running


def test_database_restart_is_unavailable_then_served_once(
    env: VerifierEnv, cluster: PostgresCluster
) -> None:
    server = ServerThread(env.config(cluster.new_database())).start()
    try:
        with server.stub(env.credentials("atm-01")) as stub:
            first = pb.OpenSessionRequest(
                purpose=pb.SESSION_PURPOSE_TRANSFER, idempotency_key="before"
            )
            stub.OpenSession(first, timeout=10)
            cluster.stop_server()
            request = pb.OpenSessionRequest(
                purpose=pb.SESSION_PURPOSE_TRANSFER, idempotency_key="op-1.session"
            )
            with pytest.raises(grpc.RpcError) as caught:
                stub.OpenSession(request, timeout=10)
            error: grpc.Call = caught.value  # type: ignore[assignment]
            assert error.code() == grpc.StatusCode.UNAVAILABLE
            info = dict(error.trailing_metadata() or ())["myna-error-bin"]
            assert pb.ErrorInfo.FromString(info).reason == "STORAGE_UNAVAILABLE"
            assert "127.0.0.1" not in (error.details() or "")  # no database text leaks
            cluster.start_server()
            served = stub.OpenSession(request, timeout=10)
            again = stub.OpenSession(request, timeout=10)
        assert again.session_id == served.session_id  # the stored answer, not a new session
        with server.core.storage.reading() as tx:
            assert tx.count("sessions") == 2
    finally:
        server.stop()
