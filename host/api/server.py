# SPDX-License-Identifier: Apache-2.0
"""``TerminalServer``: the agent's local TerminalService on a Unix socket or 127.0.0.1.

One command runs at a time (a terminal has one card reader and one user), so
a second Execute is refused BUSY at acknowledgement, as XFS4IoT does. A
command's stream is: Acknowledgement, FlowEvents, then exactly one
Completion. ``timeout_ms`` bounds the whole command (0 = none); when it
expires the flow is cancelled and completes TIME_OUT — except a transfer's
cash handling, which no command timeout covers (issue 23.1). A client that
drops the stream cancels its command, which for an authorised transfer
means its cash question goes to the recovery desk (``RecoveryPrompt``),
never a reversal decided here. The flow runs as its own task and every
message goes to the command's log (``commands``), so ``Attach`` re-attaches
to it and ``GetCommandOutcome`` returns its completion (or, after a
restart, what the journal holds). Cancel racing completion is not an error.
``Execute`` is three named steps: ``_admit`` (a ``Refusal`` or an
``Admission``, parts in ``host.api.execute``), ``_start``, then following
the log; ``_drive`` runs the flow to its one completion.
``UpdateFirmware`` (an operator's call, ``host.api.firmware``) runs only when
no command runs and holds new commands BUSY until it completes.
The listen address must be ``unix:PATH`` or on 127.0.0.1 (never a public
interface: the API carries sealed touchscreen PINs under the kiosk profile).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio

from host.api.commands import Command, CommandBook, command_kind
from host.api.devices import DeviceDesk
from host.api.execute import (
    PAD_UNUSABLE,
    REQUEST_ID,
    Admission,
    CommandEvents,
    Refusal,
    close_card,
    expire,
    needs_pad,
    run_to_completion,
    verifier_state,
)
from host.api.firmware import FirmwareDesk
from host.api.prompts import ApiUser
from host.api.runtime import AgentRuntime, Profile, build_flow, check_listen
from host.api.staff import ApiStaff, forget_card_faces
from host.api.status import StatusBoard
from host.api.translate import journaled_completion
from host.errors import TouchEntryError
from host.flows import CardPort
from host.flows.settle import journaled_transfer
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc

__all__ = ["AgentRuntime", "Profile", "TerminalServicer", "check_listen"]

_log = logging.getLogger(__name__)

_Ctx = grpc.aio.ServicerContext[Any, Any]


class TerminalServicer(tpb_grpc.TerminalServiceServicer):
    """TerminalService over an ``AgentRuntime``."""

    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime
        self._running: dict[str, Command] = {}
        self._finished = CommandBook()
        self.status = StatusBoard()
        #: Set while recovery runs: new commands are refused BUSY meanwhile.
        self.hold = False
        #: The operator's firmware updates of the controller board.
        self.firmware = FirmwareDesk(runtime.firmware, self.status, runtime.ejournal)
        #: The XFS4IoT front end's device operations (chip, PIN pad, raw print).
        self.devices = DeviceDesk(
            runtime.reader_url,
            secure_entry=runtime.secure_entry,
            printer=runtime.printer,
            flow_busy=lambda: self.busy,
        )

    @property
    def busy(self) -> bool:
        """Whether a command or a firmware update is running."""
        return bool(self._running) or self.firmware.updating

    async def set_status(self, device: str, state: tpb.DeviceState.ValueType) -> None:
        """Record a device's status and tell the WatchStatus streams (unsolicited event)."""
        await self.status.set(device, state)

    async def GetStatus(  # noqa: N802 - gRPC method name
        self, request: tpb.GetStatusRequest, context: _Ctx
    ) -> tpb.GetStatusResponse:
        return tpb.GetStatusResponse(devices=self.status.statuses())

    async def WatchStatus(  # noqa: N802 - gRPC method name
        self, request: tpb.WatchStatusRequest, context: _Ctx
    ) -> AsyncIterator[tpb.WatchStatusResponse]:
        async for change in self.status.watch():
            yield change

    def _refusal(self, request: tpb.ExecuteRequest) -> Refusal | None:
        """Why ``request`` cannot run now (None: it can), in the order a client fixes them."""
        if not REQUEST_ID.fullmatch(request.request_id):
            return Refusal.invalid_request_id()
        if request.request_id in self._running:
            return Refusal(tpb.REFUSAL_REASON_DUPLICATE_REQUEST_ID)
        kind = command_kind(request)
        if kind is None:
            return Refusal(tpb.REFUSAL_REASON_INVALID_MESSAGE)
        if not self.runtime.offers(kind):
            return Refusal(tpb.REFUSAL_REASON_UNSUPPORTED_COMMAND)
        if self.busy or self.hold or self.devices.busy:
            return Refusal(tpb.REFUSAL_REASON_BUSY)
        pad = self.status.get("controller")
        if pad is not None and pad in PAD_UNUSABLE and needs_pad(self.runtime, request):
            return Refusal.pad_not_ready(pad)
        return None

    async def _admit(self, request: tpb.ExecuteRequest) -> Admission | Refusal:
        """The command ready to run (its card open, its flow built), or why not."""
        kind = command_kind(request)
        refusal = self._refusal(request)
        if refusal is not None or kind is None:
            return refusal or Refusal(tpb.REFUSAL_REASON_INVALID_MESSAGE)
        command = Command(request.request_id)
        port = ApiStaff if self.runtime.profile is Profile.COUNTER else ApiUser
        user = port(
            command.post,
            touch_secrets=self.runtime.touch_secrets,
            secure_entry=self.runtime.secure_entry,
            request_id=request.request_id,
        )
        card = self.runtime.card_factory()
        try:
            flow, run = build_flow(
                self.runtime, request, card=card, user=user, emit=CommandEvents(command)
            )
        except ValueError as exc:
            await close_card(card)
            return Refusal.invalid_command(request, exc)
        command.user, command.cancel = user, flow.cancel
        return Admission(request, kind, command, flow, run, card)

    def _start(self, admission: Admission) -> None:
        """Acknowledge the command and run its flow as its own task (issue 23.1)."""
        command = admission.command
        self._running[command.request_id] = command
        _log.info("command %s accepted: %s", command.request_id, admission.kind)
        command.log.append(
            tpb.ExecuteResponse(
                request_id=command.request_id,
                acknowledgement=tpb.Acknowledgement(accepted=True),
            )
        )
        command.task = asyncio.ensure_future(self._drive(admission))

    async def Execute(  # noqa: N802 - gRPC method name
        self, request: tpb.ExecuteRequest, context: _Ctx
    ) -> AsyncIterator[tpb.ExecuteResponse]:
        admitted = await self._admit(request)
        if isinstance(admitted, Refusal):
            yield admitted.response(request.request_id)
            return
        self._start(admitted)
        async for message in self._follow(admitted.command):
            yield message

    async def UpdateFirmware(  # noqa: N802 - gRPC method name
        self, request: tpb.UpdateFirmwareRequest, context: _Ctx
    ) -> AsyncIterator[tpb.UpdateFirmwareResponse]:
        busy = self.busy or self.hold or self.devices.busy
        async for message in self.firmware.stream(request, busy=busy):
            yield message

    async def _follow(self, command: Command) -> AsyncIterator[tpb.ExecuteResponse]:
        try:
            async for message in command.log.follow():
                yield message
        finally:
            if not command.log.closed:
                # The client went away: stop the command at its next
                # cancellable step; an authorised transfer's cash question
                # goes to the recovery desk instead (never decided here).
                _log.warning("command %s: the client's stream was lost", command.request_id)
                command.cancel()
        if command.completion is not None:
            # Delivered (grpc.aio sent each message before asking for the
            # next): a counter check's card face leaves the agent's memory.
            forget_card_faces(command.log.messages, command.completion)

    async def _drive(self, admission: Admission) -> None:
        """Run the command to its one completion, then forget it as running."""
        command, card = admission.command, admission.card
        rid = command.request_id
        timeout_ms = admission.request.timeout_ms
        timer = None
        if timeout_ms:
            loop = asyncio.get_running_loop()
            timer = loop.call_later(timeout_ms / 1000, expire, command, admission.flow)
        try:
            done = await run_to_completion(admission)
            state = verifier_state(admission.kind, admission.request, done)
            if state is not None:
                await self.set_status("verifier", state)
            if timer is not None:
                timer.cancel()
            await self._card_taken(command, card)
            await close_card(card)
            _log.info(
                "command %s completed: %s %s",
                rid,
                tpb.CompletionCode.Name(done.code),
                done.error_code,
            )
            command.completion = done
            self._running.pop(rid, None)  # before the client sees the completion
            self._finished.remember(command)
            command.log.append(tpb.ExecuteResponse(request_id=rid, completion=done))
        finally:
            if timer is not None:
                timer.cancel()
            if self._running.get(rid) is command:  # stopped (agent shutdown): no completion
                self._running.pop(rid, None)
                self._finished.remember(command)
                await close_card(card)
            command.log.close()

    async def _card_taken(self, command: Command, card: CardPort | None) -> None:
        # After "remove your card", wait (bounded) for the card to leave the
        # reader and say so before the completion, as XFS's media-taken event.
        seconds = self.runtime.card_taken_seconds
        wait = getattr(card, "wait_removed", None)
        if seconds <= 0 or wait is None or not getattr(card, "presented", False):
            return
        if not any(m.event.HasField("remove_card") for m in command.log.messages):
            return
        if await wait(seconds):
            command.post(tpb.FlowEvent(card_taken=tpb.CardTakenEvent()))

    async def drain(self, grace: float) -> None:
        """Wait up to ``grace`` seconds for running commands, then stop them hard.

        A transfer stopped hard mid cash question stays undecided in the
        journal: the next start-up recovery asks the ATM application.
        """
        tasks = [c.task for c in self._running.values() if c.task is not None]
        if self.firmware.task is not None:
            tasks.append(self.firmware.task)  # the board finishes what it started
        if not tasks:
            return
        await asyncio.wait(tasks, timeout=grace)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def AnswerPrompt(  # noqa: N802
        self, request: tpb.AnswerPromptRequest, context: _Ctx
    ) -> tpb.AnswerPromptResponse:
        command = self._running.get(request.request_id)
        try:
            accepted = (
                command is not None
                and command.user is not None
                and command.user.answer(request.prompt_id, request)
            )
        except TouchEntryError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return tpb.AnswerPromptResponse(accepted=accepted)

    async def Cancel(  # noqa: N802
        self, request: tpb.CancelRequest, context: _Ctx
    ) -> tpb.CancelResponse:
        ids = list(request.request_ids) or list(self._running)
        cancelled = [rid for rid in ids if rid in self._running]
        for rid in cancelled:
            self._running[rid].cancel()
        return tpb.CancelResponse(cancelled=cancelled)

    async def WatchRecovery(  # noqa: N802
        self, request: tpb.WatchRecoveryRequest, context: _Ctx
    ) -> AsyncIterator[tpb.RecoveryPrompt]:
        if self.runtime.recovery is None:
            return
        async for prompt in self.runtime.recovery.watch():
            yield prompt

    async def AnswerRecovery(  # noqa: N802
        self, request: tpb.AnswerRecoveryRequest, context: _Ctx
    ) -> tpb.AnswerRecoveryResponse:
        desk = self.runtime.recovery
        accepted = desk is not None and desk.answer(request.recovery_id, request.cash_moved)
        return tpb.AnswerRecoveryResponse(accepted=accepted)

    async def Attach(  # noqa: N802
        self, request: tpb.AttachRequest, context: _Ctx
    ) -> AsyncIterator[tpb.ExecuteResponse]:
        rid = request.request_id
        command = self._running.get(rid) or self._finished.get(rid)
        if command is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such command (GetCommandOutcome)")
        _log.info("command %s: a client re-attached", rid)
        async for message in self._follow(command):
            yield message

    async def GetCommandOutcome(  # noqa: N802
        self, request: tpb.GetCommandOutcomeRequest, context: _Ctx
    ) -> tpb.GetCommandOutcomeResponse:
        rid = request.request_id
        desk = self.runtime.recovery
        waiting = desk is not None and desk.waiting_for(rid)
        reply = tpb.GetCommandOutcomeResponse(request_id=rid, awaiting_recovery=waiting)
        if rid in self._running:
            reply.state = tpb.COMMAND_STATE_RUNNING
            return reply
        command = self._finished.get(rid)
        if command is not None and command.completion is not None:
            reply.state = tpb.COMMAND_STATE_COMPLETED
            reply.completion.CopyFrom(command.completion)
            return reply
        journaled = (
            journaled_transfer(self.runtime.journal, rid) if REQUEST_ID.fullmatch(rid) else None
        )
        if journaled is None:
            reply.state = tpb.COMMAND_STATE_UNKNOWN
            return reply
        reply.state = tpb.COMMAND_STATE_JOURNALED
        reply.completion.CopyFrom(journaled_completion(journaled))
        return reply

    async def ChipPower(  # noqa: N802
        self, request: tpb.ChipPowerRequest, context: _Ctx
    ) -> tpb.ChipPowerResponse:
        return await self.devices.chip_power(request)

    async def ChipIo(  # noqa: N802
        self, request: tpb.ChipIoRequest, context: _Ctx
    ) -> tpb.ChipIoResponse:
        return await self.devices.chip_io(request)

    async def EnterPin(  # noqa: N802
        self, request: tpb.EnterPinRequest, context: _Ctx
    ) -> tpb.EnterPinResponse:
        return await self.devices.enter_pin(request)

    async def PresentPin(  # noqa: N802
        self, request: tpb.PresentPinRequest, context: _Ctx
    ) -> tpb.PresentPinResponse:
        return await self.devices.present_pin(request)

    async def PrintRaw(  # noqa: N802
        self, request: tpb.PrintRawRequest, context: _Ctx
    ) -> tpb.PrintRawResponse:
        return await self.devices.print_raw(request)

    async def GetCapabilities(  # noqa: N802
        self, request: tpb.GetCapabilitiesRequest, context: _Ctx
    ) -> tpb.GetCapabilitiesResponse:
        return self.runtime.capabilities()
