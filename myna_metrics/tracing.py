# SPDX-License-Identifier: Apache-2.0
"""OpenTelemetry traces from the terminal API command through the agent to the verifier.

One trace per ``Execute`` command: the agent opens a span for the command
(``command_span``), each verifier call is a client span
(``ClientTracingInterceptor``) that carries the W3C ``traceparent`` in the
gRPC metadata, and the verifier's ``ServerTracingInterceptor`` continues the
trace with a server span. The command's request id rides along as
``x-request-id`` and is the ``myna.request_id`` attribute of every span.

Why our own small grpc.aio interceptors rather than
opentelemetry-instrumentation-grpc: they sit next to the metrics
interceptors with the same shape (handler wrapped once per method), they are
only installed when tracing is on (so tracing off costs nothing), and they
put exactly the attributes we choose on a span: method names, status code,
request id. Never a request field, so never a PIN, a password, a My Number
or personal data. The instrumentation package would add wrapt and a
monkey-patching instrumentor for one unary API.

Off by default: nothing here runs unless a ``TracingConfig`` is given
(``[tracing] endpoint`` in the TOML or ``--otlp URL``). Spans go to an OTLP
collector over HTTP/protobuf in batches; the sampler is parent-based with a
trace-id ratio, so the verifier follows the agent's decision.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = [
    "REQUEST_ID",
    "REQUEST_ID_ATTRIBUTE",
    "REQUEST_ID_HEADER",
    "ClientTracingInterceptor",
    "ServerTracingInterceptor",
    "TracingConfig",
    "agent_tracer",
    "build_provider",
    "client_tracing_interceptors",
    "command_span",
    "install_agent_tracer",
    "tracing_config",
    "with_endpoint",
]

#: The request id of the command (agent) or call (verifier) being served; logs read it too.
REQUEST_ID: Final[contextvars.ContextVar[str | None]] = contextvars.ContextVar(
    "myna_request_id", default=None
)
REQUEST_ID_HEADER: Final = "x-request-id"
REQUEST_ID_ATTRIBUTE: Final = "myna.request_id"
_PROPAGATOR: Final = TraceContextTextMapPropagator()
_SCOPE: Final = "myna_edge"


@dataclass(frozen=True)
class TracingConfig:
    """Where spans go and how many traces are kept.

    Attributes:
        endpoint: the collector's OTLP/HTTP traces URL
            (``http://127.0.0.1:4318/v1/traces``); None makes spans that no
            exporter sends (tests add their own span processor).
        sample_ratio: the share of new traces kept, 0.0 to 1.0.
    """

    endpoint: str | None
    sample_ratio: float = 1.0


def tracing_config(endpoint: str | None, sample_ratio: float = 1.0) -> TracingConfig:
    """A validated ``TracingConfig``.

    Raises:
        ValueError: the endpoint is not an http(s) URL or the ratio is outside 0..1.
    """
    if endpoint is not None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("endpoint must be an http:// or https:// URL")
    if not 0.0 <= sample_ratio <= 1.0:
        raise ValueError("sample_ratio must be between 0 and 1")
    return TracingConfig(endpoint, float(sample_ratio))


def with_endpoint(current: TracingConfig | None, endpoint: str) -> TracingConfig:
    """``--otlp URL`` over a file's ``[tracing]``: its ``sample_ratio`` is kept.

    Raises:
        ValueError: not an http(s) URL.
    """
    return tracing_config(endpoint, current.sample_ratio if current is not None else 1.0)


def build_provider(config: TracingConfig, service_name: str) -> TracerProvider:
    """A tracer provider for one service (``service.name``), exporting in batches.

    The SDK is imported here, not at module import: a process with tracing
    off never loads it.
    """
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}),
        sampler=ParentBased(TraceIdRatioBased(config.sample_ratio)),
    )
    if config.endpoint is not None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=config.endpoint)))
    return provider


_agent_tracer: trace.Tracer | None = None


def install_agent_tracer(provider: TracerProvider | None) -> None:
    """Make ``command_span`` and new verifier channels trace with ``provider`` (None: off).

    One switch per process, like ``enable_client_metrics``: the agent is one
    process and its channels are opened far from its configuration.
    """
    global _agent_tracer  # one agent per process
    _agent_tracer = provider.get_tracer(_SCOPE) if provider is not None else None


def agent_tracer() -> trace.Tracer | None:
    """The agent's tracer, or None when tracing is off."""
    return _agent_tracer


def client_tracing_interceptors() -> tuple[ClientTracingInterceptor, ...]:
    """The tracing interceptors a new verifier channel should carry: none when off."""
    tracer = _agent_tracer
    return (ClientTracingInterceptor(tracer),) if tracer is not None else ()


@contextlib.contextmanager
def command_span(kind: str, request_id: str) -> Iterator[None]:
    """The span of one terminal API command (the trace's root), and its request id for logs.

    ``kind`` is the command's kind (``TRANSFER``, ``READ_CARD``...), never its content.
    """
    token = REQUEST_ID.set(request_id)
    try:
        tracer = _agent_tracer
        if tracer is None:
            yield
            return
        attributes = {REQUEST_ID_ATTRIBUTE: request_id, "myna.command": kind}
        with tracer.start_as_current_span(
            f"Execute {kind}",
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ):
            yield
    finally:
        REQUEST_ID.reset(token)


def _rpc_attributes(method: str) -> dict[str, str]:
    service, _, name = method.lstrip("/").partition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}


class ClientTracingInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """A client span per unary call, its context and request id sent in the metadata."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        """Start the span, inject ``traceparent`` (and ``x-request-id``), await the response."""
        raw: Any = client_call_details.method
        method = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
        attributes: dict[str, str] = _rpc_attributes(method)
        request_id = REQUEST_ID.get()
        if request_id is not None:
            attributes[REQUEST_ID_ATTRIBUTE] = request_id
        name = method.lstrip("/")
        with self._tracer.start_as_current_span(
            name,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            carrier: dict[str, str] = {}
            _PROPAGATOR.inject(carrier)
            metadata = list(client_call_details.metadata or ())
            metadata.extend(carrier.items())
            if request_id is not None:
                metadata.append((REQUEST_ID_HEADER, request_id))
            details = grpc.aio.ClientCallDetails(
                client_call_details.method,
                client_call_details.timeout,
                grpc.aio.Metadata(*metadata),
                client_call_details.credentials,
                client_call_details.wait_for_ready,
            )
            try:
                call = await continuation(details, request)
                await call
            except grpc.aio.AioRpcError as exc:
                span.set_attribute("rpc.grpc.status_code", exc.code().value[0])
                # the code's name only: a details text could quote a request field
                span.set_status(Status(StatusCode.ERROR, exc.code().name))
                raise
            span.set_attribute("rpc.grpc.status_code", 0)
            return call


def _request_id(metadata: Any) -> str | None:
    for key, value in metadata or ():
        if key == REQUEST_ID_HEADER and isinstance(value, str):
            return value[:64]
    return None


def _end_server_span(span: trace.Span, code: Any, *, failed: bool) -> None:
    """The call's status code on its span (the code's name only, never a details text)."""
    if not isinstance(code, grpc.StatusCode):
        # no code set: OK when the handler returned, else an abort/bug/cancel
        code = grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    if code is not grpc.StatusCode.OK:
        span.set_status(Status(StatusCode.ERROR, code.name))


class ServerTracingInterceptor(grpc.aio.ServerInterceptor):
    """A server span per unary call, continuing the caller's trace from the metadata.

    Streaming methods pass through untraced (the verifier's API is unary).

    Args:
        tracer: None keeps only the request id for the log lines
            (``myna_metrics.json_logs``) and makes no span.
    """

    def __init__(self, tracer: trace.Tracer | None) -> None:
        self._tracer = tracer
        self._wrapped: dict[str, tuple[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        """Wrap the method's unary handler (built once per method)."""
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method: str = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapper = grpc.unary_unary_rpc_method_handler(
            self._traced(method, handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        self._wrapped[method] = (handler, wrapper)
        return wrapper

    def _traced(self, method: str, inner: Any) -> Any:
        base = _rpc_attributes(method)
        name = method.lstrip("/")
        tracer = self._tracer
        if tracer is None:

            async def identified(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                token = REQUEST_ID.set(_request_id(context.invocation_metadata()))
                try:
                    return await inner(request, context)
                finally:
                    REQUEST_ID.reset(token)

            return identified

        async def traced(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            metadata = context.invocation_metadata()
            carrier = {k: v for k, v in metadata or () if isinstance(v, str)}
            parent = _PROPAGATOR.extract(carrier)
            attributes = dict(base)
            request_id = _request_id(metadata)
            if request_id is not None:
                attributes[REQUEST_ID_ATTRIBUTE] = request_id
            token = otel_context.attach(parent)
            rid_token = REQUEST_ID.set(request_id)
            try:
                with tracer.start_as_current_span(
                    name,
                    kind=SpanKind.SERVER,
                    attributes=attributes,
                    record_exception=False,
                    set_status_on_exception=False,
                ) as span:
                    failed = True
                    try:
                        response = await inner(request, context)
                        failed = False
                        return response
                    finally:
                        _end_server_span(span, context.code(), failed=failed)
            finally:
                REQUEST_ID.reset(rid_token)
                otel_context.detach(token)

        return traced
