# SPDX-License-Identifier: Apache-2.0
"""One client connection to one service: acknowledge, run, cancel, complete.

The XFS4IoT rules (docs/xfs4iot.md, "Message rules") kept here, once for
every service:

* every command gets an acknowledge first; a refusing one
  (``invalidMessage``, ``invalidRequestID`` for a bad or duplicate id,
  ``tooManyRequests``) is the only answer. An accepted command then gets
  zero or more events and exactly one completion, whatever happens
  (unknown name: ``unsupportedCommand``/``invalidCommand``; payload
  breaking its schema: ``invalidData``; a handler failing: ``internalError``);
* ``timeout`` (ms, 0 = none) bounds a command; it ends ``timeOut`` (a
  command with ``own_timeout`` hands it to the agent instead);
* Common.Cancel runs at once and cancels this client's commands by id
  (none listed = all); a command already completing keeps its completion
  (cancel racing completion is not an error);
* a client that disconnects has its commands cancelled;
* every message sent is checked against its schema first: a completion
  that would not validate is replaced by an ``internalError`` one, so a
  client never receives a message the schemas do not describe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from host.errors import XfsMessageError
from host.xfs4iot import common
from host.xfs4iot.messages import (
    AckStatus,
    Command,
    CompletionCode,
    acknowledge,
    completion,
    encode,
    event,
    parse_command,
    unsolicited,
)
from host.xfs4iot.schema import SchemaBook
from host.xfs4iot.service import VERSIONS, CommandContext, CommandSpec, Outcome, Service

__all__ = ["MAX_REQUESTS", "Session"]

_log = logging.getLogger(__name__)

#: Commands one client may have queued or running on one service.
MAX_REQUESTS: Final = 16
#: How long a soft-cancelled command (a flow) may take to complete by itself.
_SOFT_CANCEL_S: Final = 15.0

Sender = Callable[[str], Awaitable[None]]


class _Running:
    """A command between its acknowledge and its completion.

    ``work`` (queue + handler) is what a cancel stops; the task that sends
    the completion awaits it and is never the one cancelled, so a command
    cancelled before its handler even started still completes (a task
    cancelled before its first step never runs its own ``except``).
    """

    def __init__(self, context: CommandContext) -> None:
        self.context = context
        self.work: asyncio.Task[Outcome] | None = None
        self.timer: asyncio.TimerHandle | None = None


class Session:
    """One WebSocket client of one service.

    Args:
        service: the service it talks to.
        send: sends one text frame.
        book: the schemas (``SchemaBook.load()``).
    """

    def __init__(self, service: Service, send: Sender, *, book: SchemaBook) -> None:
        self.service = service
        self._send = send
        self._book = book
        self._running: dict[int, _Running] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # --- sending ------------------------------------------------------------

    async def _emit(self, message: dict[str, Any]) -> bool:
        errors = self._book.message_errors(message)
        if errors:
            header = message["header"]
            _log.error(
                "outgoing %s %s breaks its schema: %s",
                header.get("name"),
                header.get("type"),
                "; ".join(errors[:3]),
            )
            return False
        try:
            await self._send(encode(message))
        except Exception as exc:  # noqa: BLE001 - the client went away: nothing to tell it
            _log.info("client gone while sending: %s", type(exc).__name__)
        return True

    async def send_unsolicited(self, name: str, payload: dict[str, Any] | None) -> None:
        """An unsolicited event to this client."""
        await self._emit(
            unsolicited(name, payload, version=VERSIONS.get((name, "unsolicited"), "2.0"))
        )

    async def _complete(self, command: Command, outcome: Outcome) -> None:
        name = command.name
        version = VERSIONS.get((name, "completion"), "2.0")
        message = completion(
            name,
            command.request_id,
            outcome.code,
            outcome.payload,
            description=outcome.description,
            version=version,
        )
        if not await self._emit(message):
            await self._emit(
                completion(
                    name,
                    command.request_id,
                    CompletionCode.INTERNAL_ERROR,
                    description="the completion broke its schema",
                    version=version,
                )
            )

    # --- receiving ----------------------------------------------------------

    async def receive(self, data: str | bytes) -> None:
        """Handle one incoming message; never raises for the message's content."""
        try:
            command = parse_command(data)
        except XfsMessageError as exc:
            await self._emit(acknowledge(exc.name, exc.request_id, status=AckStatus(exc.status)))
            return
        rid = command.request_id
        if rid in self._running:
            await self._emit(acknowledge(command.name, rid, status=AckStatus.INVALID_REQUEST_ID))
            return
        if len(self._running) >= MAX_REQUESTS:
            await self._emit(acknowledge(command.name, rid, status=AckStatus.TOO_MANY_REQUESTS))
            return
        await self._emit(acknowledge(command.name, rid))
        spec, refusal = self._lookup(command)
        if spec is None:
            await self._complete(command, refusal or Outcome(CompletionCode.INTERNAL_ERROR))
            return
        self._start(command, spec)

    def _lookup(self, command: Command) -> tuple[CommandSpec | None, Outcome | None]:
        name = command.name
        spec = common.COMMANDS.get(name) or self.service.commands.get(name)
        if spec is None:
            interface = name.split(".", 1)[0]
            if interface == "Common" or interface in self.service.interfaces:
                why = f"{name} is not supported by this service"
                return None, Outcome(CompletionCode.UNSUPPORTED_COMMAND, description=why)
            why = f"{name} is not a command of this service"
            return None, Outcome(CompletionCode.INVALID_COMMAND, description=why)
        errors = self._book.payload_errors(name, "command", command.payload)
        if errors:
            return None, Outcome(CompletionCode.INVALID_DATA, description="; ".join(errors[:5]))
        return spec, None

    def _start(self, command: Command, spec: CommandSpec) -> None:
        async def send_event(name: str, payload: dict[str, Any] | None = None) -> None:
            version = VERSIONS.get((name, "event"), "2.0")
            await self._emit(event(name, command.request_id, payload, version=version))

        running = _Running(CommandContext(command, self, send_event))
        self._running[command.request_id] = running
        if command.timeout_ms and not spec.own_timeout:
            running.timer = asyncio.get_running_loop().call_later(
                command.timeout_ms / 1000, self._stop, command.request_id, CompletionCode.TIME_OUT
            )
        running.work = asyncio.ensure_future(self._work(running.context, spec))
        task = asyncio.ensure_future(self._run(running, running.work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _work(self, context: CommandContext, spec: CommandSpec) -> Outcome:
        if spec.immediate:
            return await spec.handler(context)
        async with self.service.queue:
            return await spec.handler(context)

    async def _run(self, running: _Running, work: asyncio.Task[Outcome]) -> None:
        context = running.context
        command = context.command
        try:
            outcome = await work
        except asyncio.CancelledError:
            outcome = Outcome(context.cancel_reason or CompletionCode.CANCELED)
        except Exception:  # noqa: BLE001 - any handler bug still completes
            _log.exception("%s failed", command.name)
            outcome = Outcome(CompletionCode.INTERNAL_ERROR, description="the service failed")
        finally:
            if running.timer is not None:
                running.timer.cancel()
            self._running.pop(command.request_id, None)
        if context.cancel_reason is not None and outcome.code is CompletionCode.CANCELED:
            outcome.code = context.cancel_reason  # the agent says canceled; the client timed out
        await self._complete(command, outcome)

    # --- cancelling ---------------------------------------------------------

    def _stop(self, request_id: int, reason: CompletionCode) -> bool:
        running = self._running.get(request_id)
        if running is None or running.work is None or running.work.done():
            return False
        context = running.context
        if context.cancel_reason is not None:
            return True  # already stopping
        context.cancel_reason = reason
        if context.soft_cancel is not None:
            soft = asyncio.ensure_future(context.soft_cancel())
            self._tasks.add(soft)
            soft.add_done_callback(self._tasks.discard)
            # A flow that does not end on its own in time is stopped hard.
            asyncio.get_running_loop().call_later(_SOFT_CANCEL_S, running.work.cancel)
        else:
            running.work.cancel()
        return True

    def cancel(self, request_ids: list[int] | None, *, keep: int) -> list[int]:
        """Cancel this client's commands (None = all but ``keep``); returns those stopped."""
        ids = [rid for rid in self._running if rid != keep] if request_ids is None else request_ids
        return [rid for rid in ids if rid != keep and self._stop(rid, CompletionCode.CANCELED)]

    async def close(self) -> None:
        """The client went away: cancel its commands and wait for them (bounded)."""
        self.cancel(None, keep=0)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=_SOFT_CANCEL_S + 1)
        for task in list(self._tasks):
            task.cancel()
