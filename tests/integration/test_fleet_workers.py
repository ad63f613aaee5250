# SPDX-License-Identifier: Apache-2.0
"""One fleet across ``--workers 2`` (issue 16, item 4), on SQLite and on PostgreSQL.

Real parts: a ``WorkerPool`` of two spawned ``VerifierServer`` processes on
one port with mTLS, its operator listener served by both workers on one
shared port, terminals' status streams over their own certificates, and
``myna-edge verifier fleet``. Each terminal's connection is placed by the
kernel; the test asks, over that same connection, which worker holds it
(the per-worker health name) and keeps opening terminals until both
workers hold some. Then whichever worker answers the operator holds only
part of the streams, so a complete table proves the shared ``fleet_status``
table. Waits are bounded polls of the operator view, never timed asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from myna.edge.v1 import fleet_pb2 as fpb
from myna.edge.v1 import verifier_pb2 as vpb
from myna.edge.v1 import verifier_pb2_grpc as vpb_grpc
from myna_metrics import MetricsConfig
from tests.postgres_support import PostgresCluster, postgres_cluster
from tests.verifier_support import VerifierEnv, make_env
from verifier.cli import add_parser
from verifier.fleet_cli import fetch_fleet
from verifier.server import worker_health_name
from verifier.workers import WorkerPool

_PATIENCE = 60.0
_MAX_TERMINALS = 40  # both workers get some long before this (each lands on one by chance)
_PER_WORKER = 2
ONLINE, ERROR = fpb.FLEET_DEVICE_STATE_ONLINE, fpb.FLEET_DEVICE_STATE_HARDWARE_ERROR


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("fleet-workers"))


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster() as running:
        yield running


@pytest.fixture(params=["sqlite", "postgresql"])
def pool(request: pytest.FixtureRequest, env: VerifierEnv, tmp_path: Path) -> Iterator[WorkerPool]:
    database = (
        f"sqlite:///{tmp_path / 'v.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("cluster").new_database()
    )
    config = replace(
        env.config(database),
        operator=MetricsConfig("127.0.0.1:0"),
        shutdown_drain_seconds=0.0,  # nothing here watches the pool's health
    )
    workers = WorkerPool(config, 2, grace=1.0)
    workers.start()
    try:
        yield workers
    finally:
        workers.stop()


@dataclass
class _Terminal:
    terminal_id: str
    channel: grpc.aio.Channel
    worker: int
    reports: asyncio.Queue[vpb.ReportStatusRequest | None]
    call: asyncio.Task[vpb.ReportStatusResponse] | None = None


async def _which_worker(channel: grpc.aio.Channel, pids: list[int]) -> int:
    """The pid of the worker holding ``channel``'s connection (only it SERVES its own name)."""
    stub = health_pb2_grpc.HealthStub(channel)
    for pid in pids:
        request = health_pb2.HealthCheckRequest(service=worker_health_name(pid))
        try:
            answer = await stub.Check(request, timeout=10)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:  # only "another worker's name" is fine
                raise
            continue
        if answer.status == health_pb2.HealthCheckResponse.SERVING:
            return pid
    raise AssertionError("no worker claims this connection")


async def _open(env: VerifierEnv, port: int, terminal_id: str, pids: list[int]) -> _Terminal:
    options = (("grpc.ssl_target_name_override", "localhost"),)
    channel = grpc.aio.secure_channel(f"127.0.0.1:{port}", env.credentials(terminal_id), options)
    return _Terminal(terminal_id, channel, await _which_worker(channel, pids), asyncio.Queue())


async def _stream(
    queue: asyncio.Queue[vpb.ReportStatusRequest | None],
) -> AsyncIterator[vpb.ReportStatusRequest]:
    while (report := await queue.get()) is not None:
        yield report


def _view(address: str) -> dict[str, fpb.TerminalStatus]:
    return {s.terminal_id: s for s in fetch_fleet(address)}


async def _until(
    address: str, predicate: Callable[[dict[str, fpb.TerminalStatus]], bool]
) -> dict[str, fpb.TerminalStatus]:
    deadline = time.monotonic() + _PATIENCE
    while True:
        view = await asyncio.to_thread(_view, address)
        if predicate(view) or time.monotonic() > deadline:
            return view
        await asyncio.sleep(0.05)


def _fleet_cli(address: str) -> int:
    parser = argparse.ArgumentParser(prog="myna-edge")
    add_parser(parser.add_subparsers(dest="command"))
    parsed = parser.parse_args(["verifier", "fleet", "--operator", address])
    result: int = parsed.handler(parsed)
    return result


def test_any_worker_serves_the_whole_fleet(
    env: VerifierEnv, pool: WorkerPool, capsys: pytest.CaptureFixture[str]
) -> None:
    pids = pool.pids
    assert len(pids) == 2
    operator = f"127.0.0.1:{pool.operator_port}"

    async def scenario() -> tuple[list[_Terminal], int]:
        kept: list[_Terminal] = []
        spare: list[_Terminal] = []
        for index in range(_MAX_TERMINALS):
            terminal = await _open(env, pool.port, f"atm-{index:02d}", pids)
            on_it = sum(1 for t in kept if t.worker == terminal.worker)
            (kept if on_it < _PER_WORKER else spare).append(terminal)
            if len(kept) == 2 * _PER_WORKER:
                break
        for terminal in spare:
            await terminal.channel.close()
        assert {t.worker for t in kept} == set(pids)  # the kernel used both workers
        for number, terminal in enumerate(kept):
            stub = vpb_grpc.VerifierServiceStub(terminal.channel)
            terminal.call = asyncio.ensure_future(stub.ReportStatus(_stream(terminal.reports)))
            printer = ERROR if number == 0 else ONLINE
            await terminal.reports.put(vpb.ReportStatusRequest(reader=ONLINE, printer=printer))
        names = {t.terminal_id for t in kept}
        # Several operator connections (the kernel picks a worker for each): all see all.
        for _ in range(4):
            view = await _until(
                operator, lambda v: names <= set(v) and all(v[n].online for n in names)
            )
            assert names <= set(view)
            assert all(view[n].online for n in names)
            assert view[kept[0].terminal_id].printer == ERROR
            assert view[kept[1].terminal_id].printer == ONLINE
        # One terminal goes away: offline for whichever worker answers.
        gone = kept[-1]
        await gone.reports.put(None)
        assert gone.call is not None
        assert (await gone.call).reports == 1
        view = await _until(operator, lambda v: not v[gone.terminal_id].online)
        assert not view[gone.terminal_id].online
        assert all(view[t.terminal_id].online for t in kept[:-1])
        code = await asyncio.to_thread(_fleet_cli, operator)
        for terminal in kept[:-1]:
            await terminal.reports.put(None)
            assert terminal.call is not None
            await terminal.call
        for terminal in kept:
            await terminal.channel.close()
        return kept, code

    kept, code = asyncio.run(scenario())
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert {t.terminal_id for t in kept} <= set(rows)
    assert rows[kept[0].terminal_id][1:4] == ["yes", "ONLINE", "HARDWARE_ERROR"]
    assert rows[kept[-1].terminal_id][1] == "NO"
