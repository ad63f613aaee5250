# SPDX-License-Identifier: Apache-2.0
"""The decode guard: an undecodable body is INVALID_ARGUMENT, not UNKNOWN with parser text.

Real grpc.aio server on 127.0.0.1 with the interceptor and a small servicer;
the client sends raw bytes (no serializer), as a hostile application could.
Found by the fuzz campaign (tests/chaos/corpus/terminal_*/*crash-*).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio

from host.api.decoding import UNDECODABLE_DETAILS, DecodeGuardInterceptor
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc

_NOT_PROTOBUF = b"\n"  # field 1, length-delimited, and no length: a truncated message


class Small(tpb_grpc.TerminalServiceServicer):
    def __init__(self) -> None:
        self.calls = 0

    async def Cancel(self, request: tpb.CancelRequest, context: Any) -> tpb.CancelResponse:
        self.calls += 1
        return tpb.CancelResponse(cancelled=list(request.request_ids))

    async def WatchStatus(
        self, request: tpb.WatchStatusRequest, context: Any
    ) -> AsyncIterator[tpb.WatchStatusResponse]:
        self.calls += 1
        yield tpb.WatchStatusResponse()


async def _codes() -> tuple[list[grpc.StatusCode], list[str], int, list[str]]:
    servicer = Small()
    server = grpc.aio.server(interceptors=(DecodeGuardInterceptor(),))
    tpb_grpc.add_TerminalServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    codes, details = [], []
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            unary = channel.unary_unary("/myna.edge.v1.TerminalService/Cancel")
            stream = channel.unary_stream("/myna.edge.v1.TerminalService/WatchStatus")
            for call in (lambda: unary(_NOT_PROTOBUF, timeout=5), lambda: _drain(stream)):
                try:
                    await call()
                except grpc.aio.AioRpcError as exc:
                    codes.append(exc.code())
                    details.append(exc.details() or "")
            good = tpb.CancelRequest(request_ids=["r-1"]).SerializeToString()
            answer = tpb.CancelResponse.FromString(await unary(good, timeout=5))
    finally:
        await server.stop(None)
    return codes, details, servicer.calls, list(answer.cancelled)


async def _drain(stream: Any) -> None:
    async for _ in stream(_NOT_PROTOBUF, timeout=5):
        pass


def test_undecodable_bodies_are_invalid_argument_and_never_reach_the_servicer() -> None:
    codes, details, calls, cancelled = asyncio.run(_codes())
    assert codes == [grpc.StatusCode.INVALID_ARGUMENT] * 2
    assert details == [UNDECODABLE_DETAILS] * 2
    assert calls == 1  # only the good request
    assert cancelled == ["r-1"]
