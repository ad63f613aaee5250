# SPDX-License-Identifier: Apache-2.0
"""Prometheus metrics shared by the verifier and the agent (issue 16).

Why a package of its own: both servers need the same gRPC interceptors (the
names grpc-prometheus made the convention) and the same local-only
``/metrics`` listener, and ``verifier/`` must never import ``host/`` (nor
``host/`` the verifier). It imports neither, nor ``hw_sim``.

- ``listener``: ``MetricsListener`` (``/metrics`` on its own port, loopback
  by default, non-local peers refused unless allowed) and ``MetricsConfig``.
- ``interceptors``: ``ServerMetricsInterceptor`` (grpc.aio server) and
  ``ClientMetricsInterceptor`` (grpc.aio channel), counting
  ``grpc_server_*`` / ``grpc_client_*``.
- ``tracing``: OpenTelemetry spans over gRPC (off unless configured) and the
  request id of the command or call being served.
- ``json_logs``: the JSON-lines log formatter with trace and request ids.
- ``flow_steps``: the agent's time per flow step, and a span per step.
"""

from myna_metrics.interceptors import (
    ClientMetricsInterceptor,
    ServerMetricsInterceptor,
    client_interceptors,
    enable_client_metrics,
)
from myna_metrics.listener import MetricsConfig, MetricsListener, parse_metrics_address

__all__ = [
    "ClientMetricsInterceptor",
    "MetricsConfig",
    "MetricsListener",
    "ServerMetricsInterceptor",
    "client_interceptors",
    "enable_client_metrics",
    "parse_metrics_address",
]
