# SPDX-License-Identifier: Apache-2.0
"""Handlers wrapped at registration (``myna_metrics.registration``), not per call.

The verifier registers its servicers through ``WrappingServer`` with the
access log and the fleet's decoding (issue 18): a real grpc.aio server with
no interceptor must log the same line the interceptor logs, refuse an
undecodable body the same way, and wrap in the stated order.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

import grpc
import grpc.aio
import pytest

from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from myna_metrics.access_log import UNDECODABLE_DETAILS, AccessLogInterceptor, access_logged
from myna_metrics.registration import WrappingServer

_METHOD = "/myna.edge.v1.VerifierService/OpenSession"


class Counting(pb_grpc.VerifierServiceServicer):
    def __init__(self) -> None:
        self.calls = 0

    async def OpenSession(
        self, request: pb.OpenSessionRequest, context: Any
    ) -> pb.OpenSessionResponse:
        self.calls += 1
        return pb.OpenSessionResponse(session_id="ses-1")


async def _serve(wrapped: bool, body: bytes) -> tuple[grpc.StatusCode, str, int]:
    """One raw call to a server logged by registration (``wrapped``) or by the interceptor."""
    servicer = Counting()
    if wrapped:
        server = grpc.aio.server()
        pb_grpc.add_VerifierServiceServicer_to_server(
            servicer, WrappingServer(server, (access_logged,))
        )
    else:
        server = grpc.aio.server(interceptors=(AccessLogInterceptor(),))
        pb_grpc.add_VerifierServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary(_METHOD)
            try:
                await call(body, metadata=(("x-request-id", "req-42"),), timeout=5)
            except grpc.aio.AioRpcError as exc:
                return exc.code(), exc.details() or "", servicer.calls
            return grpc.StatusCode.OK, "", servicer.calls
    finally:
        await server.stop(None)


def _shape(line: str) -> str:
    return re.sub(r"\d+\.\d\d ms", "N ms", line)


@pytest.mark.parametrize("body", [b"", b"\n"], ids=["decodes", "undecodable"])
def test_registration_logs_and_refuses_as_the_interceptor_does(
    body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    lines: dict[bool, list[str]] = {}
    outcomes = {}
    for wrapped in (False, True):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="myna_metrics.access_log"):
            outcomes[wrapped] = asyncio.run(_serve(wrapped, body))
        lines[wrapped] = [
            _shape(r.getMessage()) for r in caplog.records if r.name == "myna_metrics.access_log"
        ]
    if body == b"":
        code, want = grpc.StatusCode.OK, (grpc.StatusCode.OK, "", 1)
    else:
        code = grpc.StatusCode.INVALID_ARGUMENT
        want = (code, UNDECODABLE_DETAILS, 0)  # the servicer never sees it
    assert outcomes[True] == outcomes[False] == want
    assert lines[True] == lines[False] == [f"req-42 {_METHOD} {code.name} N ms"]


class _Recording(grpc.aio.Server):
    """Records what reaches the real server (no network)."""

    def __init__(self) -> None:
        self.registered: dict[str, Any] = {}
        self.generic: list[grpc.GenericRpcHandler] = []

    def add_generic_rpc_handlers(
        self, generic_rpc_handlers: Iterable[grpc.GenericRpcHandler]
    ) -> None:
        self.generic.extend(generic_rpc_handlers)

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: Mapping[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        for name, handler in method_handlers.items():
            self.registered[f"/{service_name}/{name}"] = handler

    def add_insecure_port(self, address: str) -> int:
        return 0

    def add_secure_port(self, address: str, server_credentials: grpc.ServerCredentials) -> int:
        return 0

    async def start(self) -> None:
        return None

    async def stop(self, grace: float | None) -> None:
        return None

    async def wait_for_termination(self, timeout: float | None = None) -> bool:
        return True


def _tag(label: str) -> Any:
    def wrap(method: str, handler: Any) -> Any:
        return (label, method, handler)

    return wrap


def test_wrappers_apply_first_innermost_with_the_full_method_name() -> None:
    recording = _Recording()
    wrapping = WrappingServer(recording, (_tag("inner"), _tag("outer")))
    wrapping.add_registered_method_handlers("pkg.Service", {"Call": "handler"})  # type: ignore[dict-item]
    method = "/pkg.Service/Call"
    assert recording.registered == {method: ("outer", method, ("inner", method, "handler"))}


def test_a_generic_handler_is_wrapped_once_per_method_and_handler() -> None:
    made: list[str] = []

    def count(method: str, handler: Any) -> Any:
        made.append(method)
        return ("wrapped", handler)

    class Generic(grpc.GenericRpcHandler):
        def __init__(self) -> None:
            self.handler: object = object()

        def service(self, handler_call_details: grpc.HandlerCallDetails) -> Any:
            return None if handler_call_details.method.endswith("/Missing") else self.handler

    class Details(grpc.HandlerCallDetails):
        def __init__(self, method: str) -> None:
            self.method = method
            self.invocation_metadata = ()

    recording = _Recording()
    inner = Generic()
    WrappingServer(recording, (count,)).add_generic_rpc_handlers([inner])
    (generic,) = recording.generic
    first = generic.service(Details("/s/A"))
    assert generic.service(Details("/s/A")) is first == ("wrapped", inner.handler)
    assert generic.service(Details("/s/Missing")) is None
    inner.handler = object()  # a new handler for the method: wrapped again
    assert generic.service(Details("/s/A")) == ("wrapped", inner.handler)
    assert made == ["/s/A", "/s/A"]
