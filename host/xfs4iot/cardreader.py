# SPDX-License-Identifier: Apache-2.0
"""The CardReader service: the contactless reader with the My Number card's chip.

* ``CardReader.ReadRawData`` with ``chip``: waits for a card
  (``InsertCardEvent`` once, then ``MediaInsertedEvent`` when one answers),
  powers the chip and returns its ATR as the chip data, as XFS4IoT does;
  track and image sources answer ``dataSourceNotSupported`` (a
  contactless reader has none).
* ``CardReader.ChipIO``: one APDU through the agent's ``ChipIo``. At the
  APDU level ISO 14443-4 Type A and Type B carry the same T=CL blocks and
  the reader picks the RF protocol, so ``chipTypeB`` (the plastic card),
  ``chipTypeAPart4`` (a phone presenting JPKI) and
  ``chipProtocolNotRequired`` are accepted and echoed; the contact and
  memory-card protocols are ``protocolNotSupported``. An APDU that would
  carry a secret is ``unsupportedData``: PINs come from the PIN pad only.
* ``CardReader.ChipPower`` cold/warm/off.
* ``CardReader.MediaRemovedEvent`` (unsolicited): when a chip command
  finds the card gone after it had answered.

When the last client leaves, the chip is powered off so the agent's own
flows are not held BUSY by a session nobody uses.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Final

from host.xfs4iot.agent import AgentUnavailableError
from host.xfs4iot.messages import CompletionCode
from host.xfs4iot.service import (
    CommandContext,
    CommandSpec,
    Outcome,
    Service,
    b64,
    device_outcome,
    unb64,
)
from myna.edge.v1 import terminal_pb2 as tpb

__all__ = ["SUPPORTED_PROTOCOLS", "CardReaderService"]

#: ChipIO protocols this reader path carries (see the module docstring).
SUPPORTED_PROTOCOLS: Final = frozenset({"chipTypeB", "chipTypeAPart4", "chipProtocolNotRequired"})
_TRACKS: Final = (
    "track1",
    "track2",
    "track3",
    "watermark",
    "track1Front",
    "track1JIS",
    "track3JIS",
    "ddi",
)
#: How often ReadRawData asks again for a card, and its longest wait without a timeout.
_POLL_S: Final = 0.2
_LONGEST_WAIT_S: Final = 600.0
_NO_MEDIA: Final = {tpb.DEVICE_ERROR_NO_MEDIA: "noMedia"}
_UNAVAILABLE: Final = Outcome(CompletionCode.DEVICE_NOT_READY, {}, "the agent is unreachable")


@dataclass
class CardReaderService(Service):
    """The ``CardReader`` service (Common + CardReader)."""

    media: str = "unknown"
    chip_power_state: str = "poweredOff"

    def __post_init__(self) -> None:
        self.commands = {
            "CardReader.ReadRawData": CommandSpec(self._read_raw_data),
            "CardReader.ChipIO": CommandSpec(self._chip_io),
            "CardReader.ChipPower": CommandSpec(self._chip_power),
        }
        self.events = (
            "CardReader.InsertCardEvent",
            "CardReader.MediaInsertedEvent",
            "CardReader.MediaRemovedEvent",
        )

    def status_section(self, states: dict[str, int]) -> dict[str, Any]:
        chip = self.chip_power_state if states.get(self.device) else "noDevice"
        return {"cardReader": {"media": self.media, "chipPower": chip, "chipModule": "ok"}}

    async def capability_sections(self) -> dict[str, Any]:
        protocols = {
            p: p in SUPPORTED_PROTOCOLS
            for p in (
                "chipT0",
                "chipT1",
                "chipProtocolNotRequired",
                "chipTypeAPart3",
                "chipTypeAPart4",
                "chipTypeB",
                "chipTypeNFC",
            )
        }
        return {
            "cardReader": {
                "type": "contactless",
                "readTracks": dict.fromkeys(("track1", "track2", "track3"), False),
                "chipProtocols": protocols,
                "chipPower": {"cold": True, "warm": True, "off": True},
                "cardTakenSensor": False,
            }
        }

    async def _media_lost(self) -> None:
        was_present = self.media == "present"
        self.media, self.chip_power_state = "notPresent", "noCard"
        if was_present:
            await self.broadcast("CardReader.MediaRemovedEvent")

    async def _read_raw_data(self, context: CommandContext) -> Outcome:
        payload = context.command.payload
        result: dict[str, Any] = {
            t: {"status": "dataSourceNotSupported"} for t in _TRACKS if payload.get(t)
        }
        if not payload.get("chip"):
            return Outcome(payload=result)
        told = False
        deadline = time.monotonic() + _LONGEST_WAIT_S
        while True:
            try:
                reply = await self.agent.chip_power(tpb.CHIP_POWER_ACTION_COLD)
            except AgentUnavailableError:
                return _UNAVAILABLE
            if reply.code == tpb.COMPLETION_CODE_SUCCESS:
                self.media, self.chip_power_state = "present", "online"
                await context.event("CardReader.MediaInsertedEvent")
                result["chip"] = [{"data": b64(reply.atr)}]
                return Outcome(payload=result)
            if reply.error != tpb.DEVICE_ERROR_NO_MEDIA or time.monotonic() > deadline:
                return device_outcome(reply.code, reply.error, _NO_MEDIA)
            if not told:  # the card is to be tapped now
                told = True
                await self._media_lost()
                await context.event("CardReader.InsertCardEvent")
            await asyncio.sleep(_POLL_S)

    async def _chip_io(self, context: CommandContext) -> Outcome:
        protocol = context.command.payload["chipProtocol"]
        if protocol not in SUPPORTED_PROTOCOLS:
            return Outcome(CompletionCode.COMMAND_ERROR_CODE, {"errorCode": "protocolNotSupported"})
        try:
            reply = await self.agent.chip_io(unb64(context.command.payload["chipData"]))
        except AgentUnavailableError:
            return _UNAVAILABLE
        if reply.error == tpb.DEVICE_ERROR_NO_MEDIA:
            await self._media_lost()
        elif reply.code == tpb.COMPLETION_CODE_SUCCESS:
            self.media, self.chip_power_state = "present", "online"
        payload = {"chipProtocol": protocol, "chipData": b64(reply.response_apdu)}
        errors = {
            tpb.DEVICE_ERROR_NO_MEDIA: "noMedia",
            tpb.DEVICE_ERROR_INVALID_DATA: "invalidData",
        }
        return device_outcome(reply.code, reply.error, errors, payload=payload)

    async def _chip_power(self, context: CommandContext) -> Outcome:
        action = {
            "cold": tpb.CHIP_POWER_ACTION_COLD,
            "warm": tpb.CHIP_POWER_ACTION_WARM,
            "off": tpb.CHIP_POWER_ACTION_OFF,
        }[context.command.payload["chipPower"]]
        try:
            reply = await self.agent.chip_power(action)
        except AgentUnavailableError:
            return _UNAVAILABLE
        if reply.code != tpb.COMPLETION_CODE_SUCCESS:
            if reply.error == tpb.DEVICE_ERROR_NO_MEDIA:
                await self._media_lost()
            return device_outcome(reply.code, reply.error, _NO_MEDIA)
        if action == tpb.CHIP_POWER_ACTION_OFF:
            self.chip_power_state = "poweredOff"
            return Outcome(payload={})
        self.media, self.chip_power_state = "present", "online"
        return Outcome(payload={"chipData": b64(reply.atr)})

    async def last_client_left(self) -> None:
        if self.chip_power_state == "online":
            try:
                await self.agent.chip_power(tpb.CHIP_POWER_ACTION_OFF)
            except AgentUnavailableError:
                return
            self.chip_power_state = "poweredOff"
