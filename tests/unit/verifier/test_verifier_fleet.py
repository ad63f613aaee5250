# SPDX-License-Identifier: Apache-2.0
"""``verifier.fleet`` and ``fleet_cli`` without gRPC: cleaning, peers, merging, the table."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import AsyncIterator

import pytest

from myna.edge.v1 import fleet_pb2 as fpb
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import verifier_pb2 as vpb
from verifier.fleet import FleetRegistry, clean_report, fuzz_report_status, peer_allowed
from verifier.fleet_cli import fleet_table, merge_fleet

_T0 = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def test_fleet_states_repeat_the_terminal_api_numbers() -> None:
    # host.client.fleet sends DeviceState / CompletionCode numbers as they are.
    for value in tpb.DeviceState.values():
        name = tpb.DeviceState.Name(value).removeprefix("DEVICE_STATE_")
        assert fpb.FleetDeviceState.Value(f"FLEET_DEVICE_STATE_{name}") == value
    for value in tpb.CompletionCode.values():
        name = tpb.CompletionCode.Name(value).removeprefix("COMPLETION_CODE_")
        assert fpb.FlowCompletion.Value(f"FLOW_COMPLETION_{name}") == value


def test_unknown_numbers_and_odd_strings_are_dropped() -> None:
    report = vpb.ReportStatusRequest(reader=99, printer=fpb.FLEET_DEVICE_STATE_BUSY)  # type: ignore[arg-type]
    report.versions.agent = "0.1.0\n<script>"
    report.versions.protos = "v1+abc"
    report.last_flow.command = "Transfer; DROP"
    report.last_flow.code = 77  # type: ignore[assignment]
    cleaned = clean_report(report)
    assert cleaned.reader == fpb.FLEET_DEVICE_STATE_UNSPECIFIED
    assert cleaned.printer == fpb.FLEET_DEVICE_STATE_BUSY
    assert cleaned.versions.agent == ""
    assert cleaned.versions.protos == "v1+abc"
    assert cleaned.last_flow.command == ""
    assert cleaned.last_flow.code == fpb.FLOW_COMPLETION_UNSPECIFIED


@pytest.mark.parametrize(
    ("peer", "allow", "allowed"),
    [
        ("ipv4:127.0.0.1:5000", (), True),
        ("ipv6:[::1]:5000", (), True),
        ("unix:/run/x.sock", (), True),
        ("ipv4:10.1.2.3:5000", (), False),
        ("ipv4:10.1.2.3:5000", ("10.0.0.0/8",), True),
        ("ipv6:[2001:db8::1]:5000", ("10.0.0.0/8",), False),
        ("ipv4:not-an-ip:1", (), False),
        ("", (), False),
    ],
)
def test_only_loopback_or_allowed_peers(peer: str, allow: tuple[str, ...], allowed: bool) -> None:
    assert peer_allowed(peer, allow) is allowed


def test_a_stream_is_online_until_it_ends_or_the_verifier_closes() -> None:
    registry = FleetRegistry(clock=lambda: _T0)

    async def scenario() -> int:
        gate = asyncio.Event()

        async def reports() -> AsyncIterator[vpb.ReportStatusRequest]:
            yield vpb.ReportStatusRequest(reader=fpb.FLEET_DEVICE_STATE_ONLINE)
            await gate.wait()  # a terminal that keeps its stream open

        serving = asyncio.create_task(registry.serve("atm-01", reports(), lambda: None))
        while not registry.terminals() or registry.terminals()[0].reader == 0:
            await asyncio.sleep(0)
        assert registry.terminals()[0].online
        registry.close_streams()  # shutdown: answered, not left to the grace period
        answer = await serving
        return answer.reports

    assert asyncio.run(scenario()) == 1
    (status,) = registry.terminals()
    assert not status.online
    assert status.last_seen_time.ToDatetime(tzinfo=dt.UTC) == _T0


def _status(terminal: str, seconds: int, *, online: bool, printer: int = 1) -> fpb.TerminalStatus:
    status = fpb.TerminalStatus(terminal_id=terminal, online=online, printer=printer)  # type: ignore[arg-type]
    status.last_seen_time.FromDatetime(_T0 + dt.timedelta(seconds=seconds))
    return status


def test_replicas_are_merged_newest_first_online_if_anywhere() -> None:
    a = [_status("atm-01", 10, online=False, printer=4), _status("atm-02", 5, online=True)]
    b = [_status("atm-01", 20, online=False, printer=1), _status("atm-02", 1, online=False)]
    merged = {s.terminal_id: s for s in merge_fleet([a, b])}
    assert merged["atm-01"].printer == 1  # the newer report
    assert merged["atm-02"].online  # its stream is open on replica a
    table = fleet_table(list(merged.values()), now=_T0 + dt.timedelta(seconds=30))
    lines = table.splitlines()
    assert lines[0].startswith("terminal")
    assert "(10 s ago)" in lines[1]
    assert "NO" in lines[1].split()


def test_the_fuzz_harness_takes_random_bytes() -> None:
    rng = random.Random(16)
    valid = vpb.ReportStatusRequest(reader=1, printer=4)
    valid.last_flow.command = "transfer"
    inputs = [valid.SerializeToString(), b"", b"\xff\xff\xff"]
    inputs += [bytes(rng.randrange(256) for _ in range(rng.randrange(64))) for _ in range(200)]
    for data in inputs:
        fuzz_report_status(data)
