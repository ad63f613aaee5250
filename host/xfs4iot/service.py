# SPDX-License-Identifier: Apache-2.0
"""What an XFS4IoT service is here: its interfaces, command handlers and clients.

A service (one WebSocket endpoint, ``/xfs4iot/v1.0/<name>``) offers the
Common interface plus its own (``CardReader``; ``Keyboard`` + ``PinPad``;
``Printer``; the vendor ``MynaEdge``). Its handlers are coroutines taking a
``CommandContext`` and returning an ``Outcome`` (the completion); they send
events through the context. The per-connection rules (acknowledge,
request ids, timeouts, cancel) live in ``session``, so a service only says
what a command does. Commands run one at a time per service, in arrival
order, as XFS4IoT queues them; ``immediate`` commands (Common.Cancel,
answering a prompt) run at once.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from host.xfs4iot.agent import AgentLink
from host.xfs4iot.messages import Command, CompletionCode
from myna.edge.v1 import terminal_pb2 as tpb

if TYPE_CHECKING:
    from host.xfs4iot.session import Session

__all__ = [
    "COMMAND_VERSIONS",
    "DEVICE_STATES",
    "VERSIONS",
    "CommandContext",
    "CommandSpec",
    "Outcome",
    "Service",
    "agent_code",
    "b64",
    "device_outcome",
    "unb64",
]

_log = logging.getLogger(__name__)

#: Message versions of the 2024-3 release (KAL framework at its 2024-3
#: update); any message not listed is "2.0".
VERSIONS: Final = {
    ("Common.Status", "completion"): "3.0",
    ("Common.Capabilities", "completion"): "3.0",
    ("Common.StatusChangedEvent", "unsolicited"): "3.0",
    ("CardReader.ReadRawData", "completion"): "3.0",
    ("CardReader.ChipIO", "completion"): "3.0",
    ("CardReader.ChipPower", "completion"): "3.0",
    ("PinPad.PresentIDC", "completion"): "3.0",
    ("Printer.PrintRaw", "completion"): "3.0",
}
#: The versions a command is offered in (Common.Capabilities ``commands``).
COMMAND_VERSIONS: Final = {
    "CardReader.ChipIO": "3.0",
    "PinPad.PresentIDC": "3.0",
    "Printer.PrintRaw": "3.0",
}

#: Agent device state -> XFS4IoT ``common.device``.
DEVICE_STATES: Final[dict[int, str]] = {
    tpb.DEVICE_STATE_ONLINE: "online",
    tpb.DEVICE_STATE_OFFLINE: "offline",
    tpb.DEVICE_STATE_NO_DEVICE: "noDevice",
    tpb.DEVICE_STATE_HARDWARE_ERROR: "hardwareError",
    tpb.DEVICE_STATE_BUSY: "deviceBusy",
    tpb.DEVICE_STATE_FRAUD_ATTEMPT: "fraudAttempt",
    # Present but inoperable until an operator commissions it (injects the
    # pad's key): XFS4IoT's hardwareError, not a transient offline.
    tpb.DEVICE_STATE_NOT_COMMISSIONED: "hardwareError",
}

#: Agent completion code -> XFS4IoT completion code.
_AGENT_CODES: Final = {
    tpb.COMPLETION_CODE_SUCCESS: CompletionCode.SUCCESS,
    tpb.COMPLETION_CODE_COMMAND_ERROR: CompletionCode.COMMAND_ERROR_CODE,
    tpb.COMPLETION_CODE_CANCELED: CompletionCode.CANCELED,
    tpb.COMPLETION_CODE_TIME_OUT: CompletionCode.TIME_OUT,
    tpb.COMPLETION_CODE_DEVICE_NOT_READY: CompletionCode.DEVICE_NOT_READY,
    tpb.COMPLETION_CODE_HARDWARE_ERROR: CompletionCode.HARDWARE_ERROR,
    tpb.COMPLETION_CODE_INTERNAL_ERROR: CompletionCode.INTERNAL_ERROR,
    tpb.COMPLETION_CODE_USER_ERROR: CompletionCode.USER_ERROR,
}


def b64(data: bytes) -> str:
    """Bytes as the spec's base64 string."""
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    """A base64 field the schema already checked (pattern) as bytes."""
    return base64.b64decode(text, validate=True)


@dataclass
class Outcome:
    """A command's completion: code, payload, and a description for errors."""

    code: CompletionCode = CompletionCode.SUCCESS
    payload: dict[str, Any] | None = None
    description: str | None = None


