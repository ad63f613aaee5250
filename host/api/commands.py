# SPDX-License-Identifier: Apache-2.0
"""Commands: their kinds, and each one's log, so its stream can be lost and re-attached.

``CommandKind`` names what an ``ExecuteRequest`` asks for (issue 13: an
enum, not strings). Why a log and not a queue (issue 23.1): the flow of a
command runs as its own task, not inside the ``Execute`` stream, so the ATM
application can lose its stream (a crash, a network blip on the local
socket) without losing the command. Every message of the command —
acknowledgement, events, completion — is appended here in order;
``Execute`` and ``Attach`` both follow the log from its start, and
``GetCommandOutcome`` reads its completion. ``CommandBook`` keeps the last
few finished commands for those calls (bounded: the agent's
memory never grows with its uptime; transfers are also in the journal).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from enum import StrEnum
from typing import Final

from host.api.prompts import ApiUser
from myna.edge.v1 import terminal_pb2 as tpb

__all__ = ["Command", "CommandBook", "CommandKind", "CommandLog", "command_kind"]

#: Finished commands remembered for Attach and GetCommandOutcome.
KEPT_FINISHED: Final = 64


class CommandKind(StrEnum):
    """What an ``ExecuteRequest`` asks for: the members are its ``command`` oneof's fields.

    Why an enum: the servicer, the runtime and the capabilities branch on
    it, and a misspelt member fails at import where a misspelt string would
    silently compare unequal.
    """

    READ_CARD = "read_card"
    PIN_RESET = "pin_reset"
    TRANSFER = "transfer"
    COUNTER_CHECK = "counter_check"
    ISSUE_CERTIFICATE = "issue_certificate"


def command_kind(request: tpb.ExecuteRequest) -> CommandKind | None:
    """The command ``request`` carries (None: none set)."""
    which = request.WhichOneof("command")
    return None if which is None else CommandKind(which)


class CommandLog:
    """The ordered messages of one command; followers wake on each new one."""

    def __init__(self) -> None:
        self.messages: list[tpb.ExecuteResponse] = []
        self.closed = False
        self._grew = asyncio.Event()

    def append(self, message: tpb.ExecuteResponse) -> None:
        """Add ``message`` and wake the followers (ignored once closed)."""
        if self.closed:
            return
        self.messages.append(message)
        self._wake()

    def close(self) -> None:
        """No message follows (the completion was the last, or the command was stopped)."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        grew, self._grew = self._grew, asyncio.Event()
        grew.set()

    async def follow(self) -> AsyncIterator[tpb.ExecuteResponse]:
        """Every message from the first, then each new one, until the log closes."""
        index = 0
        while True:
            while index < len(self.messages):
                yield self.messages[index]
                index += 1
            if self.closed:
                return
            await self._grew.wait()


class Command:
    """A running or finished command: its log, its cancel, its completion."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        #: The command's user port (prompt answers) and its cancel, once it runs.
        self.user: ApiUser | None = None
        self.cancel: Callable[[], None] = lambda: None
        self.log = CommandLog()
        self.completion: tpb.Completion | None = None
        self.timed_out = False
        self.task: asyncio.Future[None] | None = None
        #: What was presented (the completion's credential_kind); UNSPECIFIED until then.
        self.credential_kind: tpb.CredentialKind.ValueType = tpb.CREDENTIAL_KIND_UNSPECIFIED

    def post(self, event: tpb.FlowEvent) -> None:
        """Append ``event`` to the log, as the command's stream carries it."""
        self.log.append(tpb.ExecuteResponse(request_id=self.request_id, event=event))


class CommandBook:
    """The last ``KEPT_FINISHED`` finished commands, by request id (latest wins)."""

    def __init__(self, keep: int = KEPT_FINISHED) -> None:
        self._keep = keep
        self._done: OrderedDict[str, Command] = OrderedDict()

    def remember(self, command: Command) -> None:
        """Keep ``command``; the oldest is forgotten past the bound."""
        self._done.pop(command.request_id, None)
        self._done[command.request_id] = command
        while len(self._done) > self._keep:
            self._done.popitem(last=False)

    def get(self, request_id: str) -> Command | None:
        """The finished command ``request_id``, if still remembered."""
        return self._done.get(request_id)
