# SPDX-License-Identifier: Apache-2.0
"""Time per flow step: ``FlowMachine.step_times``, the histogram, a child span per step.

Why the toy flow of the machine's tests: it is a real ``FlowMachine`` run
(card, PIN prompt, journal), so the times come from a real step history.
Also here: the issuance command's completions are counted by code.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from host.agent import metrics as agent_metrics
from myna.edge.v1 import terminal_pb2 as tpb
from myna_metrics.flow_steps import record_flow_steps
from myna_metrics.tracing import (
    REQUEST_ID_ATTRIBUTE,
    TracingConfig,
    build_provider,
    command_span,
    install_agent_tracer,
)
from tests.unit.host.test_flows_machine import _run


def _count(flow: str, step: str) -> float:
    labels = {"flow": flow, "step": step}
    return REGISTRY.get_sample_value("myna_agent_step_seconds_count", labels) or 0.0


def test_step_times_follow_the_history_back_to_back(tmp_path: Path) -> None:
    _, flow, _, _, _ = _run(tmp_path)
    times = flow.step_times()
    assert [t.step for t in times] == [s.value for s in flow.history]
    for before, after in itertools.pairwise(times):
        assert before.end_ns == after.start_ns  # each step ends as the next begins
    assert all(t.start_ns <= t.end_ns for t in times)
    assert flow.step_times() == times  # the run is over: the last step's end is fixed


def test_steps_are_observed_and_traced_under_the_command_span(tmp_path: Path) -> None:
    _, flow, _, _, _ = _run(tmp_path)
    before = _count("toy", "enter_pin")
    exported = InMemorySpanExporter()
    provider = build_provider(TracingConfig(None), "myna-agent")
    provider.add_span_processor(SimpleSpanProcessor(exported))
    install_agent_tracer(provider)
    try:
        with command_span("READ_CARD", "r-42"):
            record_flow_steps(flow.flow, flow.step_times())
    finally:
        install_agent_tracer(None)
        provider.shutdown()
    assert _count("toy", "enter_pin") == before + 1
    spans = exported.get_finished_spans()
    (root,) = [s for s in spans if s.name == "Execute READ_CARD"]
    steps = [s for s in spans if s.name.startswith("step toy.")]
    assert [s.name for s in steps] == [f"step toy.{s.value}" for s in flow.history]
    for span in steps:
        assert span.parent is not None
        assert span.parent.span_id == root.context.span_id  # one trace, under the command
        assert span.context.trace_id == root.context.trace_id
        # only what we chose: no command or card field can ride along
        assert set(span.attributes or {}) == {"myna.flow", "myna.step", REQUEST_ID_ATTRIBUTE}
        assert (span.attributes or {})[REQUEST_ID_ATTRIBUTE] == "r-42"
    starts = [s.start_time or 0 for s in steps]
    assert starts == sorted(starts)


def test_steps_without_tracing_are_only_observed(tmp_path: Path) -> None:
    _, flow, _, _, _ = _run(tmp_path)
    before = _count("toy", "done")
    record_flow_steps(flow.flow, flow.step_times())  # no tracer, no current span: no error
    assert _count("toy", "done") == before + 1


def test_the_issuance_command_completions_are_counted_by_code() -> None:
    observe = agent_metrics._FlowObserver()
    request = tpb.ExecuteRequest(
        request_id="r-1", issue_certificate=tpb.IssueCertificateCommand(choose_on_screen=True)
    )
    labels = {"command": "issue_certificate", "code": "SUCCESS", "reason": "UNSPECIFIED"}
    name = "myna_agent_flow_completions_total"
    before = REGISTRY.get_sample_value(name, labels) or 0.0
    done = tpb.Completion(code=tpb.COMPLETION_CODE_SUCCESS)
    observe("/myna.edge.v1.TerminalService/Execute", request, tpb.ExecuteResponse(completion=done))
    assert REGISTRY.get_sample_value(name, labels) == before + 1