def device_outcome(
    code: tpb.CompletionCode.ValueType,
    error: tpb.DeviceError.ValueType,
    errors: Mapping[tpb.DeviceError.ValueType, str],
    *,
    payload: dict[str, Any] | None = None,
) -> Outcome:
    """An agent device operation's (code, DeviceError) as a completion.

    ``errors`` maps the DeviceErrors that are this command's class-specific
    ``errorCode`` (they complete ``commandErrorCode``); the rest map to a
    completion code alone, with the error's name as the description.
    """
    if code == tpb.COMPLETION_CODE_SUCCESS:
        return Outcome(payload=payload if payload is not None else {})
    if error in errors:
        return Outcome(CompletionCode.COMMAND_ERROR_CODE, {"errorCode": errors[error]})
    known = error in tpb.DeviceError.values() and error != tpb.DEVICE_ERROR_UNSPECIFIED
    description = tpb.DeviceError.Name(error) if known else None
    if error == tpb.DEVICE_ERROR_INVALID_DATA:
        return Outcome(CompletionCode.INVALID_DATA, {}, description)
    if error == tpb.DEVICE_ERROR_ACCESS_DENIED:
        return Outcome(CompletionCode.UNSUPPORTED_DATA, {}, description)
    mapped = agent_code(code)
    if mapped is CompletionCode.COMMAND_ERROR_CODE:  # an error with no class-specific code
        mapped = CompletionCode.INVALID_DATA
    return Outcome(mapped, {}, description)


def agent_code(code: tpb.CompletionCode.ValueType) -> CompletionCode:
    """The XFS4IoT completion code of an agent completion code."""
    return _AGENT_CODES.get(code, CompletionCode.INTERNAL_ERROR)


class EventSink(Protocol):
    """Sends an event of the running command."""

    async def __call__(self, name: str, payload: dict[str, Any] | None = None) -> None: ...


@dataclass
class CommandContext:
    """One running command as its handler sees it.

    Attributes:
        command: the parsed command (payload already schema-checked).
        session: the connection that sent it.
        send_event: sends an event of this command.
        cancel_reason: set when a Cancel or the timeout stops the command.
        soft_cancel: set by a handler whose work is cancelled by asking the
            agent (a flow), so its own completion still follows.
    """

    command: Command
    session: Session
    send_event: EventSink
    cancel_reason: CompletionCode | None = None
    soft_cancel: Callable[[], Awaitable[None]] | None = None

    async def event(self, name: str, payload: dict[str, Any] | None = None) -> None:
        """Send an event of this command."""
        await self.send_event(name, payload)


Handler = Callable[[CommandContext], Awaitable[Outcome]]


@dataclass(frozen=True)
class CommandSpec:
    """A command a service implements.

    Attributes:
        handler: the coroutine that runs it.
        immediate: runs at once, beside the queued commands.
        own_timeout: the handler passes the header ``timeout`` on to the
            agent, which knows which steps it may not cover (the transfer's
            cash question); the session arms no timer of its own.
    """

    handler: Handler
    immediate: bool = False
    own_timeout: bool = False


@dataclass
class Service:
    """One XFS4IoT service endpoint.

    Attributes:
        name: the URI's last segment (``CardReader``).
        interfaces: the interfaces besides Common, in Capabilities order.
        device: the agent device whose status is this service's ``common.device``.
        commands: the non-Common commands this service implements.
        events: event names this service may send (Capabilities).
        agent: the link to the agent.
        sessions: the connected clients (unsolicited events go to each).
    """

    name: str
    interfaces: tuple[str, ...]
    device: str
    agent: AgentLink
    commands: dict[str, CommandSpec] = field(default_factory=dict)
    events: tuple[str, ...] = ()
    sessions: set[Session] = field(default_factory=set)
    queue: asyncio.Lock = field(default_factory=asyncio.Lock)

    def status_section(self, states: dict[str, int]) -> dict[str, Any]:
        """The interface sections of Common.Status besides ``common``."""
        return {}

    async def capability_sections(self) -> dict[str, Any]:
        """The interface sections of Common.Capabilities besides ``interfaces``/``common``."""
        return {}

    async def broadcast(self, name: str, payload: dict[str, Any] | None = None) -> None:
        """Send an unsolicited event to every connected client."""
        for session in list(self.sessions):
            await session.send_unsolicited(name, payload)

    async def client_joined(self, session: Session) -> None:
        """Called when a client connects (before its first message is read)."""

    async def client_left(self, session: Session) -> None:
        """Called when a client disconnects, after its commands were cancelled."""

    async def last_client_left(self) -> None:
        """Called when the last client disconnects (release what it held)."""
