# SPDX-License-Identifier: Apache-2.0
"""A command's message log, so that its stream can be lost and re-attached (issue 23.1).

Why a log and not a queue: the flow of a command runs as its own task, not
inside the ``Execute`` stream, so the ATM application can lose its stream
(a crash, a network blip on the local socket) without losing the command.
Every message of the command — acknowledgement, events, completion — is
appended here in order; ``Execute`` and ``Attach`` both follow the log from
its start, and ``GetCommandOutcome`` reads its completion. ``CommandBook``
keeps the last few finished commands for those calls (bounded: the agent's
memory never grows with its uptime; transfers are also in the journal).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Final

from host.api.prompts import ApiUser
from myna.edge.v1 import terminal_pb2 as tpb

__all__ = ["Command", "CommandBook", "CommandLog"]

#: Finished commands remembered for Attach and GetCommandOutcome.
KEPT_FINISHED: Final = 64


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
