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
``UpdateFirmware`` (an operator's call, ``host.api.firmware``) runs only when
no command runs and holds new commands BUSY until it completes.
The listen address must be ``unix:PATH`` or on 127.0.0.1 (never a public
interface: the API carries sealed touchscreen PINs under the kiosk profile).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from typing import Any, Final

import grpc
import grpc.aio

from host.api.commands import Command, CommandBook
from host.api.devices import DeviceDesk
from host.api.firmware import FirmwareDesk, UpdateRefusedError
from host.api.prompts import ApiUser
from host.api.runtime import AgentRuntime, Flow, FlowRunner, Profile, build_flow, check_listen
from host.api.status import StatusBoard
from host.api.translate import completion_for, event_message, journaled_completion
from host.api.user_text import describe_reason
from host.errors import TouchEntryError
from host.flows import CardPort, Event, FlowFailed, TransferFlow
from host.flows.settle import journaled_transfer
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc

__all__ = ["AgentRuntime", "Profile", "TerminalServicer", "check_listen"]

_log = logging.getLogger(__name__)

_REQUEST_ID: Final = re.compile(r"[\x21-\x7e]{1,64}")
#: Controller states in which secure entry cannot work (no key, or keys erased).
_PAD_UNUSABLE: Final = frozenset(
    {tpb.DEVICE_STATE_NOT_COMMISSIONED, tpb.DEVICE_STATE_FRAUD_ATTEMPT}
)
#: The DEVICE_NOT_READY refusal's detail for each of those states (issue 23.2).
_PAD_DETAIL: Final = {
    tpb.DEVICE_STATE_NOT_COMMISSIONED: "controller not commissioned: the secure PIN pad has "
    "no key matching controller_key (myna-edge sim controller --commission KEYFILE)",
    tpb.DEVICE_STATE_FRAUD_ATTEMPT: "controller tamper: the secure PIN pad erased its keys",
}

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
        #: The XFS4IoT front end's device operations (chip, PIN pad, raw print).
        #: The operator's firmware updates of the controller board.
        self.firmware = FirmwareDesk(runtime.firmware, self.status, runtime.ejournal)
        self.devices = DeviceDesk(
            runtime.reader_url, secure_entry=runtime.secure_entry, printer=runtime.printer,
            flow_busy=lambda: self.busy,
        )  # fmt: skip

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

    @staticmethod
    def _refuse(
        request_id: str,
        reason: tpb.RefusalReason.ValueType,
        invalid_field: str = "",
        detail: str = "",
    ) -> tpb.ExecuteResponse:
        if reason == tpb.REFUSAL_REASON_INVALID_REQUEST_ID:
            invalid_field, detail = "request_id", "1-64 printable ASCII characters, no spaces"
        ack = tpb.Acknowledgement(
            accepted=False, refusal=reason, invalid_field=invalid_field, detail=detail
        )
        _log.info("command %r refused: %s %s", request_id[:64],
                  tpb.RefusalReason.Name(reason), invalid_field)  # fmt: skip
        return tpb.ExecuteResponse(request_id=request_id, acknowledgement=ack)

    def _refusal(self, request: tpb.ExecuteRequest) -> tpb.RefusalReason.ValueType | None:
        command = request.WhichOneof("command")
        if not _REQUEST_ID.fullmatch(request.request_id):
            return tpb.REFUSAL_REASON_INVALID_REQUEST_ID
        if request.request_id in self._running:
            return tpb.REFUSAL_REASON_DUPLICATE_REQUEST_ID
        if command is None:
            return tpb.REFUSAL_REASON_INVALID_MESSAGE
        if not self.runtime.offers(command):
            return tpb.REFUSAL_REASON_UNSUPPORTED_COMMAND
        if self.busy or self.hold or self.devices.busy:
            return tpb.REFUSAL_REASON_BUSY
        if self._needs_pad(request) and self.status.get("controller") in _PAD_UNUSABLE:
            return tpb.REFUSAL_REASON_DEVICE_NOT_READY
        return None

    def _needs_pad(self, request: tpb.ExecuteRequest) -> bool:
        # At an ATM every secret comes from the secure PIN pad: a transfer
        # over the threshold (the signing password) and a read that unlocks
        # the card (its PINs). Refusing these at acknowledgement is what an
        # ATM application can act on; failing at the prompt is not.
        if self.runtime.profile is not Profile.ATM:
            return False
        which = request.WhichOneof("command")
        if which == "transfer":
            return request.transfer.amount_yen > self.runtime.threshold_yen
        return which == "read_card" and (
            request.read_card.read_basic_four or request.read_card.verify_card
        )

    async def Execute(  # noqa: N802 - gRPC method name
        self, request: tpb.ExecuteRequest, context: _Ctx
    ) -> AsyncIterator[tpb.ExecuteResponse]:
        rid = request.request_id
        refusal = self._refusal(request)
        run: FlowRunner | None = None
        invalid_field = detail = ""
        pad = self.status.get("controller")
        if refusal == tpb.REFUSAL_REASON_DEVICE_NOT_READY and pad is not None:
            detail = _PAD_DETAIL.get(pad, "")
        command = Command(rid)
        log = command.log
        user = ApiUser(
            lambda event: log.append(tpb.ExecuteResponse(request_id=rid, event=event)),
            touch_secrets=self.runtime.profile is Profile.KIOSK,
            secure_entry=self.runtime.secure_entry,
            request_id=rid,
        )
        card = self.runtime.card_factory() if refusal is None else None

        def emit(event: Event) -> None:
            if command.timed_out and isinstance(event, FlowFailed) and event.code == "cancelled":
                # The failure event and the completion say the same: TIME_OUT.
                event = FlowFailed("timeout", "the command's timeout_ms expired")
            message = event_message(event)
            if message is not None:
                log.append(tpb.ExecuteResponse(request_id=rid, event=message))

        if card is not None:
            try:
                flow, run = build_flow(self.runtime, request, card, user, emit)
            except ValueError as exc:
                refusal = tpb.REFUSAL_REASON_INVALID_MESSAGE
                name = getattr(exc, "field", "")
                invalid_field = f"{request.WhichOneof('command')}.{name}" if name else ""
                detail = str(exc)
                await _close_card(card)
        if refusal is not None or run is None:
            yield self._refuse(
                rid, refusal or tpb.REFUSAL_REASON_INVALID_MESSAGE, invalid_field, detail
            )
            return
        command.user, command.cancel = user, flow.cancel
        self._running[rid] = command
        _log.info("command %s accepted: %s", rid, request.WhichOneof("command"))
        log.append(
            tpb.ExecuteResponse(request_id=rid, acknowledgement=tpb.Acknowledgement(accepted=True))
        )
        command.task = asyncio.ensure_future(self._drive(command, request, flow, run, card))
        async for message in self._follow(command):
            yield message

    async def UpdateFirmware(  # noqa: N802 - gRPC method name
        self, request: tpb.UpdateFirmwareRequest, context: _Ctx
    ) -> AsyncIterator[tpb.UpdateFirmwareResponse]:
        rid = request.request_id
        busy = self.busy or self.hold or self.devices.busy
        try:
            image = self.firmware.check(request, busy=busy)
        except UpdateRefusedError as refusal:
            _log.info("firmware update %r refused: %s %s", rid[:64],
                      tpb.RefusalReason.Name(refusal.reason), refusal.invalid_field)  # fmt: skip
            yield tpb.UpdateFirmwareResponse(
                request_id=rid, acknowledgement=refusal.acknowledgement()
            )
            return
        queue: asyncio.Queue[tpb.UpdateFirmwareResponse] = asyncio.Queue()
        self.firmware.start(rid, image, queue.put_nowait)  # no await since check: atomic
        yield tpb.UpdateFirmwareResponse(
            request_id=rid, acknowledgement=tpb.Acknowledgement(accepted=True)
        )
        while True:
            message = await queue.get()
            yield message
            if message.HasField("completion"):
                return

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

    async def _drive(
        self,
        command: Command,
        request: tpb.ExecuteRequest,
        flow: Flow,
        run: FlowRunner,
        card: CardPort | None,
    ) -> None:
        rid = request.request_id

        def expire() -> None:
            if isinstance(flow, TransferFlow) and flow.cash_handling:
                return  # the command's timeout never covers the cash question
            command.timed_out = True
            flow.cancel()

        timer = None
        if request.timeout_ms:
            timer = asyncio.get_running_loop().call_later(request.timeout_ms / 1000, expire)
        try:
            try:
                done = completion_for(await run(), timed_out=command.timed_out)
            except Exception:  # noqa: BLE001 - a bug must not leave the command without a completion
                _log.exception("command %s failed", rid)
                done = tpb.Completion(code=tpb.COMPLETION_CODE_INTERNAL_ERROR, error_code="failed")
                describe_reason(done, outcome="failed", reason="failed")  # what to tell the person
            await self._verifier_seen(request, done)
            if timer is not None:
                timer.cancel()
            await self._card_taken(command, card)
            await _close_card(card)
            _log.info("command %s completed: %s %s", rid,
                      tpb.CompletionCode.Name(done.code), done.error_code)  # fmt: skip
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
                await _close_card(card)
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
            event = tpb.FlowEvent(card_taken=tpb.CardTakenEvent())
            command.log.append(tpb.ExecuteResponse(request_id=command.request_id, event=event))

    async def drain(self, grace: float) -> None:
        """Wait up to ``grace`` seconds for running commands, then stop them hard.

        A transfer stopped hard mid cash question stays undecided in the
        journal: the next start-up recovery asks the ATM application.
        """
        tasks = [c.task for c in self._running.values() if c.task is not None]
        if self.firmware.task is not None and not self.firmware.task.done():
            tasks.append(self.firmware.task)  # the board finishes what it started
        if not tasks:
            return
        await asyncio.wait(tasks, timeout=grace)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _verifier_seen(self, request: tpb.ExecuteRequest, done: tpb.Completion) -> None:
        # What a command learnt about the verifier is live status: unreachable
        # now, or answered (every transfer and reset, and a verifying read,
        # opens a verifier session first).
        if done.error_code == "service_unavailable":
            await self.set_status("verifier", tpb.DEVICE_STATE_OFFLINE)
        elif done.code in (tpb.COMPLETION_CODE_SUCCESS, tpb.COMPLETION_CODE_COMMAND_ERROR) and (
            request.WhichOneof("command") != "read_card" or request.read_card.verify_card
        ):
            await self.set_status("verifier", tpb.DEVICE_STATE_ONLINE)

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
            journaled_transfer(self.runtime.journal, rid) if _REQUEST_ID.fullmatch(rid) else None
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
        rt = self.runtime
        return tpb.GetCapabilitiesResponse(
            profile=tpb.TERMINAL_PROFILE_KIOSK
            if rt.profile is Profile.KIOSK
            else tpb.TERMINAL_PROFILE_ATM,
            read_card=True,
            pin_reset=rt.offers("pin_reset"),
            transfer=rt.offers("transfer"),
            touchscreen_secrets=rt.profile is Profile.KIOSK,
            receipt_printer=rt.printer is not None,
            transfer_identity_threshold_yen=rt.threshold_yen,
            firmware_update=self.firmware.offered,
        )


async def _close_card(card: CardPort | None) -> None:
    closer = getattr(card, "aclose", None)
    if closer is not None:
        await closer()
