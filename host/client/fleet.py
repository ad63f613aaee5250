# SPDX-License-Identifier: Apache-2.0
"""``StatusReport``: what the agent tells the centre about itself (``ReportStatus``).

Plain values for ``VerifierClient.report_status``; the wire messages are
built here, once. Device states are terminal.proto's ``DeviceState``
numbers, which fleet.proto's ``FleetDeviceState`` repeats value for value
(fleet.proto cannot import terminal.proto), and so is the completion code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final

from myna.edge.v1 import fleet_pb2 as fpb
from myna.edge.v1 import terminal_pb2
from myna.edge.v1 import verifier_pb2 as vpb

__all__ = ["PROTOS_VERSION", "FlowResult", "StatusReport", "wire_reports"]

#: The contract this agent was built with: "v1+" and a digest of the descriptors.
PROTOS_VERSION: Final = (
    "v1+"
    + hashlib.sha256(
        vpb.DESCRIPTOR.serialized_pb
        + fpb.DESCRIPTOR.serialized_pb
        + terminal_pb2.DESCRIPTOR.serialized_pb
    ).hexdigest()[:12]
)


@dataclass(frozen=True)
class FlowResult:
    """How the last command ended: its kind, its ``CompletionCode`` number, when."""

    command: str
    code: int
    finished: dt.datetime


@dataclass(frozen=True)
class StatusReport:
    """One snapshot: device states (``DeviceState`` numbers), versions, the last command."""

    reader: int
    printer: int
    controller: int
    agent_version: str
    firmware_version: str = ""
    protos_version: str = PROTOS_VERSION
    last_flow: FlowResult | None = None

    def to_wire(self) -> vpb.ReportStatusRequest:
        """The ``ReportStatusRequest`` for this snapshot."""
        message = vpb.ReportStatusRequest(
            reader=fpb.FleetDeviceState.ValueType(self.reader),
            printer=fpb.FleetDeviceState.ValueType(self.printer),
            controller=fpb.FleetDeviceState.ValueType(self.controller),
            versions=fpb.SoftwareVersions(
                agent=self.agent_version,
                firmware=self.firmware_version,
                protos=self.protos_version,
            ),
        )
        if self.last_flow is not None:
            message.last_flow.command = self.last_flow.command
            message.last_flow.code = fpb.FlowCompletion.ValueType(self.last_flow.code)
            message.last_flow.finish_time.FromDatetime(self.last_flow.finished)
        return message


async def wire_reports(
    reports: AsyncIterator[StatusReport],
) -> AsyncIterator[vpb.ReportStatusRequest]:
    """``reports`` as the stream's messages."""
    async for report in reports:
        yield report.to_wire()
