# SPDX-License-Identifier: Apache-2.0
"""Fleet status: the terminals' status streams, their metrics and the operator's RPC.

In memory, per process: the open streams (a revoked terminal's is cut at
its next report, shutdown answers them all) and each terminal's latest
report. With a ``FleetStore`` (the server always gives one) each report is
also kept in the database's ``fleet_status`` table, written sparingly
(``verifier.fleet_store``), so the operator listener of any worker
(``--workers N``) or any replica sharing PostgreSQL shows the whole fleet;
``myna-edge verifier fleet`` still merges several listeners (newest report
wins) for replicas with databases of their own. Without a store (the fuzz
harness, unit tests) the view is the process's own.

The operator listener (``[operator] listen``) is plaintext gRPC on
127.0.0.1 by default; a peer that is neither loopback nor in ``allow`` is
refused (PERMISSION_DENIED) before anything is read. Report fields are
bounded and checked (``clean_report``); a terminal's stream is cut with
the terminal deny-list's answer as soon as it is revoked.

Metrics (multiprocess ``livesum``: the supervisor sums its workers)::

    myna_fleet_terminals{online}            terminals known, online or not
    myna_fleet_devices{device,state}        online terminals' devices by state
    myna_fleet_reports_total                status reports received
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import grpc
from google.protobuf.message import DecodeError
from prometheus_client import Counter, Gauge

from myna.edge.v1 import fleet_pb2 as fpb
from myna.edge.v1 import fleet_pb2_grpc as fpb_grpc
from myna.edge.v1 import verifier_pb2 as vpb
from myna_metrics import MetricsConfig, parse_metrics_address
from verifier.errors import InvalidRequestError, StorageError
from verifier.fleet_store import FleetStore, LocalTerminal, status_of

__all__ = [
    "DEVICES",
    "FleetRegistry",
    "FleetServicer",
    "OperatorServer",
    "ReportStatusDecoding",
    "clean_report",
    "fuzz_report_status",
    "peer_allowed",
    "report_status_tolerant",
]

_log = logging.getLogger(__name__)

#: The devices a report carries, in the table's order.
DEVICES: Final = ("reader", "printer", "controller")
_MAX_TERMINALS: Final = 200_000
_VERSION: Final = re.compile(r"[0-9A-Za-z.+_-]{0,64}")
_COMMAND: Final = re.compile(r"[a-z_]{0,32}")

TERMINALS = Gauge(
    "myna_fleet_terminals",
    "Terminals that reported since this verifier started, online or not.",
    ("online",),
    multiprocess_mode="livesum",
)
DEVICE_STATES = Gauge(
    "myna_fleet_devices",
    "Online terminals' devices, by device and FleetDeviceState.",
    ("device", "state"),
    multiprocess_mode="livesum",
)
REPORTS = Counter("myna_fleet_reports", "Terminal status reports received.")


def clean_report(report: vpb.ReportStatusRequest) -> vpb.ReportStatusRequest:
    """The report with unknown enum numbers as UNSPECIFIED and odd strings blanked.

    Why not refuse: a newer agent may send a state this verifier does not know
    yet; the operator still sees the rest. Strings are version-like or empty.
    """
    out = vpb.ReportStatusRequest()
    for device in DEVICES:
        value = getattr(report, device)
        setattr(out, device, value if value in fpb.FleetDeviceState.values() else 0)
    for name in ("agent", "firmware", "protos"):
        text = getattr(report.versions, name)
        if _VERSION.fullmatch(text):
            setattr(out.versions, name, text)
    if report.HasField("last_flow"):
        flow = report.last_flow
        known = flow.code in fpb.FlowCompletion.values()
        out.last_flow.code = flow.code if known else fpb.FLOW_COMPLETION_UNSPECIFIED
        out.last_flow.command = flow.command if _COMMAND.fullmatch(flow.command) else ""
        if flow.HasField("finish_time"):
            out.last_flow.finish_time.CopyFrom(flow.finish_time)
    return out


@dataclass
class _Terminal:
    report: vpb.ReportStatusRequest
    last_seen: dt.datetime
    streams: int = 0
    #: What this process last wrote to the store for the terminal, and when.
    written: bytes | None = None
    written_at: dt.datetime | None = None
    #: Whether a report came yet (a stream is counted from its opening, before one).
    reported: bool = False


#: What a report that does not decode becomes (``ReportStatusDecoding``).
UNDECODABLE: Final = object()


def report_status_tolerant(method: str, handler: Any) -> Any:
    """``ReportStatus``'s handler with a deserializer that yields ``UNDECODABLE``; others unchanged.

    Why: gRPC would answer a message that does not parse with UNKNOWN and the
    parser's text; the access log does this for unary calls, and a stream
    needs it per message (found by fuzzing ``verifier_ReportStatus``). A
    ``myna_metrics.registration.HandlerWrapper``: applied once, when the
    servicer is registered (issue 18: no interceptor per call).
    """
    if handler is None or handler.stream_unary is None or not method.endswith("/ReportStatus"):
        return handler
    parse = handler.request_deserializer

    def tolerant(data: bytes) -> Any:
        try:
            return parse(data)
        except DecodeError:
            return UNDECODABLE

    return grpc.stream_unary_rpc_method_handler(
        handler.stream_unary,
        request_deserializer=tolerant,
        response_serializer=handler.response_serializer,
    )


class ReportStatusDecoding(grpc.aio.ServerInterceptor):
    """``report_status_tolerant`` as an interceptor (chosen per call)."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        """Wrap ``ReportStatus``'s deserializer; pass everything else through."""
        handler = await continuation(handler_call_details)
        return report_status_tolerant(handler_call_details.method, handler)


