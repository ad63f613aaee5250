# SPDX-License-Identifier: Apache-2.0
"""The Printer service: ``Printer.PrintRaw`` to the ESC/POS receipt printer.

The bytes go through the agent's ``PrintRaw``, which checks paper and
cover first (the driver's real-time status) and prefixes the printer's
initialise command (ESC @). ``inputData: yes`` (read a reply from the
printer) is ``unsupportedData``: the receipt printer answers nothing but
its status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from host.xfs4iot.agent import AgentUnavailableError
from host.xfs4iot.messages import CompletionCode
from host.xfs4iot.service import (
    CommandContext,
    CommandSpec,
    Outcome,
    Service,
    device_outcome,
    unb64,
)
from myna.edge.v1 import terminal_pb2 as tpb

__all__ = ["PrinterService"]

_UNAVAILABLE: Final = Outcome(CompletionCode.DEVICE_NOT_READY, {}, "the agent is unreachable")


@dataclass
class PrinterService(Service):
    """The ``Printer`` service (Common + Printer)."""

    def __post_init__(self) -> None:
        self.commands = {"Printer.PrintRaw": CommandSpec(self._print_raw)}

    def status_section(self, states: dict[str, int]) -> dict[str, Any]:
        paper = "full" if states.get(self.device) == tpb.DEVICE_STATE_ONLINE else "unknown"
        return {"printer": {"media": "unknown", "paper": {"upper": paper}}}

    async def capability_sections(self) -> dict[str, Any]:
        return {"printer": {"type": {"receipt": True}}}

    async def _print_raw(self, context: CommandContext) -> Outcome:
        payload = context.command.payload
        if payload.get("inputData") == "yes":
            return Outcome(CompletionCode.UNSUPPORTED_DATA, {}, "the printer returns no input data")
        try:
            reply = await self.agent.print_raw(unb64(payload["data"]))
        except AgentUnavailableError:
            return _UNAVAILABLE
        return device_outcome(reply.code, reply.error, {tpb.DEVICE_ERROR_PAPER_OUT: "paperOut"})
