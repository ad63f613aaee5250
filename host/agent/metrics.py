# SPDX-License-Identifier: Apache-2.0
"""The agent's Prometheus metrics: gRPC (``myna_metrics``) plus its domain.

Domain metrics (labels are enum names and device names, never a request id,
a card field or a secret)::

    myna_agent_flow_completions_total{command,code,reason}   each Execute's Completion
    myna_agent_flow_step_seconds{command,step}               time spent in each step
    myna_agent_step_seconds{flow,step}                       FlowMachine steps (flow_steps)
    myna_agent_device_state{device,state}                    1 for each device's state now
    myna_agent_printer_paper_out                             1 while the printer has none
    myna_agent_journal_backlog                               transfers + resets unresolved
    myna_agent_recovery_actions_total{kind,action}           what recovery did

Why from the Execute stream: the API already tells the kiosk or ATM
application every step (prompt, working, remove card...) and the
completion, so the ``ServerMetricsInterceptor`` observer times the gap
between consecutive messages (a step is named by the message that opened
it) and counts the completion; the flows carry no metrics code. Device
states are read from the status board at scrape time; the backlog and the
recovery actions are set by the runner after each recovery pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Final

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from myna.edge.v1 import terminal_pb2 as tpb
from myna_metrics import MetricsConfig, MetricsListener, ServerMetricsInterceptor
from myna_metrics.interceptors import Observer, enable_client_metrics

__all__ = ["AgentMetrics"]

_PREFIX: Final = "/myna.edge.v1.TerminalService/"
#: Open steps kept at most (one per running stream; the agent runs one command at a time).
_MAX_OPEN: Final = 64

COMPLETIONS: Final = Counter(
    "myna_agent_flow_completions",
    "Commands completed, by command, completion code and reason.",
    ("command", "code", "reason"),
)
STEP_SECONDS: Final = Histogram(
    "myna_agent_flow_step_seconds",
    "Time from one Execute message to the next, by the step the first one opened.",
    ("command", "step"),
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)
PAPER_OUT: Final = Gauge(
    "myna_agent_printer_paper_out", "1 while the receipt printer has no paper."
)
BACKLOG: Final = Gauge(
    "myna_agent_journal_backlog", "Journaled transfers and resets not yet resolved."
)
RECOVERY: Final = Counter(
    "myna_agent_recovery_actions",
    "Journal recovery actions, by kind (transfer, reset) and action.",
    ("kind", "action"),
)


def _name(enum: Any, value: int, prefix: str) -> str:
    try:
        return str(enum.Name(value)).removeprefix(prefix)
    except ValueError:
        return "UNKNOWN_VALUE"


class _FlowObserver:
    """Step timing and completions of the Execute and Attach streams."""

    def __init__(self) -> None:
        # id(request) -> (step name, its start); one entry per running stream
        self._open: dict[int, tuple[str, float]] = {}

    def __call__(self, method: str, request: Any, response: Any) -> None:
        command = request.WhichOneof("command") if method.endswith("/Execute") else None
        command = command or "attached"
        kind = response.WhichOneof("message") or "none"
        step = kind
        if kind == "event":
            step = response.event.WhichOneof("kind") or "event"
        now = time.perf_counter()
        opened = self._open.pop(id(request), None)
        if opened is not None:
            STEP_SECONDS.labels(command, opened[0]).observe(now - opened[1])
        if kind == "completion":
            completion = response.completion
            code = _name(tpb.CompletionCode, completion.code, "COMPLETION_CODE_")
            reason = _name(tpb.CompletionReason, completion.reason, "COMPLETION_REASON_")
            COMPLETIONS.labels(command, code, reason).inc()
        else:
            if len(self._open) >= _MAX_OPEN:  # streams dropped without a completion
                self._open.clear()
            self._open[id(request)] = (step, now)


class _DeviceStates(Collector):
    """``myna_agent_device_state``: read from the status board at scrape time."""

    def __init__(self, statuses: Callable[[], Sequence[Any]]) -> None:
        self._statuses = statuses

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "myna_agent_device_state",
            "1 for each device's current state (DeviceState names).",
            labels=("device", "state"),
        )
        for status in list(self._statuses()):
            state = _name(tpb.DeviceState, status.state, "DEVICE_STATE_")
            family.add_metric((status.device, state), 1.0)
        yield family


class AgentMetrics:
    """One agent's metrics: the API interceptor, the hooks the runner calls, the listener."""

    def __init__(self, config: MetricsConfig) -> None:
        self.config = config
        self.listener: MetricsListener | None = None
        self._devices: _DeviceStates | None = None
        enable_client_metrics()  # the verifier client's channel counts its calls too

    def interceptors(self) -> tuple[ServerMetricsInterceptor, ...]:
        """The TerminalServer's first (outermost) interceptor."""
        flows: Observer = _FlowObserver()
        return (ServerMetricsInterceptor({_PREFIX + "Execute": flows, _PREFIX + "Attach": flows}),)

    def start(self, statuses: Callable[[], Sequence[Any]]) -> int:
        """Serve ``/metrics``; ``statuses`` gives the devices' states at scrape time.

        Raises:
            OSError: the address cannot be bound.
        """
        self._devices = _DeviceStates(statuses)
        REGISTRY.register(self._devices)
        self.listener = MetricsListener(self.config, REGISTRY)
        return self.listener.start()

    def stop(self) -> None:
        """Stop serving; harmless twice."""
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        if self._devices is not None:
            REGISTRY.unregister(self._devices)
            self._devices = None

    @staticmethod
    def printer(state: str) -> None:
        """The printer's state word (``paper_out``, ``online``...)."""
        PAPER_OUT.set(1.0 if state == "paper_out" else 0.0)

    @staticmethod
    def recovered(backlog: int, transfers: Iterable[Any], resets: Iterable[Any]) -> None:
        """After a recovery pass: what is left and what was done."""
        BACKLOG.set(backlog)
        for result in transfers:
            action = getattr(result.action, "name", None) or str(result.action)
            RECOVERY.labels("transfer", action.lower()).inc()
        for reset in resets:
            RECOVERY.labels("reset", "recorded" if reset.recorded else "pending").inc()
