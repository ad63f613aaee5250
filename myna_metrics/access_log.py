# SPDX-License-Identifier: Apache-2.0
"""Server interceptors: a request id and an access log line for every unary call.

A request body that does not decode is refused here with INVALID_ARGUMENT
(grpc.aio alone answers UNKNOWN with the parser's text; found by fuzzing).

Why an interceptor: cross-cutting concerns stay out of the servicer (STYLE §6,
after gRPC's Python interceptor examples). The request id is the caller's
``x-request-id`` header when it is sane, else a fresh one; the log line has
method, id, status and duration, never request or response bodies (they may
hold personal data), and ``retry=N`` when the client's gRPC says this is a
retry (``grpc-previous-rpc-attempts``, gRFC A6) — how retries are counted.

Why it is cheap: the wrapped handler is built once per method (the
servicer's handlers do not change) and the request id is only looked up when
the line will actually be logged. The verifier goes further (issue 18): it
applies ``access_logged`` when its servicers are registered
(``myna_metrics.registration``), so grpc.aio runs no interceptor chain per
call; the lines are the same.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar, cast

import grpc
from google.protobuf.message import DecodeError

__all__ = ["REQUEST_ID_HEADER", "UNDECODABLE_DETAILS", "AccessLogInterceptor", "access_logged"]

_log = logging.getLogger(__name__)

REQUEST_ID_HEADER: Final = "x-request-id"
_ATTEMPTS_HEADER: Final = "grpc-previous-rpc-attempts"
_SANE_ID: Final = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
#: A request body that does not decode is refused with this, as INVALID_ARGUMENT.
UNDECODABLE_DETAILS: Final = "the request body does not decode as the method's request message"
_UNDECODABLE: Final = object()
_Req = TypeVar("_Req")
_Resp = TypeVar("_Resp")


def _request_id(metadata: Any) -> str:
    for key, value in metadata or ():
        if key == REQUEST_ID_HEADER and isinstance(value, str) and _SANE_ID.fullmatch(value):
            return value
    return secrets.token_hex(8)


def _retry_suffix(metadata: Any) -> str:
    for key, value in metadata or ():
        if key == _ATTEMPTS_HEADER and isinstance(value, str) and value.isdigit():
            return f" retry={int(value)}"
    return ""


def _tolerant(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any]:
    """A deserializer that turns a body that does not parse into ``_UNDECODABLE``."""

    def tolerant(data: bytes) -> Any:
        if deserialize is None:
            return data
        try:
            return deserialize(data)
        except DecodeError:
            return _UNDECODABLE

    return tolerant


def access_logged(method: str, handler: Any) -> Any:
    """``handler`` wrapped to log its calls, if it is unary-unary; any other kind unchanged.

    One line per call at INFO (DEBUG for health checks) and a tolerant
    request deserializer (a body that does not decode: INVALID_ARGUMENT).
    A ``myna_metrics.registration.HandlerWrapper``.
    """
    if handler is None or handler.unary_unary is None:
        return handler
    inner: Any = handler.unary_unary  # async under grpc.aio, whatever the stubs say
    level = logging.DEBUG if method.startswith("/grpc.health") else logging.INFO

    async def logged(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        start = time.perf_counter()
        try:
            if request is _UNDECODABLE:  # found by fuzzing: was UNKNOWN + parser text
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, UNDECODABLE_DETAILS)
            return await inner(request, context)
        finally:
            if _log.isEnabledFor(level):
                elapsed_ms = (time.perf_counter() - start) * 1000
                code: Any = context.code()
                name = code.name if isinstance(code, grpc.StatusCode) else "OK"
                metadata = context.invocation_metadata()
                request_id, retry = _request_id(metadata), _retry_suffix(metadata)
                line = "%s %s %s %.2f ms%s"
                _log.log(level, line, request_id, method, name, elapsed_ms, retry)

    wrapped: Any = logged  # grpc.aio accepts coroutine functions here
    return grpc.unary_unary_rpc_method_handler(
        wrapped,
        request_deserializer=_tolerant(handler.request_deserializer),
        response_serializer=handler.response_serializer,
    )


class AccessLogInterceptor(grpc.aio.ServerInterceptor):
    """Logs one line per unary-unary call at INFO (DEBUG for health checks).

    The same wrapper as ``access_logged``, chosen per call: for a server
    whose registrations cannot go through ``myna_metrics.registration``.
    """

    def __init__(self) -> None:
        # method -> (the inner handler, its logging wrapper)
        self._wrapped: dict[str, tuple[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[_Req, _Resp] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[_Req, _Resp] | None:
        """Wrap unary-unary handlers; pass every other kind through."""
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method: str = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cast("grpc.RpcMethodHandler[_Req, _Resp]", cached[1])
        wrapper = access_logged(method, handler)
        self._wrapped[method] = (handler, wrapper)
        return cast("grpc.RpcMethodHandler[_Req, _Resp]", wrapper)
