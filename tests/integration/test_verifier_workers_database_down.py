# SPDX-License-Identifier: Apache-2.0
"""A worker that must start while PostgreSQL is down is retried, not the end of the service.

Seen in the replica campaign: a worker died while the database restarted,
its new start failed to connect, and the supervisor gave up for good. Here
one worker of ``WorkerPool`` is killed while PostgreSQL is stopped; the
supervisor must record at least one refused start, keep trying (bounded
backoff) and, once PostgreSQL runs again, have a new worker that answers on
the same port. ``supervise`` runs on the test's main thread: Linux sends a
worker its death signal when the *thread* that spawned it ends. 127.0.0.1 only.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.postgres_support import postgres_cluster
from tests.verifier_support import VerifierEnv, make_env
from verifier.server import worker_health_name
from verifier.workers import WorkerPool


def _wait_until(check: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _health(env: VerifierEnv, port: int, pid: int) -> int:
    """The health status worker ``pid`` reports for its own name (mTLS, 127.0.0.1)."""
    options = (("grpc.ssl_target_name_override", "localhost"),)
    with grpc.secure_channel(f"127.0.0.1:{port}", env.credentials("atm-01"), options) as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=worker_health_name(pid)), timeout=10
        )
    return int(answer.status)


def test_a_worker_start_is_retried_while_the_database_is_down(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    with postgres_cluster() as cluster:
        # No drain at stop: nothing watches this pool's health.
        config = replace(env.config(cluster.new_database()), shutdown_drain_seconds=0.0)
        pool = WorkerPool(config, 1, grace=1.0)
        port = pool.start()
        refused_starts: list[int] = []

        def database_back() -> None:
            """Once a start was refused (the database is down), start PostgreSQL again."""
            if _wait_until(lambda: pool.start_retries >= 1, 60):
                refused_starts.append(pool.start_retries)  # >= 1 here
                cluster.start_server()
            else:
                pool.request_stop()  # never retried: end ``supervise``, the test fails

        helper = threading.Thread(target=database_back, daemon=True)
        try:
            (victim,) = pool.pids
            assert _health(env, port, victim) == health_pb2.HealthCheckResponse.SERVING
            cluster.stop_server()
            os.kill(victim, signal.SIGKILL)  # a worker this test's pool started
            helper.start()
            # On this thread: a worker dies with the thread that spawned it (PR_SET_PDEATHSIG).
            pool.supervise(poll=0.05, until=lambda: pool.restarts >= 1)
            helper.join(timeout=60)
            assert refused_starts  # the start was refused while PostgreSQL was down
            assert pool.restarts == 1
            (again,) = pool.pids
            assert again != victim
            assert _health(env, port, again) == health_pb2.HealthCheckResponse.SERVING
        finally:
            pool.stop()
            helper.join(timeout=60)