class FleetRegistry:
    """The latest report of every terminal, and which ones have a stream open."""

    def __init__(
        self, clock: Callable[[], dt.datetime] | None = None, *, store: FleetStore | None = None
    ) -> None:
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        #: The shared table (``verifier.fleet_store``); None: this process's view only.
        self.store = store
        self._terminals: dict[str, _Terminal] = {}
        self._closing = asyncio.Event()

    def _entry(self, terminal_id: str) -> _Terminal:
        entry = self._terminals.get(terminal_id)
        if entry is None:
            if len(self._terminals) >= _MAX_TERMINALS:  # bounded: forget the stalest
                stalest = min(self._terminals, key=lambda t: self._terminals[t].last_seen)
                del self._terminals[stalest]
            entry = self._terminals[terminal_id] = _Terminal(
                vpb.ReportStatusRequest(), self._clock()
            )
        return entry

    def record(self, terminal_id: str, report: vpb.ReportStatusRequest) -> None:
        """Keep ``report`` (cleaned) as the terminal's status now."""
        entry = self._entry(terminal_id)
        entry.report, entry.last_seen = clean_report(report), self._clock()
        entry.reported = True
        REPORTS.inc()
        self._export()

    async def _persist(self, terminal_id: str, *, first: bool) -> None:
        """Write the terminal's report to the store when due (``FleetStore.due``)."""
        entry = self._terminals.get(terminal_id)
        if self.store is None or entry is None:
            return
        data = entry.report.SerializeToString(deterministic=True)
        if first or self.store.due(data, entry.written, entry.written_at, entry.last_seen):
            seen = entry.last_seen
            if await self.store.put(terminal_id, data, seen):
                entry.written, entry.written_at = data, seen

    def close_streams(self) -> None:
        """Answer every open status stream (shutdown: the agents reconnect elsewhere)."""
        self._closing.set()

    async def serve(
        self,
        terminal_id: str,
        reports: AsyncIterator[vpb.ReportStatusRequest],
        check: Callable[[], None],
    ) -> vpb.ReportStatusResponse:
        """Take ``reports`` from one terminal's stream until it ends or we shut down.

        ``check`` runs before each report (the terminal deny-list); what it
        raises ends the stream.
        """
        self._entry(terminal_id).streams += 1
        self._export()
        taken = 0
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            iterator = aiter(reports)
            while True:
                following = asyncio.ensure_future(anext(iterator))
                await asyncio.wait({following, closing}, return_when=asyncio.FIRST_COMPLETED)
                if not following.done():
                    following.cancel()
                    break
                try:
                    report = following.result()
                except StopAsyncIteration:
                    break
                if report is UNDECODABLE:
                    raise InvalidRequestError("report", "a status report that does not decode")
                check()
                self.record(terminal_id, report)
                await self._persist(terminal_id, first=taken == 0)
                taken += 1
        finally:
            closing.cancel()
            entry = self._terminals.get(terminal_id)
            if entry is not None:
                entry.streams -= 1
                # Ended by the terminal or cut (revoked): offline for every process at
                # once. Not on our shutdown: the agent is reopening it on a replica.
                if entry.streams == 0 and self.store is not None and not self._closing.is_set():
                    self.store.closed(terminal_id, entry.last_seen)
            self._export()
        return vpb.ReportStatusResponse(reports=taken)

    def terminals(self) -> list[fpb.TerminalStatus]:
        """Every terminal this process knows, by terminal id (online: a stream open here)."""
        return [
            status_of(t, e.report, e.last_seen, online=e.streams > 0)
            for t, e in sorted(self._terminals.items())
        ]

    async def fleet(self) -> list[fpb.TerminalStatus]:
        """The whole fleet: the store's table overlaid with this process's view.

        Raises:
            StorageError: the database failed.
        """
        if self.store is None:
            return self.terminals()
        local = {
            t: LocalTerminal(e.report, e.last_seen, e.streams)
            for t, e in self._terminals.items()
            if e.reported  # an empty placeholder must not pass for the terminal's status
        }
        return await self.store.statuses(local)

    def _export(self) -> None:
        online = [t for t in self._terminals.values() if t.streams > 0]
        TERMINALS.labels("true").set(len(online))
        TERMINALS.labels("false").set(len(self._terminals) - len(online))
        for device in DEVICES:
            counts = dict.fromkeys(fpb.FleetDeviceState.values(), 0)
            for terminal in online:
                counts[getattr(terminal.report, device)] += 1
            for value, count in counts.items():
                state = fpb.FleetDeviceState.Name(value).removeprefix("FLEET_DEVICE_STATE_")
                DEVICE_STATES.labels(device, state).set(count)


