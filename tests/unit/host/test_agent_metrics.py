# SPDX-License-Identifier: Apache-2.0
"""``host.agent.metrics``: completions and step times from the Execute stream, device
states at scrape time, the runner's hooks, and ``[metrics]`` / ``--metrics`` in terminal.toml.

Counters are process-wide, so each check is a difference before/after.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY

from host.agent.config import AgentConfigError, load_agent_config, with_metrics
from host.agent.metrics import AgentMetrics, _FlowObserver
from myna.edge.v1 import terminal_pb2 as tpb
from myna_metrics import MetricsConfig
from tests.unit.host.test_agent_config import GOOD, write

EXECUTE = "/myna.edge.v1.TerminalService/Execute"


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_completion_and_steps_from_the_execute_stream() -> None:
    done = {"command": "read_card", "code": "SUCCESS", "reason": "UNSPECIFIED"}
    step = {"command": "read_card", "step": "working"}
    before = (
        _value("myna_agent_flow_completions_total", **done),
        _value("myna_agent_flow_step_seconds_count", **step),
        _value("myna_agent_flow_step_seconds_count", command="read_card", step="acknowledgement"),
    )
    observe = _FlowObserver()
    request = tpb.ExecuteRequest(request_id="r-1", read_card=tpb.ReadCardCommand())
    stream = [
        tpb.ExecuteResponse(request_id="r-1", acknowledgement=tpb.Acknowledgement()),
        tpb.ExecuteResponse(request_id="r-1", event=tpb.FlowEvent(working=tpb.WorkingEvent())),
        tpb.ExecuteResponse(
            request_id="r-1",
            completion=tpb.Completion(
                code=tpb.COMPLETION_CODE_SUCCESS,
                read_card=tpb.ReadCardResult(name="山田太郎", address="東京都"),
            ),
        ),
    ]
    for message in stream:
        observe(EXECUTE, request, message)
    assert _value("myna_agent_flow_completions_total", **done) - before[0] == 1
    assert _value("myna_agent_flow_step_seconds_count", **step) - before[1] == 1
    opened = _value(
        "myna_agent_flow_step_seconds_count", command="read_card", step="acknowledgement"
    )
    assert opened - before[2] == 1
    assert observe._open == {}  # the finished stream left nothing behind


def test_device_states_printer_backlog_and_recovery_are_served(tmp_path: Path) -> None:
    metrics = AgentMetrics(MetricsConfig("127.0.0.1:0"))
    statuses = [
        tpb.DeviceStatus(device="printer", state=tpb.DEVICE_STATE_HARDWARE_ERROR),
        tpb.DeviceStatus(device="verifier", state=tpb.DEVICE_STATE_ONLINE),
    ]
    reversed_ = {"kind": "transfer", "action": "reverse"}
    before = _value("myna_agent_recovery_actions_total", **reversed_)
    port = metrics.start(lambda: statuses)
    try:
        metrics.printer("paper_out")
        transfer = SimpleNamespace(action=SimpleNamespace(name="REVERSE"))
        metrics.recovered(2, [transfer], [SimpleNamespace(recorded=True)])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    finally:
        metrics.stop()
        metrics.stop()  # harmless twice
    assert 'myna_agent_device_state{device="verifier",state="ONLINE"} 1.0' in text
    assert 'myna_agent_device_state{device="printer",state="HARDWARE_ERROR"} 1.0' in text
    assert "myna_agent_printer_paper_out 1.0" in text
    assert "myna_agent_journal_backlog 2.0" in text
    assert _value("myna_agent_recovery_actions_total", **reversed_) - before == 1
    metrics.printer("online")
    assert _value("myna_agent_printer_paper_out") == 0.0
    # stopped: the device states are no longer collected
    assert _value("myna_agent_device_state", device="verifier", state="ONLINE") == 0.0


def test_terminal_toml_metrics(tmp_path: Path) -> None:
    assert load_agent_config(write(tmp_path, GOOD)).metrics is None
    config = load_agent_config(write(tmp_path, GOOD + '\n[metrics]\nlisten = "9465"\n'))
    assert config.metrics == MetricsConfig("9465")
    assert with_metrics(config, "127.0.0.1:1").metrics == MetricsConfig("127.0.0.1:1")
    with pytest.raises(AgentConfigError, match=r"--metrics: .*metrics\.allow"):
        with_metrics(config, "0.0.0.0:9465")


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ('listen = "0.0.0.0:9465"', r"metrics: .*metrics\.allow"),
        ('listen = "1"\nallow = ["x"]', r"metrics: .*IP networks"),
        ("listen = 1", r"metrics\.listen must be str"),
        ('listen = "1"\nextra = 1', r"unknown key metrics\.extra"),
    ],
)
def test_terminal_toml_bad_metrics(tmp_path: Path, section: str, match: str) -> None:
    with pytest.raises(AgentConfigError, match=match):
        load_agent_config(write(tmp_path, GOOD + f"\n[metrics]\n{section}\n"))
