# SPDX-License-Identifier: Apache-2.0
"""A stopping verifier drains: NOT_SERVING first, still serving, then it refuses (issue 16, item 5).

``VerifierServer.stop(drain=...)`` is what SIGTERM runs (``shutdown_drain_seconds``):
health turns NOT_SERVING at once, so the agents' channels leave this replica,
calls that still arrive are served for the drain time, then new calls are
refused. The two-replica version under load is ``tests/chaos/test_chaos_rolling_restart.py``.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from myna_edge.loop_thread import LoopThread
from tests.verifier_support import make_env
from verifier.server import SERVICE_NAME, VerifierServer

_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def test_stop_reports_not_serving_then_serves_the_drain_then_refuses(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    server = VerifierServer(env.config())
    loop = LoopThread()
    try:
        port = loop.run(server.start())
        options = (("grpc.ssl_target_name_override", "localhost"),)
        with grpc.secure_channel(
            f"127.0.0.1:{port}", env.credentials("atm-01"), options=options
        ) as channel:
            stub = pb_grpc.VerifierServiceStub(channel)
            health = health_pb2_grpc.HealthStub(channel)

            def request(key: str) -> pb.OpenSessionRequest:
                return pb.OpenSessionRequest(
                    purpose=pb.SESSION_PURPOSE_TRANSFER, idempotency_key=key
                )

            assert stub.OpenSession(request("before"), timeout=10).session_id
            stopping = threading.Thread(target=loop.run, args=(server.stop(5.0, drain=5.0),))
            stopping.start()
            status = health_pb2.HealthCheckRequest(service=SERVICE_NAME)
            for _ in range(400):  # bounded: until the stop has begun
                if health.Check(status, timeout=10).status == _NOT_SERVING:
                    break
                asyncio.run(asyncio.sleep(0.01))
            assert health.Check(status, timeout=10).status == _NOT_SERVING
            # Draining: a call that still comes here is served.
            assert stub.OpenSession(request("draining"), timeout=10).session_id
            stopping.join()
            with pytest.raises(grpc.RpcError) as refused:
                stub.OpenSession(request("after"), timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        loop.run(server.stop(1.0))  # harmless after the stop above; cleans up after a failure
        loop.close()
