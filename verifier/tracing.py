# SPDX-License-Identifier: Apache-2.0
"""The verifier's OpenTelemetry traces: a server span per call, continuing the agent's trace.

Off unless ``config.tracing`` is set (``[tracing] endpoint`` or ``--otlp``):
then the process has its own tracer provider (``service.name`` =
``myna-verifier``) and one ``ServerTracingInterceptor``
(``myna_metrics.tracing``: why our own interceptors). The provider is the
server's, not the global one, so a test can run an agent and a verifier in
one process and still tell their spans apart.

A worker (``verifier.workers``) is its own process: it also switches its
log lines to JSON here when ``log_format`` says so, because the supervisor's
formatter does not cross the spawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from myna_metrics.json_logs import use_json_logs
from myna_metrics.tracing import ServerTracingInterceptor, build_provider

if TYPE_CHECKING:
    import grpc
    from opentelemetry.sdk.trace import TracerProvider

    from verifier.config import VerifierConfig

__all__ = ["SERVICE_NAME", "VerifierTracing"]

#: The ``service.name`` resource of the verifier's spans.
SERVICE_NAME: Final = "myna-verifier"


class VerifierTracing:
    """The verifier's tracer provider (None when tracing is off) and its interceptors."""

    def __init__(self, provider: TracerProvider | None, *, json_logs: bool = False) -> None:
        #: Tests add a span processor here (an in-memory exporter).
        self.provider = provider
        self._json_logs = json_logs

    @classmethod
    def for_server(cls, config: VerifierConfig, *, worker: bool = False) -> VerifierTracing:
        """Tracing as ``config`` says; a worker process also applies ``log_format``."""
        if worker and config.log_format == "json":
            use_json_logs()
        json_logs = config.log_format == "json"
        if config.tracing is None:
            return cls(None, json_logs=json_logs)
        return cls(build_provider(config.tracing, SERVICE_NAME), json_logs=json_logs)

    def interceptors(self) -> tuple[grpc.aio.ServerInterceptor, ...]:
        """None when off (tracing off costs nothing per call); JSON logs alone get request ids."""
        if self.provider is not None:
            return (ServerTracingInterceptor(self.provider.get_tracer("myna_edge.verifier")),)
        return (ServerTracingInterceptor(None),) if self._json_logs else ()

    def shutdown(self) -> None:
        """Flush and stop the exporter (blocking: call it in a thread); harmless twice."""
        if self.provider is not None:
            self.provider.shutdown()
            self.provider = None
