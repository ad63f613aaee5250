# SPDX-License-Identifier: Apache-2.0
"""Fleet status end to end (issue 16, item 4): several agents report, devices change state.

Real parts: the ``VerifierServer`` with mTLS and its operator listener on
127.0.0.1, each terminal's ``VerifierClient`` (its own certificate) with the
agent's ``StatusReporter`` reading a real ``StatusBoard``, the operator's
``myna-edge verifier fleet`` table and the ``myna_fleet_*`` metrics. Waits
are for the operator view to show a state (bounded), never timed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from prometheus_client import REGISTRY

from host.agent.fleet import StatusReporter
from host.api.status import StatusBoard
from host.client import VerifierClient
from host.client.fleet import FlowResult
from myna.edge.v1 import fleet_pb2 as fpb
from myna.edge.v1 import terminal_pb2 as tpb
from myna_metrics import MetricsConfig
from tests.flows_support import client_config
from tests.verifier_support import ServerThread, VerifierEnv, make_env
from verifier.cli import add_parser
from verifier.fleet_cli import fetch_fleet
from verifier.tls import issue_terminal_certificate

_PATIENCE = 60.0
TERMINALS = ("atm-11", "atm-12", "kiosk-13")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("fleet"))


@pytest.fixture
def server(env: VerifierEnv) -> Iterator[ServerThread]:
    env.tls.path("revoked_terminals").unlink(missing_ok=True)
    config = dataclasses.replace(env.config(), operator=MetricsConfig("127.0.0.1:0"))
    thread = ServerThread(config)
    thread.start()
    yield thread
    thread.stop()


def _operator(server: ServerThread) -> str:
    assert server.server.operator is not None
    return f"127.0.0.1:{server.server.operator.port}"


def _view(server: ServerThread) -> dict[str, fpb.TerminalStatus]:
    return {s.terminal_id: s for s in fetch_fleet(_operator(server))}


async def _until(
    server: ServerThread, predicate: Callable[[dict[str, fpb.TerminalStatus]], bool]
) -> dict[str, fpb.TerminalStatus]:
    async with asyncio.timeout(_PATIENCE):
        while True:
            view = await asyncio.to_thread(_view, server)
            if predicate(view):
                return view
            await asyncio.sleep(0.02)


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_several_agents_report_and_their_changes_show(
    env: VerifierEnv, server: ServerThread, capsys: pytest.CaptureFixture[str]
) -> None:
    boards = {t: StatusBoard() for t in TERMINALS}
    flows: dict[str, FlowResult | None] = dict.fromkeys(TERMINALS)

    async def scenario() -> int:
        clients = [
            VerifierClient(client_config(env, server, t, server_name_override="localhost"))
            for t in TERMINALS
        ]
        tasks = []
        for terminal, client in zip(TERMINALS, clients, strict=True):
            board = boards[terminal]
            for device in ("reader", "printer", "controller"):
                await board.set(device, tpb.DEVICE_STATE_ONLINE)
            await board.set_firmware("controller", tpb.FirmwareInfo(version="1.2.0"))
            reporter = StatusReporter(
                client,
                statuses=board.statuses,
                last_flow=lambda t=terminal: flows[t],  # type: ignore[misc]
                agent_version="0.1.0",
                poll=0.02,
            )
            tasks.append(asyncio.create_task(reporter.run()))
        view = await _until(
            server, lambda v: set(v) == set(TERMINALS) and all(s.online for s in v.values())
        )
        assert all(s.reader == fpb.FLEET_DEVICE_STATE_ONLINE for s in view.values())
        assert view["atm-11"].versions.firmware == "1.2.0"
        assert view["atm-11"].versions.protos.startswith("v1+")
        assert not view["atm-11"].HasField("last_flow")
        # Devices change state: paper out on one, the pad tampered on another, a flow ends.
        await boards["atm-12"].set("printer", tpb.DEVICE_STATE_HARDWARE_ERROR)
        await boards["kiosk-13"].set("controller", tpb.DEVICE_STATE_FRAUD_ATTEMPT)
        flows["atm-11"] = FlowResult(
            "transfer", tpb.COMPLETION_CODE_SUCCESS, dt.datetime.now(dt.UTC)
        )
        view = await _until(
            server,
            lambda v: (
                v["atm-12"].printer == fpb.FLEET_DEVICE_STATE_HARDWARE_ERROR
                and v["kiosk-13"].controller == fpb.FLEET_DEVICE_STATE_FRAUD_ATTEMPT
                and v["atm-11"].HasField("last_flow")
            ),
        )
        assert view["atm-11"].last_flow.command == "transfer"
        assert view["atm-11"].last_flow.code == fpb.FLOW_COMPLETION_SUCCESS
        assert view["atm-11"].printer == fpb.FLEET_DEVICE_STATE_ONLINE  # the others unchanged
        assert _metric("myna_fleet_devices", device="printer", state="HARDWARE_ERROR") == 1
        assert _metric("myna_fleet_devices", device="controller", state="FRAUD_ATTEMPT") == 1
        assert _metric("myna_fleet_terminals", online="true") == 3
        # One agent stops: it stays in the table, offline.
        tasks[2].cancel()
        await asyncio.gather(tasks[2], return_exceptions=True)
        await clients[2].close()
        await _until(server, lambda v: not v["kiosk-13"].online and v["atm-11"].online)
        assert _metric("myna_fleet_terminals", online="false") == 1
        table = await asyncio.to_thread(_fleet_cli, _operator(server))
        for task in tasks[:2]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients[:2]:
            await client.close()
        return table

    assert asyncio.run(scenario()) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["terminal", "online", "reader", "printer", "controller"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == set(TERMINALS)
    assert "HARDWARE_ERROR" in rows["atm-12"]
    assert "FRAUD_ATTEMPT" in rows["kiosk-13"]
    assert " NO " in rows["kiosk-13"]
    assert "transfer SUCCESS" in rows["atm-11"]
    assert "fw 1.2.0" in rows["atm-11"]


def _fleet_cli(address: str) -> int:
    parser = argparse.ArgumentParser(prog="myna-edge")
    add_parser(parser.add_subparsers(dest="command"))
    parsed = parser.parse_args(["verifier", "fleet", "--operator", address])
    result: int = parsed.handler(parsed)
    return result


def test_a_revoked_terminal_s_stream_is_cut(env: VerifierEnv, server: ServerThread) -> None:
    board = StatusBoard()

    async def scenario() -> None:
        await board.set("reader", tpb.DEVICE_STATE_ONLINE)
        async with VerifierClient(
            client_config(env, server, "atm-gone", server_name_override="localhost")
        ) as client:
            reporter = StatusReporter(
                client,
                statuses=board.statuses,
                last_flow=lambda: None,
                agent_version="0.1.0",
                poll=0.02,
            )
            task = asyncio.create_task(reporter.run())
            await _until(
                server,
                lambda v: "atm-gone" in v and v["atm-gone"].reader == fpb.FLEET_DEVICE_STATE_ONLINE,
            )
            env.tls.path("revoked_terminals").write_text("terminal atm-gone\n", encoding="utf-8")
            await board.set("reader", tpb.DEVICE_STATE_OFFLINE)  # its next report is refused
            await _until(server, lambda v: not v["atm-gone"].online)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    view = _view(server)
    assert (
        view["atm-gone"].reader == fpb.FLEET_DEVICE_STATE_ONLINE
    )  # the refused report never counted


def test_the_operator_listener_is_not_on_the_terminals_port(
    env: VerifierEnv, server: ServerThread
) -> None:
    issued = issue_terminal_certificate(env.tls, "atm-snoop")
    credentials = grpc.ssl_channel_credentials(
        issued.ca_pem, issued.key_pem, issued.certificate_pem
    )
    from myna.edge.v1 import fleet_pb2_grpc as fpb_grpc

    with server.channel(credentials) as channel, pytest.raises(grpc.RpcError) as refused:
        fpb_grpc.FleetServiceStub(channel).ListTerminals(fpb.ListTerminalsRequest(), timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_fleet_cli_names_a_replica_that_does_not_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from myna_edge.chaos.pgcluster import free_port

    assert _fleet_cli(f"127.0.0.1:{free_port()}") == 1
    captured = capsys.readouterr()
    assert "UNAVAILABLE" in captured.err
    assert captured.out.startswith("terminal")
