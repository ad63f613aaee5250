# SPDX-License-Identifier: Apache-2.0
"""``myna-edge verifier fleet``: the terminals' status as a table, from the operator listener.

Several ``--operator`` addresses (one per replica) are asked and merged: a
terminal's newest report wins, and it is online when any replica holds its
stream (``verifier.fleet``). A replica that does not answer is named on
stderr and the exit code is 1, but the others' terminals are still shown.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence

import grpc

from myna.edge.v1 import fleet_pb2 as fpb
from myna.edge.v1 import fleet_pb2_grpc as fpb_grpc
from verifier.text_table import aligned_table

__all__ = ["fetch_fleet", "fleet_table", "merge_fleet", "run_fleet"]

_HEADER = (
    "terminal",
    "online",
    "reader",
    "printer",
    "controller",
    "versions",
    "last seen",
    "last flow",
)


def fetch_fleet(address: str, timeout: float = 5.0) -> list[fpb.TerminalStatus]:
    """``ListTerminals`` from one operator listener.

    Raises:
        grpc.RpcError: it did not answer, or refused us.
    """
    with grpc.insecure_channel(address) as channel:
        answer = fpb_grpc.FleetServiceStub(channel).ListTerminals(
            fpb.ListTerminalsRequest(), timeout=timeout
        )
    return list(answer.terminals)


def merge_fleet(views: Sequence[Sequence[fpb.TerminalStatus]]) -> list[fpb.TerminalStatus]:
    """One row per terminal: the newest report, online if any view has it online."""
    merged: dict[str, fpb.TerminalStatus] = {}
    for view in views:
        for status in view:
            known = merged.get(status.terminal_id)
            if known is None or status.last_seen_time.ToNanoseconds() > (
                known.last_seen_time.ToNanoseconds()
            ):
                online = status.online or (known is not None and known.online)
                merged[status.terminal_id] = fpb.TerminalStatus()
                merged[status.terminal_id].CopyFrom(status)
                merged[status.terminal_id].online = online
            elif status.online:
                known.online = True
    return [merged[t] for t in sorted(merged)]


def _state(value: int) -> str:
    return fpb.FleetDeviceState.Name(value).removeprefix("FLEET_DEVICE_STATE_")  # type: ignore[arg-type]


def _row(status: fpb.TerminalStatus, now: dt.datetime) -> tuple[str, ...]:
    versions = status.versions
    seen = status.last_seen_time.ToDatetime(tzinfo=dt.UTC)
    ago = max(0, int((now - seen).total_seconds()))
    flow = "-"
    if status.HasField("last_flow"):
        code = fpb.FlowCompletion.Name(status.last_flow.code).removeprefix("FLOW_COMPLETION_")
        flow = f"{status.last_flow.command or '?'} {code}"
    return (
        status.terminal_id,
        "yes" if status.online else "NO",
        _state(status.reader),
        _state(status.printer),
        _state(status.controller),
        f"agent {versions.agent or '?'} fw {versions.firmware or '-'} "
        f"protos {versions.protos or '?'}",
        f"{seen:%Y-%m-%d %H:%M:%S}Z ({ago} s ago)",
        flow,
    )


def fleet_table(statuses: Sequence[fpb.TerminalStatus], now: dt.datetime | None = None) -> str:
    """The table ``myna-edge verifier fleet`` prints (aligned columns, one line a terminal)."""
    when = now or dt.datetime.now(dt.UTC)
    return aligned_table([_HEADER, *(_row(s, when) for s in statuses)])


def run_fleet(addresses: Sequence[str]) -> int:
    """Print the merged table of ``addresses``; 1 when one did not answer."""
    views, failed = [], False
    for address in addresses:
        try:
            views.append(fetch_fleet(address))
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            print(f"myna-edge verifier fleet: {address}: {code}", file=sys.stderr)
            failed = True
    print(fleet_table(merge_fleet(views)))
    return 1 if failed else 0