def peer_allowed(peer: str, allow: Sequence[str]) -> bool:
    """Whether a gRPC peer (``ipv4:1.2.3.4:5``, ``ipv6:[::1]:5``) is loopback or allowed."""
    kind, _, rest = peer.partition(":")
    if kind not in ("ipv4", "ipv6"):
        return kind == "unix"  # a local socket
    host = rest.rpartition(":")[0].removeprefix("[").removesuffix("]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if address.is_loopback:
        return True
    return any(address in ipaddress.ip_network(net, strict=False) for net in allow)


class FleetServicer(fpb_grpc.FleetServiceServicer):
    """``FleetService`` on the operator listener."""

    def __init__(self, registry: FleetRegistry, allow: Sequence[str] = ()) -> None:
        self.registry = registry
        self._allow = tuple(allow)

    async def ListTerminals(  # noqa: N802
        self,
        request: fpb.ListTerminalsRequest,
        context: grpc.aio.ServicerContext[fpb.ListTerminalsRequest, fpb.ListTerminalsResponse],
    ) -> fpb.ListTerminalsResponse:
        """Every terminal of the fleet (``FleetRegistry.fleet``)."""
        if not peer_allowed(context.peer(), self._allow):
            _log.warning("operator call refused from a peer not allowed")
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "not an allowed operator peer")
        try:
            terminals = await self.registry.fleet()
        except StorageError:
            _log.warning("fleet table unreadable", exc_info=True)
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the fleet table is unavailable")
        return fpb.ListTerminalsResponse(terminals=terminals)


class OperatorServer:
    """The operator listener: ``FleetService`` in plaintext, loopback unless allowed."""

    def __init__(
        self, config: MetricsConfig, registry: FleetRegistry, *, shared_port: bool = False
    ) -> None:
        """``shared_port``: every worker of ``--workers N`` listens (``SO_REUSEPORT``)."""
        self.config = config
        self.registry = registry
        self._options = (("grpc.so_reuseport", 1),) if shared_port else ()
        self.port = 0
        self._server: grpc.aio.Server | None = None

    async def start(self) -> int:
        """Bind and serve; returns the port.

        Raises:
            OSError: the address cannot be bound.
        """
        server = grpc.aio.server(options=self._options)
        fpb_grpc.add_FleetServiceServicer_to_server(
            FleetServicer(self.registry, self.config.allow), server
        )
        host, port = parse_metrics_address(self.config.listen)  # the same grammar as [metrics]
        listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        port = server.add_insecure_port(listen)
        if port == 0:
            raise OSError(f"cannot listen on {listen}")
        await server.start()
        self._server, self.port = server, port
        return port

    async def stop(self) -> None:
        """Stop serving; harmless twice."""
        server, self._server = self._server, None
        if server is not None:
            await server.stop(1.0)


def fuzz_report_status(data: bytes) -> None:
    """Fuzz harness: bytes as a ``ReportStatusRequest`` into a registry, then the table.

    Anything but a ``DecodeError`` escaping is a finding.
    """
    try:
        report = vpb.ReportStatusRequest.FromString(data)
    except DecodeError:
        return
    registry = FleetRegistry()
    registry.record("fuzz-01", report)
    for status in registry.terminals():
        status.SerializeToString()
    asyncio.run(_fuzz_stream(registry, report))


async def _fuzz_stream(registry: FleetRegistry, report: vpb.ReportStatusRequest) -> None:
    async def once() -> AsyncIterator[vpb.ReportStatusRequest]:
        yield report

    answer = await registry.serve("fuzz-02", once(), lambda: None)
    assert answer.reports == 1
