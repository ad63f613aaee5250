# SPDX-License-Identifier: Apache-2.0
"""``myna-edge verifier`` as a real process: start, answer health over mTLS, drain on SIGTERM.

The process is started through ``verifier.cli``'s own parser (the top-level
``myna-edge`` registration belongs to the coordinator) and stopped by PID.
"""

from __future__ import annotations

import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.verifier_support import VerifierEnv, make_env

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = (
    "import argparse, sys; from verifier.cli import add_parser; "
    "p = argparse.ArgumentParser(); add_parser(p.add_subparsers()); "
    "a = p.parse_args(sys.argv[1:]); sys.exit(a.handler(a))"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("verifier-cli"))


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "verifier", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(process: subprocess.Popen[str], needle: str, timeout: float = 30) -> str:
    assert process.stderr is not None
    seen = ""
    selector = selectors.DefaultSelector()
    selector.register(process.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        if selector.select(timeout=0.5):
            line = process.stderr.readline()
            if not line:
                break
            seen += line
    selector.close()
    assert needle in seen, seen
    return seen


@pytest.fixture
def process_holder() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def test_mtls_server_process(
    env: VerifierEnv, tmp_path: Path, process_holder: list[subprocess.Popen[str]]
) -> None:
    port = _free_port()
    config = tmp_path / "verifier.toml"
    config.write_text(
        f'listen = "127.0.0.1:{port}"\n'
        f'database = "sqlite:///{tmp_path / "v.sqlite"}"\n'
        f'trust_dir = "{env.trust}"\n'
        f'[tls]\ndirectory = "{env.tls.directory}"\n'
    )
    process = _start(["--config", str(config)])
    process_holder.append(process)
    _wait_for(process, "listening on port")
    options = (("grpc.ssl_target_name_override", "localhost"),)
    with grpc.secure_channel(f"127.0.0.1:{port}", env.credentials("atm-01"), options) as chan:
        answer = health_pb2_grpc.HealthStub(chan).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


def test_insecure_dev_says_so_loudly(
    env: VerifierEnv, tmp_path: Path, process_holder: list[subprocess.Popen[str]]
) -> None:
    from host.transport.sim import sim_trust_dir

    sim_trust_dir("sim://")  # what the simulator exports for hosts and dev verifiers
    port = _free_port()
    process = _start(
        [
            "--insecure-dev",
            "--listen",
            f"127.0.0.1:{port}",
            "--db",
            f"sqlite:///{tmp_path / 'dev.sqlite'}",
        ]
    )
    process_holder.append(process)
    seen = _wait_for(process, "listening on port")
    assert "WARNING: --insecure-dev" in seen
    with grpc.insecure_channel(f"127.0.0.1:{port}") as chan:
        answer = health_pb2_grpc.HealthStub(chan).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
