# SPDX-License-Identifier: Apache-2.0
"""``host.agent.fleet``: the snapshot the reporter sends, and the last flow it keeps."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import grpc

from host.agent.fleet import LastFlowInterceptor, StatusReporter
from host.api.status import StatusBoard
from host.client import VerifierClient
from host.client.fleet import PROTOS_VERSION, FlowResult
from myna.edge.v1 import fleet_pb2 as fpb
from myna.edge.v1 import terminal_pb2 as tpb

_T0 = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def test_the_snapshot_is_the_board_and_the_last_flow() -> None:
    board = StatusBoard()

    async def fill() -> None:
        await board.set("reader", tpb.DEVICE_STATE_ONLINE)
        await board.set("printer", tpb.DEVICE_STATE_HARDWARE_ERROR)
        await board.set_firmware("controller", tpb.FirmwareInfo(version="2.0.1"))
        await board.set("controller", tpb.DEVICE_STATE_NOT_COMMISSIONED)

    asyncio.run(fill())
    flow = FlowResult("read_card", tpb.COMPLETION_CODE_CANCELED, _T0)
    client = VerifierClient.__new__(VerifierClient)  # never called: snapshot only
    reporter = StatusReporter(
        client, statuses=board.statuses, last_flow=lambda: flow, agent_version="0.1.0"
    )
    wire = reporter.snapshot().to_wire()
    assert wire.reader == fpb.FLEET_DEVICE_STATE_ONLINE
    assert wire.printer == fpb.FLEET_DEVICE_STATE_HARDWARE_ERROR
    assert wire.controller == fpb.FLEET_DEVICE_STATE_NOT_COMMISSIONED
    assert wire.versions == fpb.SoftwareVersions(
        agent="0.1.0", firmware="2.0.1", protos=PROTOS_VERSION
    )
    assert wire.last_flow.command == "read_card"
    assert wire.last_flow.code == fpb.FLOW_COMPLETION_CANCELED
    assert wire.last_flow.finish_time.ToDatetime(tzinfo=dt.UTC) == _T0


class _Details(grpc.HandlerCallDetails):
    def __init__(self, method: str) -> None:
        self.method = method


def test_the_interceptor_keeps_the_last_completion_only() -> None:
    async def execute(request: Any, context: Any) -> AsyncIterator[tpb.ExecuteResponse]:
        yield tpb.ExecuteResponse(acknowledgement=tpb.Acknowledgement(accepted=True))
        yield tpb.ExecuteResponse(completion=tpb.Completion(code=tpb.COMPLETION_CODE_SUCCESS))

    handler = grpc.unary_stream_rpc_method_handler(execute)
    interceptor = LastFlowInterceptor(clock=lambda: _T0)

    async def run(method: str) -> list[tpb.ExecuteResponse]:
        async def continuation(details: Any) -> Any:
            return handler

        wrapped = await interceptor.intercept_service(continuation, _Details(method))
        if wrapped is handler:
            return []
        request = tpb.ExecuteRequest(request_id="r1", transfer=tpb.TransferCommand())
        return [r async for r in wrapped.unary_stream(request, None)]

    assert asyncio.run(run("/myna.edge.v1.TerminalService/GetStatus")) == []
    assert interceptor.last is None
    responses = asyncio.run(run("/myna.edge.v1.TerminalService/Execute"))
    assert len(responses) == 2  # passed through untouched
    assert interceptor.last == FlowResult("transfer", tpb.COMPLETION_CODE_SUCCESS, _T0)
