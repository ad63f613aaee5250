# SPDX-License-Identifier: Apache-2.0
"""The agent's status stream to the centre (fleet status, issue 16 item 4).

Why a stream of snapshots: the centre shows the terminal online while its
stream is open, and each message is the whole status (device states,
versions, the last command's outcome), so a report lost with a replica
costs nothing: the next one repeats it. A snapshot is sent when anything
in it changed (looked at every ``poll`` seconds: the status board is
local, a look is cheap) and at least every ``heartbeat`` seconds. When the
stream ends (the replica shuts down: it answers the stream first) it is
opened again at once; when it fails, after a back-off (1 s doubling to
60 s; a centre without ``ReportStatus`` yet: 10 minutes).

``LastFlowInterceptor`` sees each ``Execute`` stream's completion on the
terminal API and keeps the last one: command kind, completion code and
time, nothing else (no request, no personal data).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.metadata
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Final

import grpc
import grpc.aio

from host.client import VerifierClient
from host.client.fleet import FlowResult, StatusReport
from host.errors import ServiceError
from myna.edge.v1 import terminal_pb2 as tpb

__all__ = ["LastFlowInterceptor", "StatusReporter", "agent_version"]

_log = logging.getLogger(__name__)

_EXECUTE: Final = "/myna.edge.v1.TerminalService/Execute"
_MAX_BACKOFF: Final = 60.0
_UNSUPPORTED_BACKOFF: Final = 600.0


class LastFlowInterceptor(grpc.aio.ServerInterceptor):
    """Keeps the last ``Execute`` completion (``last``); put it on the TerminalServer."""

    def __init__(self, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.last: FlowResult | None = None
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        """Wrap ``Execute`` only; every other method passes untouched."""
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method != _EXECUTE:
            return handler
        if handler.unary_stream is None:
            return handler
        inner = handler.unary_stream

        async def watched(request: Any, context: Any) -> AsyncIterator[Any]:
            async for response in inner(request, context):
                if response.WhichOneof("message") == "completion":
                    command = request.WhichOneof("command") or "unknown"
                    self.last = FlowResult(command, response.completion.code, self._clock())
                yield response

        return grpc.unary_stream_rpc_method_handler(
            watched,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _state(statuses: Sequence[tpb.DeviceStatus], device: str) -> int:
    for status in statuses:
        if status.device == device:
            return int(status.state)
    return tpb.DEVICE_STATE_UNSPECIFIED


class StatusReporter:
    """Streams this terminal's ``StatusReport`` to the verifier while the agent runs.

    Args:
        client: the agent's verifier client.
        statuses: the status board's ``statuses`` (device, state, firmware).
        last_flow: the last command's outcome now (``LastFlowInterceptor.last``).
        agent_version: this agent's package version.
        poll, heartbeat: seconds between looks at the status, and at most
            between two reports.
    """

    def __init__(
        self,
        client: VerifierClient,
        *,
        statuses: Callable[[], Sequence[tpb.DeviceStatus]],
        last_flow: Callable[[], FlowResult | None],
        agent_version: str,
        poll: float = 1.0,
        heartbeat: float = 30.0,
    ) -> None:
        self._client = client
        self._statuses = statuses
        self._last_flow = last_flow
        self._agent_version = agent_version
        self._poll = poll
        self._heartbeat = heartbeat
        #: Reports the centre acknowledged on streams that ended (tests, logs).
        self.acknowledged = 0

    def snapshot(self) -> StatusReport:
        """The terminal's status now."""
        statuses = self._statuses()
        firmware = ""
        for status in statuses:
            if status.device == "controller" and status.HasField("firmware"):
                firmware = status.firmware.version
        return StatusReport(
            reader=_state(statuses, "reader"),
            printer=_state(statuses, "printer"),
            controller=_state(statuses, "controller"),
            agent_version=self._agent_version,
            firmware_version=firmware,
            last_flow=self._last_flow(),
        )

    async def _reports(self) -> AsyncIterator[StatusReport]:
        loop = asyncio.get_running_loop()
        sent: StatusReport | None = None
        due = 0.0
        while True:
            now, current = loop.time(), self.snapshot()
            if current != sent or now >= due:
                sent, due = current, now + self._heartbeat
                yield current
            await asyncio.sleep(self._poll)

    async def run(self) -> None:
        """Report until cancelled; never raises but ``CancelledError``."""
        backoff = 1.0
        while True:
            try:
                self.acknowledged += await self._client.report_status(self._reports())
                backoff = 1.0
                await asyncio.sleep(0.1)  # the replica closed it: open it again (elsewhere)
                continue
            except ServiceError as exc:
                unsupported = exc.code == grpc.StatusCode.UNIMPLEMENTED.name
                wait = _UNSUPPORTED_BACKOFF if unsupported else backoff
                _log.info("status stream to the verifier ended: %s; again in %.0f s", exc, wait)
            await asyncio.sleep(wait)
            backoff = min(backoff * 2, _MAX_BACKOFF)


def agent_version() -> str:
    """This agent's installed package version ("unknown" when run from a bare tree)."""
    try:
        return importlib.metadata.version("myna-edge")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
