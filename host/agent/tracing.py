# SPDX-License-Identifier: Apache-2.0
"""The agent's OpenTelemetry traces: one trace per terminal API command.

Off unless ``config.tracing`` is set (``[tracing] endpoint`` or ``--otlp``).
Then the agent has a tracer provider (``service.name`` = ``myna-agent``),
installed for the process before the verifier channel opens: each
``Execute`` command is a span (``host.api.execute``), each verifier call a
client span whose context the verifier continues (``myna_metrics.tracing``:
why our own interceptors and which attributes, none of them personal).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from myna_metrics.tracing import build_provider, install_agent_tracer

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from host.agent.config import AgentConfig

__all__ = ["SERVICE_NAME", "AgentTracing"]

#: The ``service.name`` resource of the agent's spans.
SERVICE_NAME: Final = "myna-agent"


class AgentTracing:
    """The agent's tracer provider (None when tracing is off)."""

    def __init__(self, config: AgentConfig) -> None:
        #: Tests add a span processor here (an in-memory exporter).
        self.provider: TracerProvider | None = (
            build_provider(config.tracing, SERVICE_NAME) if config.tracing is not None else None
        )

    def install(self) -> None:
        """Trace commands and new verifier channels from now on (nothing when off)."""
        if self.provider is not None:
            install_agent_tracer(self.provider)

    def shutdown(self) -> None:
        """Stop tracing and flush the batched spans (blocking: call it in a thread)."""
        if self.provider is not None:
            install_agent_tracer(None)
            self.provider.shutdown()
            self.provider = None
