# SPDX-License-Identifier: Apache-2.0
"""The access log: one line per call, and ``retry=N`` on the attempts gRPC retried.

Real grpc.aio server with the interceptor on 127.0.0.1 and a real client
channel with our retry policy; the servicer is a small fake whose first
answer is UNAVAILABLE, so the second attempt carries
``grpc-previous-rpc-attempts`` (gRFC A6).
"""

from __future__ import annotations

import asyncio
import logging

import grpc
import grpc.aio
import pytest

from host.client import ClientConfig
from host.client.channel import open_channel
from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from myna_metrics.access_log import AccessLogInterceptor


class FlakyOnce(pb_grpc.VerifierServiceServicer):
    def __init__(self) -> None:
        self.calls = 0

    async def OpenSession(
        self,
        request: pb.OpenSessionRequest,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> pb.OpenSessionResponse:
        self.calls += 1
        if self.calls == 1:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "first attempt fails")
        return pb.OpenSessionResponse(session_id="ses-1")


def test_a_retried_attempt_is_logged_with_its_number(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        server = grpc.aio.server(interceptors=[AccessLogInterceptor()])
        pb_grpc.add_VerifierServiceServicer_to_server(FlakyOnce(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            config = ClientConfig(f"127.0.0.1:{port}", "atm-01", insecure_dev=True)
            async with open_channel(config) as channel:
                stub = pb_grpc.VerifierServiceStub(channel)
                request = pb.OpenSessionRequest(idempotency_key="k-1")
                await stub.OpenSession(request, timeout=5)  # type: ignore[misc]
        finally:
            await server.stop(None)

    with caplog.at_level(logging.INFO, logger="myna_metrics.access_log"):
        asyncio.run(scenario())
    lines = [r.getMessage() for r in caplog.records if "OpenSession" in r.getMessage()]
    assert len(lines) == 2
    assert " UNAVAILABLE " in lines[0]
    assert "retry=" not in lines[0]
    assert " OK " in lines[1]
    assert lines[1].endswith(" retry=1")
    assert all("k-1" not in line for line in lines)  # never a request body
