# SPDX-License-Identifier: Apache-2.0
"""``myna_metrics.interceptors`` on a real grpc.aio server and channel (bytes, no protos).

Counters are process-wide, so each check is a difference before/after.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
import pytest
from prometheus_client import REGISTRY

from myna_metrics import ClientMetricsInterceptor, ServerMetricsInterceptor

SERVICE = "myna.test.v1.EchoService"


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def _echo(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    if request == b"bad":
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad")
    if request == b"boom":
        raise RuntimeError("boom")
    return request


async def _count(
    request: bytes, context: grpc.aio.ServicerContext[Any, Any]
) -> AsyncIterator[bytes]:
    for index in range(int(request)):
        yield str(index).encode()


def _handlers() -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Echo": grpc.unary_unary_rpc_method_handler(_echo),
            "Count": grpc.unary_stream_rpc_method_handler(_count),
        },
    )


def test_server_and_client_counts() -> None:
    seen: list[bytes] = []

    def observe(method: str, request: Any, response: Any) -> None:
        assert method == f"/{SERVICE}/Count"
        seen.append(response)

    unary = {"grpc_type": "unary", "grpc_service": SERVICE, "grpc_method": "Echo"}
    stream = {"grpc_type": "server_stream", "grpc_service": SERVICE, "grpc_method": "Count"}
    before = {
        "ok": _value("grpc_server_handled_total", **unary, grpc_code="OK"),
        "invalid": _value("grpc_server_handled_total", **unary, grpc_code="InvalidArgument"),
        "unknown": _value("grpc_server_handled_total", **unary, grpc_code="Unknown"),
        "started": _value("grpc_server_started_total", **unary),
        "stream": _value("grpc_server_handled_total", **stream, grpc_code="OK"),
        "seconds": _value("grpc_server_handling_seconds_count", **unary),
        "client_ok": _value("grpc_client_handled_total", **unary, grpc_code="OK"),
        "client_invalid": _value("grpc_client_handled_total", **unary, grpc_code="InvalidArgument"),
    }

    async def scenario() -> None:
        server = grpc.aio.server(
            interceptors=(ServerMetricsInterceptor({f"/{SERVICE}/Count": observe}),)
        )
        server.add_generic_rpc_handlers((_handlers(),))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(
                f"127.0.0.1:{port}", interceptors=(ClientMetricsInterceptor(),)
            ) as channel:
                echo = channel.unary_unary(f"/{SERVICE}/Echo")
                count = channel.unary_stream(f"/{SERVICE}/Count")
                for _ in range(3):
                    assert await echo(b"hi", timeout=5) == b"hi"
                for payload, code in ((b"bad", "INVALID_ARGUMENT"), (b"boom", "UNKNOWN")):
                    with pytest.raises(grpc.aio.AioRpcError) as failed:
                        await echo(payload, timeout=5)
                    assert failed.value.code().name == code
                assert [m async for m in count(b"4", timeout=5)] == [b"0", b"1", b"2", b"3"]
        finally:
            await server.stop(None)

    asyncio.run(scenario())
    assert _value("grpc_server_started_total", **unary) - before["started"] == 5
    assert _value("grpc_server_handled_total", **unary, grpc_code="OK") - before["ok"] == 3
    invalid = _value("grpc_server_handled_total", **unary, grpc_code="InvalidArgument")
    assert invalid - before["invalid"] == 1
    unknown = _value("grpc_server_handled_total", **unary, grpc_code="Unknown")
    assert unknown - before["unknown"] == 1
    assert _value("grpc_server_handling_seconds_count", **unary) - before["seconds"] == 5
    assert _value("grpc_server_handled_total", **stream, grpc_code="OK") - before["stream"] == 1
    assert seen == [b"0", b"1", b"2", b"3"]
    client_ok = _value("grpc_client_handled_total", **unary, grpc_code="OK")
    assert client_ok - before["client_ok"] == 3
    client_invalid = _value("grpc_client_handled_total", **unary, grpc_code="InvalidArgument")
    assert client_invalid - before["client_invalid"] == 1
