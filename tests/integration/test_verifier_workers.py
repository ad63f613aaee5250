# SPDX-License-Identifier: Apache-2.0
"""``myna-edge verifier --workers 2``: two processes serve one port, and stop together.

Which worker holds a connection is asked through its own health name
(``verifier.server.worker_health_name``): only that worker says SERVING.
New connections are spread by the kernel (SO_REUSEPORT hashes the client's
address), so over 24 fresh connections both workers answer (all on one
would happen by chance with probability 2 * 2**-24). State is shared through
the database: the same OpenSession (same idempotency key) sent to each
worker gets one session. SIGTERM to the supervisor drains both workers and
ends them; a worker killed on its own is started again. 127.0.0.1 only.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from tests.verifier_support import VerifierEnv, make_env
from verifier.server import worker_health_name

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = (
    "import argparse, sys; from verifier.cli import add_parser; "
    "p = argparse.ArgumentParser(); add_parser(p.add_subparsers()); "
    "a = p.parse_args(sys.argv[1:]); sys.exit(a.handler(a))"
)
CONNECTIONS = 24


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("verifier-workers"))


class Supervisor:
    """The ``verifier --workers 2`` process and what it said on stderr."""

    def __init__(self, env: VerifierEnv, folder: Path, database: str) -> None:
        config = folder / "verifier.toml"
        config.write_text(
            'listen = "127.0.0.1:0"\n'
            f'database = "{database}"\n'
            f'trust_dir = "{env.trust}"\n'
            f'[tls]\ndirectory = "{env.tls.directory}"\n'
        )
        self.env = env
        self.seen = ""
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, "verifier", "--workers", "2", "--config", str(config)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        found = re.search(
            r"listening on port (\d+) \(2 workers, pids (\d+) (\d+)\)",
            self.wait_for("listening on port"),
        )
        assert found is not None, self.seen
        self.port = int(found[1])
        self.pids = [int(found[2]), int(found[3])]

    def wait_for(self, needle: str, timeout: float = 60) -> str:
        assert self.process.stderr is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stderr, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while needle not in self.seen and time.monotonic() < deadline:
            if selector.select(timeout=0.5):
                line = self.process.stderr.readline()
                if not line:
                    break
                self.seen += line
        selector.close()
        assert needle in self.seen, self.seen
        return self.seen

    def channel(self) -> grpc.Channel:
        """A channel with its own TCP connection (no subchannel shared with another)."""
        options = (
            ("grpc.ssl_target_name_override", "localhost"),
            ("grpc.use_local_subchannel_pool", 1),
        )
        return grpc.secure_channel(
            f"127.0.0.1:{self.port}", self.env.credentials("atm-01"), options
        )

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        assert self.process.stderr is not None
        self.process.stderr.close()


def _worker_of(channel: grpc.Channel, pids: list[int]) -> int:
    """The pid of the worker holding ``channel``'s connection (the one whose name is SERVING)."""
    health = health_pb2_grpc.HealthStub(channel)
    serving, refused = [], []
    for pid in pids:
        try:
            answer = health.Check(
                health_pb2.HealthCheckRequest(service=worker_health_name(pid)), timeout=10
            )
        except grpc.RpcError as exc:
            refused.append(exc.code())
            continue
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        serving.append(pid)
    assert len(serving) == 1, serving
    assert refused == [grpc.StatusCode.NOT_FOUND] * (len(pids) - 1)
    return serving[0]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _check_both_serve(supervisor: Supervisor) -> None:
    sessions: dict[int, str] = {}
    used: set[int] = set()
    request = pb.OpenSessionRequest(
        purpose=pb.SESSION_PURPOSE_CARD_VERIFICATION, idempotency_key=f"k-{time.time_ns()}"
    )
    for _ in range(CONNECTIONS):
        with supervisor.channel() as channel:
            pid = _worker_of(channel, supervisor.pids)
            used.add(pid)
            opened = pb_grpc.VerifierServiceStub(channel).OpenSession(request, timeout=10)
            sessions[pid] = opened.session_id
    assert used == set(supervisor.pids)
    # One database behind both: the same key opened one session, whichever worker answered.
    assert len(set(sessions.values())) == 1


@pytest.fixture
def sqlite_supervisor(env: VerifierEnv, tmp_path: Path) -> Iterator[Supervisor]:
    supervisor = Supervisor(env, tmp_path, f"sqlite:///{tmp_path / 'v.sqlite'}")
    yield supervisor
    supervisor.close()


def test_two_workers_share_one_port_and_stop_together(sqlite_supervisor: Supervisor) -> None:
    _check_both_serve(sqlite_supervisor)
    assert all(_alive(pid) for pid in sqlite_supervisor.pids)
    sqlite_supervisor.process.send_signal(signal.SIGTERM)
    assert sqlite_supervisor.process.wait(timeout=60) == 0
    assert not any(_alive(pid) for pid in sqlite_supervisor.pids)


def test_a_dead_worker_is_reported_and_started_again(sqlite_supervisor: Supervisor) -> None:
    victim = sqlite_supervisor.pids[0]
    os.kill(victim, signal.SIGKILL)
    seen = sqlite_supervisor.wait_for("started again as pid")
    assert f"(pid {victim}) exited with code -9" in seen
    found = re.search(r"started again as pid (\d+)", seen)
    assert found is not None
    sqlite_supervisor.pids[0] = int(found[1])
    assert not _alive(victim)
    _check_both_serve(sqlite_supervisor)  # the new worker serves on the same port
    sqlite_supervisor.process.send_signal(signal.SIGTERM)
    assert sqlite_supervisor.process.wait(timeout=60) == 0


def test_two_workers_on_postgresql(env: VerifierEnv, tmp_path: Path) -> None:
    from tests.postgres_support import postgres_cluster

    with postgres_cluster() as cluster:
        supervisor = Supervisor(env, tmp_path, cluster.new_database())
        try:
            _check_both_serve(supervisor)
            supervisor.process.send_signal(signal.SIGTERM)
            assert supervisor.process.wait(timeout=60) == 0
            assert not any(_alive(pid) for pid in supervisor.pids)
        finally:
            supervisor.close()
