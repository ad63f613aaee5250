# SPDX-License-Identifier: Apache-2.0
"""Time per flow step on the agent: a histogram and, when tracing, a child span per step.

The flows keep their step history with times (``host.flows.machine.FlowMachine.step_times``);
once a command's flow has run, the API layer hands it here inside the
command's span (``tracing.command_span``). Why after the run and not live:
a live span per step would have to become the current span across the
flow's awaits, which the flows (free of tracing code, STYLE §1) cannot do
cleanly; a span made afterwards with the step's own start and end times
sits in the same trace, under the command's span, at the same place on the
timeline. The verifier calls' client spans are its siblings, not its
children (the timeline shows which step they fell in).

What a span carries: the flow's name, the step's name (enum values such as
``pin_entry`` or ``print``), the request id. Never a field of the command
or of the card, so never personal data or a secret.

    myna_agent_step_seconds{flow,step}     histogram, every command (metrics on or off)
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Final

from opentelemetry import trace
from prometheus_client import Histogram

from myna_metrics.tracing import REQUEST_ID, REQUEST_ID_ATTRIBUTE, agent_tracer

__all__ = ["STEP_SECONDS", "record_flow_steps"]

STEP_SECONDS: Final = Histogram(
    "myna_agent_step_seconds",
    "Time spent in each flow step (FlowMachine's step history), by flow and step.",
    ("flow", "step"),
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)


def record_flow_steps(flow: str, steps: Iterable[tuple[str, int, int]]) -> None:
    """Observe each ``(step, start_ns, end_ns)`` (``time.monotonic_ns``) of one run.

    Must not raise (it runs as a command ends); a step is a child span of the
    current span only when the agent traces.
    """
    done = list(steps)
    for step, start, end in done:
        STEP_SECONDS.labels(flow, step).observe(max(0, end - start) / 1e9)
    tracer = agent_tracer()
    if tracer is None or not trace.get_current_span().get_span_context().is_valid:
        return
    # monotonic -> wall clock, once for the run (spans take epoch nanoseconds)
    offset = time.time_ns() - time.monotonic_ns()
    request_id = REQUEST_ID.get()
    for step, start, end in done:
        attributes = {"myna.flow": flow, "myna.step": step}
        if request_id is not None:
            attributes[REQUEST_ID_ATTRIBUTE] = request_id
        span = tracer.start_span(
            f"step {flow}.{step}", start_time=start + offset, attributes=attributes
        )
        span.end(end_time=max(start, end) + offset)
