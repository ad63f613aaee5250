# SPDX-License-Identifier: Apache-2.0
"""The real Prometheus server scrapes a verifier (2 workers) and an agent under load.

The verifier is a real ``myna-edge verifier --workers 2 --metrics ...``
process (multiprocess mode: its supervisor sums both workers), the agent a
real ``Agent`` in this process with ``[metrics]`` in its terminal.toml.
Prometheus (Debian's ``prometheus``) runs on 127.0.0.1 with a free port and
a temporary store, scraping both every second, and is stopped by its PID.
The load is N OpenSession calls through the agent's verifier client and M
GetStatus calls on the agent's API; the counters Prometheus holds must have
moved by exactly N and M. Every wait is bounded; the assertions are on
values, never on time.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc.aio
import pytest
from prometheus_client import REGISTRY

from host.agent import Agent, load_agent_config
from host.client import SessionPurpose
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from tests.integration.test_verifier_cli_server import _free_port, _start, _wait_for
from tests.prerequisites import missing_prerequisite
from tests.verifier_support import VerifierEnv, make_env
from verifier.tls import issue_terminal_certificate

SESSIONS = 7  # N: OpenSession calls through the agent's client
STATUSES = 5  # M: GetStatus calls on the agent's API
WAIT = 60.0  # bound of every wait, seconds


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("metrics-prometheus"))


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:  # each stopped by its own PID
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def _prometheus(tmp_path: Path, targets: dict[str, int]) -> tuple[list[str], int]:
    binary = shutil.which("prometheus")
    if binary is None:
        missing_prerequisite("Debian package prometheus (the server) is not installed")
    port = _free_port()
    jobs = "".join(
        f"  - job_name: {job}\n    static_configs:\n      - targets: ['127.0.0.1:{p}']\n"
        for job, p in targets.items()
    )
    config = tmp_path / "prometheus.yml"
    config.write_text(
        f"global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{jobs}",
        encoding="utf-8",
    )
    command = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    return command, port


def _query(port: int, expr: str) -> list[dict[str, object]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as answer:
        body = json.load(answer)
    assert body["status"] == "success", body
    result: list[dict[str, object]] = body["data"]["result"]
    return result


def _value(port: int, expr: str) -> float | None:
    result = _query(port, expr)
    if not result:
        return None
    value = result[0]["value"]
    assert isinstance(value, list)
    return float(value[1])


def _wait_value(port: int, expr: str, wanted: float) -> float | None:
    """Poll until ``expr`` equals ``wanted`` or the bound passes; returns the last value."""
    deadline = time.monotonic() + WAIT
    value = None
    while time.monotonic() < deadline:
        try:
            value = _value(port, expr)
        except OSError:
            value = None  # Prometheus still starting
        if value == wanted:
            break
        time.sleep(0.5)
    return value


def _terminal_toml(env: VerifierEnv, tmp_path: Path, verifier_port: int, metrics: int) -> Path:
    issued = issue_terminal_certificate(env.tls, "atm-01")
    for name, data in (
        ("ca.pem", issued.ca_pem),
        ("t.pem", issued.certificate_pem),
        ("t.key", issued.key_pem),
    ):
        (tmp_path / name).write_bytes(data)
    path = tmp_path / "terminal.toml"
    path.write_text(
        'profile = "atm"\nterminal_id = "atm-01"\nreader = "sim://default?persist=0"\n'
        f'listen = "unix:{tmp_path}/agent.sock"\njournal = "journal.sqlite"\n\n'
        f'[verifier]\ntarget = "127.0.0.1:{verifier_port}"\n'
        'ca = "ca.pem"\ncertificate = "t.pem"\nkey = "t.key"\n\n'
        f'[metrics]\nlisten = "127.0.0.1:{metrics}"\n',
        encoding="utf-8",
    )
    return path


def _local(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_prometheus_sees_the_load(
    env: VerifierEnv, tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    verifier_port, verifier_metrics, agent_metrics = _free_port(), _free_port(), _free_port()
    command, prom_port = _prometheus(
        tmp_path, {"myna-verifier": verifier_metrics, "myna-agent": agent_metrics}
    )
    config = tmp_path / "verifier.toml"
    config.write_text(
        f'listen = "127.0.0.1:{verifier_port}"\n'
        f'database = "sqlite:///{tmp_path / "v.sqlite"}"\n'
        f'trust_dir = "{env.trust}"\n'
        f'[tls]\ndirectory = "{env.tls.directory}"\n'
        f'[metrics]\nlisten = "127.0.0.1:{verifier_metrics}"\n',
        encoding="utf-8",
    )
    verifier = _start(["--config", str(config), "--workers", "2"])
    processes.append(verifier)
    _wait_for(verifier, "listening on port")
    prometheus = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    processes.append(prometheus)
    agent_config = load_agent_config(_terminal_toml(env, tmp_path, verifier_port, agent_metrics))
    client_labels = {
        "grpc_type": "unary",
        "grpc_service": "myna.edge.v1.VerifierService",
        "grpc_method": "OpenSession",
        "grpc_code": "OK",
    }
    api_labels = {**client_labels, "grpc_service": "myna.edge.v1.TerminalService"}
    api_labels["grpc_method"] = "GetStatus"
    client_before = _local("grpc_client_handled_total", **client_labels)
    api_before = _local("grpc_server_handled_total", **api_labels)

    async def load() -> None:
        agent = Agent(agent_config)
        address = await agent.start()
        try:
            assert agent.client is not None
            for index in range(SESSIONS):
                await agent.client.open_session(SessionPurpose.TRANSFER, f"metrics.{index}")
            async with grpc.aio.insecure_channel(address) as channel:
                stub = tpb_grpc.TerminalServiceStub(channel)
                for _ in range(STATUSES):
                    await stub.GetStatus(tpb.GetStatusRequest(), timeout=5)
            # Prometheus must see the agent's counters before the agent stops.
            wanted = api_before + STATUSES
            api = _sel("grpc_server_handled_total", "myna-agent", api_labels)
            assert await asyncio.to_thread(_wait_value, prom_port, api, wanted) == wanted
            wanted = client_before + SESSIONS
            client = _sel("grpc_client_handled_total", "myna-agent", client_labels)
            assert await asyncio.to_thread(_wait_value, prom_port, client, wanted) == wanted
            online = 'myna_agent_device_state{job="myna-agent",device="verifier",state="ONLINE"}'
            assert await asyncio.to_thread(_wait_value, prom_port, online, 1.0) == 1.0
        finally:
            await agent.stop()

    asyncio.run(load())
    # The verifier is a fresh process: its counters started at zero.
    verifier_calls = _sel("grpc_server_handled_total", "myna-verifier", client_labels)
    assert _wait_value(prom_port, f"sum({verifier_calls})", SESSIONS) == SESSIONS
    started = verifier_calls.replace("handled", "started").replace(',grpc_code="OK"', "")
    assert _wait_value(prom_port, f"sum({started})", SESSIONS) == SESSIONS
    workers = 'myna_verifier_workers{job="myna-verifier"}'
    assert _wait_value(prom_port, workers, 2.0) == 2.0
    # the sessions were written by group commits in the workers (sampled each second)
    units = 'sum(myna_verifier_group_commit_units_total{job="myna-verifier"}) >= bool 7'
    assert _wait_value(prom_port, units, 1.0) == 1.0
    assert _value(prom_port, 'up{job="myna-verifier"}') == 1.0


def _sel(name: str, job: str, labels: dict[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f'{name}{{job="{job}",{inner}}}'
