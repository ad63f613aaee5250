# SPDX-License-Identifier: Apache-2.0
"""The access-log interceptor's decode guard: an undecodable body is INVALID_ARGUMENT.

Found by the fuzz campaign (tests/chaos/corpus/verifier_VerifyCard/*crash-*):
grpc.aio alone answers UNKNOWN with the protobuf parser's text. Real grpc.aio
server on 127.0.0.1; the client sends raw bytes, as a hostile terminal could.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import grpc.aio

from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from myna_metrics.access_log import UNDECODABLE_DETAILS, AccessLogInterceptor


class Counting(pb_grpc.VerifierServiceServicer):
    def __init__(self) -> None:
        self.calls = 0

    async def OpenSession(
        self, request: pb.OpenSessionRequest, context: Any
    ) -> pb.OpenSessionResponse:
        self.calls += 1
        return pb.OpenSessionResponse(session_id="ses-1")


def test_an_undecodable_body_is_invalid_argument_and_never_reaches_the_servicer() -> None:
    async def scenario() -> tuple[grpc.StatusCode, str, int]:
        servicer = Counting()
        server = grpc.aio.server(interceptors=(AccessLogInterceptor(),))
        pb_grpc.add_VerifierServiceServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                call = channel.unary_unary("/myna.edge.v1.VerifierService/OpenSession")
                try:
                    await call(b"\n", timeout=5)
                except grpc.aio.AioRpcError as exc:
                    return exc.code(), exc.details() or "", servicer.calls
        finally:
            await server.stop(None)
        raise AssertionError("an undecodable body was accepted")

    code, details, calls = asyncio.run(scenario())
    assert (code, details, calls) == (grpc.StatusCode.INVALID_ARGUMENT, UNDECODABLE_DETAILS, 0)
