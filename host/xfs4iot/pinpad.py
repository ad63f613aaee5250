# SPDX-License-Identifier: Apache-2.0
"""The PIN pad service (Keyboard + PinPad): secure PIN entry and presentation to the card.

How the PIN stays out of the application (docs/xfs4iot.md, "PIN bridging"):

* ``Keyboard.PinEntry`` asks the agent's ``EnterPin``: the controller board
  collects the PIN and sends it to the agent only as an encrypted,
  authenticated PIN block (firmware/PROTOCOL.md); the agent opens it into
  a wiped-after-use secret and holds it for one presentation. The
  completion carries ``digits`` (how many were typed) and ``completion``,
  never a value; no ``Keyboard.KeyEvent`` is sent, as the board reports
  only the finished entry. ``minLen`` of 6 or more asks for the JPKI
  signing password (6-16 letters and digits, multi-tap on the pad);
  otherwise a 4-digit PIN.
* ``PinPad.PresentIDC`` with ``presentClear``: XFS4IoT's algorithm inserts
  the PIN into ``chipData`` one digit per nibble at ``pinPointer`` /
  ``pinOffset``, a format the JPKI card's VERIFY does not take (it wants
  one ASCII byte per character, jpki-card.md). So this front end takes
  ``chipData`` = the VERIFY's CLA INS P1 P2 (INS 0x20) with
  ``pinPointer`` 5 and ``pinOffset`` 0, and the *agent* appends Lc and the
  PIN as ASCII (``PresentPin``) and sends it; the completion carries the
  card's response (its status word). The PIN is wiped after this one use.
  Capabilities say ``presentClear: true`` with this documented deviation.
* ``Keyboard.DataEntry`` (plain key values) is not offered: the board has
  no plain-entry mode, and the completion says ``unsupportedCommand``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from host.xfs4iot.agent import AgentUnavailableError
from host.xfs4iot.cardreader import SUPPORTED_PROTOCOLS
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

__all__ = ["PIN_POINTER", "PinPadService"]

#: Where the PIN goes in PresentIDC's chipData: after CLA INS P1 P2 and the Lc the agent adds.
PIN_POINTER: Final = 5
_PASSWORD_MIN: Final = 6
_UNAVAILABLE: Final = Outcome(CompletionCode.DEVICE_NOT_READY, {}, "the agent is unreachable")


@dataclass
class PinPadService(Service):
    """The ``PinPad`` service (Common + Keyboard + PinPad)."""

    def __post_init__(self) -> None:
        self.commands = {
            "Keyboard.PinEntry": CommandSpec(self._pin_entry),
            "PinPad.PresentIDC": CommandSpec(self._present_idc),
        }

    def status_section(self, states: dict[str, int]) -> dict[str, Any]:
        return {
            "keyboard": {"autoBeepMode": {"activeAvailable": False, "inactiveAvailable": False}}
        }

    async def capability_sections(self) -> dict[str, Any]:
        return {
            "keyboard": {"autoBeep": {"activeAvailable": False, "inactiveAvailable": False}},
            "pinPad": {
                "presentationAlgorithms": {"presentClear": True},
                "idcConnect": True,
                "pinCanPersistAfterUse": False,
            },
        }

    async def _pin_entry(self, context: CommandContext) -> Outcome:
        payload = context.command.payload
        min_len, max_len = payload.get("minLen", 0), payload.get("maxLen", 0)
        if max_len and min_len > max_len:
            return Outcome(CompletionCode.COMMAND_ERROR_CODE, {"errorCode": "minimumLength"})
        kind = (
            tpb.PROMPT_TYPE_SIGNING_PASSWORD
            if min_len >= _PASSWORD_MIN
            else tpb.PROMPT_TYPE_AUTH_PIN
        )
        request = tpb.EnterPinRequest(type=kind, min_length=min_len, max_length=max_len)
        try:
            reply = await self.agent.enter_pin(request)
        except AgentUnavailableError:
            return _UNAVAILABLE
        if reply.error == tpb.DEVICE_ERROR_UNSUPPORTED_LENGTH:
            return Outcome(
                CompletionCode.UNSUPPORTED_DATA,
                {},
                "the pad enters 4-digit PINs (minLen <= 4, maxLen 0 or >= 4) or 6-16 character "
                "signing passwords (minLen 6, maxLen 0 or >= 16)",
            )
        result = {"digits": reply.digits, "completion": "enter"}
        errors = {tpb.DEVICE_ERROR_ENTRY_TIMEOUT: "entryTimeout"}
        return device_outcome(reply.code, reply.error, errors, payload=result)

    async def _present_idc(self, context: CommandContext) -> Outcome:
        payload = context.command.payload
        protocol = payload["chipProtocol"]
        if protocol not in SUPPORTED_PROTOCOLS:
            return Outcome(CompletionCode.COMMAND_ERROR_CODE, {"errorCode": "protocolNotSupported"})
        header = unb64(payload["chipData"])
        where = payload["algorithmData"]
        if len(header) != 4 or where["pinPointer"] != PIN_POINTER or where["pinOffset"] != 0:
            return Outcome(
                CompletionCode.COMMAND_ERROR_CODE,
                {"errorCode": "invalidData"},
                "chipData must be a VERIFY's CLA INS P1 P2 with pinPointer 5 and pinOffset 0: "
                "the agent appends Lc and the PIN as ASCII (docs/xfs4iot.md)",
            )
        try:
            reply = await self.agent.present_pin(header)
        except AgentUnavailableError:
            return _UNAVAILABLE
        result = {"chipProtocol": protocol, "chipData": b64(reply.response_apdu)}
        errors = {tpb.DEVICE_ERROR_NO_PIN: "noPin", tpb.DEVICE_ERROR_INVALID_DATA: "invalidData"}
        return device_outcome(reply.code, reply.error, errors, payload=result)
