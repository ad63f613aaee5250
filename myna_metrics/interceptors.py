# SPDX-License-Identifier: Apache-2.0
"""gRPC metrics with the names Go's grpc-prometheus made the convention.

Server (``ServerMetricsInterceptor``, grpc.aio)::

    grpc_server_started_total{grpc_type,grpc_service,grpc_method}
    grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}
    grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method}  (histogram)

and the ``grpc_client_*`` twins (``ClientMetricsInterceptor``). ``grpc_code``
is Go's spelling (``OK``, ``InvalidArgument``, ``Unavailable``...) so the
dashboards and alerts written for grpc-prometheus work unchanged. Labels are
method names and codes only: never a request field, so never a secret or
personal data.

Why an ``observe`` hook: domain metrics that a response already says
(verdict and reason, a transfer's final state, an agent command's
completion code) are counted from the response here, so the servicers and
flows stay free of metrics code. The hook sees each response message of
the methods it names and must be cheap and must not raise.

Why it is cheap: the wrapped handler and the label children are built once
per method, so a call costs two counter increments and one histogram
observation.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import grpc
from prometheus_client import Counter, Histogram

__all__ = [
    "GO_CODE_NAMES",
    "ClientMetricsInterceptor",
    "Observer",
    "ServerMetricsInterceptor",
    "client_interceptors",
    "enable_client_metrics",
]

#: grpc-prometheus spells codes as Go's ``codes.Code.String()`` does.
GO_CODE_NAMES: Final = {
    grpc.StatusCode.OK: "OK",
    grpc.StatusCode.CANCELLED: "Canceled",
    grpc.StatusCode.UNKNOWN: "Unknown",
    grpc.StatusCode.INVALID_ARGUMENT: "InvalidArgument",
    grpc.StatusCode.DEADLINE_EXCEEDED: "DeadlineExceeded",
    grpc.StatusCode.NOT_FOUND: "NotFound",
    grpc.StatusCode.ALREADY_EXISTS: "AlreadyExists",
    grpc.StatusCode.PERMISSION_DENIED: "PermissionDenied",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "ResourceExhausted",
    grpc.StatusCode.FAILED_PRECONDITION: "FailedPrecondition",
    grpc.StatusCode.ABORTED: "Aborted",
    grpc.StatusCode.OUT_OF_RANGE: "OutOfRange",
    grpc.StatusCode.UNIMPLEMENTED: "Unimplemented",
    grpc.StatusCode.INTERNAL: "Internal",
    grpc.StatusCode.UNAVAILABLE: "Unavailable",
    grpc.StatusCode.DATA_LOSS: "DataLoss",
    grpc.StatusCode.UNAUTHENTICATED: "Unauthenticated",
}
_LABELS: Final = ("grpc_type", "grpc_service", "grpc_method")
#: grpc-prometheus's default buckets (Prometheus DefBuckets), seconds.
_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

SERVER_STARTED: Final = Counter("grpc_server_started", "RPCs started on the server.", _LABELS)
SERVER_HANDLED: Final = Counter(
    "grpc_server_handled", "RPCs completed on the server, by code.", (*_LABELS, "grpc_code")
)
SERVER_SECONDS: Final = Histogram(
    "grpc_server_handling_seconds",
    "Time the server took to handle an RPC (to its last response).",
    _LABELS,
    buckets=_BUCKETS,
)
CLIENT_STARTED: Final = Counter("grpc_client_started", "RPCs started by the client.", _LABELS)
CLIENT_HANDLED: Final = Counter(
    "grpc_client_handled", "RPCs completed by the client, by code.", (*_LABELS, "grpc_code")
)
CLIENT_SECONDS: Final = Histogram(
    "grpc_client_handling_seconds",
    "Time from the client's call to its response.",
    _LABELS,
    buckets=_BUCKETS,
)

#: ``observe(method, request, response)`` for each response message of a method.
Observer = Callable[[str, Any, Any], None]


def _split(method: str | bytes) -> tuple[str, str]:
    text = method.decode("ascii", "replace") if isinstance(method, bytes) else method
    service, _, name = text.lstrip("/").partition("/")
    return service or "unknown", name or "unknown"


def _code_of(context: grpc.aio.ServicerContext[Any, Any], error: BaseException | None) -> str:
    code: Any = context.code()
    if isinstance(code, grpc.StatusCode):
        return GO_CODE_NAMES.get(code, "Unknown")
    if error is None or isinstance(error, GeneratorExit):
        return "OK"
    if isinstance(error, (grpc.aio.AbortError, KeyboardInterrupt)):
        return "Unknown"
    # asyncio.CancelledError: the client went away or the server is stopping
    return "Canceled" if type(error).__name__ == "CancelledError" else "Unknown"


class _MethodMeter:
    """One method's label children, built once."""

    def __init__(self, kind: str, method: str, *, server: bool) -> None:
        service, name = _split(method)
        labels = (kind, service, name)
        started, self._handled, seconds = (
            (SERVER_STARTED, SERVER_HANDLED, SERVER_SECONDS)
            if server
            else (CLIENT_STARTED, CLIENT_HANDLED, CLIENT_SECONDS)
        )
        self.started = started.labels(*labels)
        self.seconds = seconds.labels(*labels)
        self._labels = labels
        self._by_code: dict[str, Any] = {}

    def handled(self, code: str, elapsed: float) -> None:
        child = self._by_code.get(code)
        if child is None:
            child = self._by_code[code] = self._handled.labels(*self._labels, code)
        child.inc()
        self.seconds.observe(elapsed)


class ServerMetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts every RPC of a grpc.aio server; put it first (outermost) in the tuple.

    Args:
        observers: per full method name (``/pkg.Service/Method``), a hook that
            sees each response message (domain metrics).
    """

    def __init__(self, observers: dict[str, Observer] | None = None) -> None:
        self._observers = dict(observers or {})
        self._wrapped: dict[str, tuple[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        """Wrap the method's handler (built once per method)."""
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapper = self._wrap(method, handler)
        self._wrapped[method] = (handler, wrapper)
        return wrapper

    def _wrap(self, method: str, handler: Any) -> Any:
        observe = self._observers.get(method)
        serial = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            meter = _MethodMeter("unary", method, server=True)
            return grpc.unary_unary_rpc_method_handler(
                _unary(handler.unary_unary, meter, method, observe), **serial
            )
        if handler.stream_unary is not None:
            meter = _MethodMeter("client_stream", method, server=True)
            return grpc.stream_unary_rpc_method_handler(
                _unary(handler.stream_unary, meter, method, observe), **serial
            )
        if handler.unary_stream is not None:
            meter = _MethodMeter("server_stream", method, server=True)
            return grpc.unary_stream_rpc_method_handler(
                _streaming(handler.unary_stream, meter, method, observe), **serial
            )
        meter = _MethodMeter("bidi_stream", method, server=True)
        return grpc.stream_stream_rpc_method_handler(
            _streaming(handler.stream_stream, meter, method, observe), **serial
        )


def _unary(inner: Any, meter: _MethodMeter, method: str, observe: Observer | None) -> Any:
    async def metered(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        meter.started.inc()
        start = time.perf_counter()
        error: BaseException | None = None
        try:
            response = await inner(request, context)
            if observe is not None and response is not None:
                observe(method, request, response)
            return response
        except BaseException as exc:
            error = exc
            raise
        finally:
            meter.handled(_code_of(context, error), time.perf_counter() - start)

    return metered


def _streaming(inner: Any, meter: _MethodMeter, method: str, observe: Observer | None) -> Any:
    async def metered(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        meter.started.inc()
        start = time.perf_counter()
        error: BaseException | None = None
        try:
            result = inner(request, context)
            if inspect.isawaitable(result):  # a handler that writes with context.write
                await result
                return
            async for response in result:
                if observe is not None:
                    observe(method, request, response)
                yield response
        except BaseException as exc:
            error = exc
            raise
        finally:
            meter.handled(_code_of(context, error), time.perf_counter() - start)

    return metered


class ClientMetricsInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Counts the client's unary calls (``grpc_client_*``; the verifier's API is all unary)."""

    def __init__(self) -> None:
        self._meters: dict[tuple[str, str | bytes], _MethodMeter] = {}

    def _meter(self, kind: str, method: str | bytes) -> _MethodMeter:
        meter = self._meters.get((kind, method))
        if meter is None:
            text = method.decode("ascii", "replace") if isinstance(method, bytes) else method
            meter = self._meters[(kind, method)] = _MethodMeter(kind, text, server=False)
        return meter

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        """Time the call to its response; the call is returned as it came."""
        meter = self._meter("unary", client_call_details.method)
        meter.started.inc()
        start = time.perf_counter()
        code = "Unknown"
        try:
            call = await continuation(client_call_details, request)
            await call
            code = "OK"
        except grpc.aio.AioRpcError as exc:
            code = GO_CODE_NAMES.get(exc.code(), "Unknown")
            raise
        except BaseException as exc:
            code = "Canceled" if type(exc).__name__ == "CancelledError" else "Unknown"
            raise
        finally:
            meter.handled(code, time.perf_counter() - start)
        return call


_client_enabled = False


def enable_client_metrics() -> None:
    """Make ``client_interceptors`` count calls (a process that serves ``/metrics``)."""
    global _client_enabled  # one switch per process
    _client_enabled = True


def client_interceptors() -> tuple[ClientMetricsInterceptor, ...]:
    """The interceptors a new channel should carry: none unless metrics are on."""
    return (ClientMetricsInterceptor(),) if _client_enabled else ()
