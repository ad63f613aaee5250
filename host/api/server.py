# SPDX-License-Identifier: Apache-2.0
"""``TerminalServer``: the agent's local TerminalService on a Unix socket or 127.0.0.1.

One command runs at a time (a terminal has one card reader and one user), so
a second Execute is refused BUSY at acknowledgement, as XFS4IoT does. A
command's stream is: Acknowledgement, FlowEvents, then exactly one
Completion. ``timeout_ms`` bounds the whole command (0 = none); when it
expires the flow is cancelled and completes TIME_OUT. A client that drops
the stream cancels its command. Cancel racing completion is not an error.
The listen address must be ``unix:PATH`` or on 127.0.0.1 (never a public
interface: the API carries sealed touchscreen PINs under the kiosk profile).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import grpc
import grpc.aio

from host.api.decoding import DecodeGuardInterceptor
from host.api.prompts import ApiUser, SecureEntry
from host.api.recovery import RecoveryDesk
from host.api.translate import completion_for, event_message, reset_operation, transfer_request
from host.client import VerifierClient
from host.errors import TouchEntryError
from host.flows import (
    CardPort,
    CardReadingFlow,
    Event,
    PinResetFlow,
    PrinterPort,
    ReadOutcome,
    ReadRequest,
    ResetOutcome,
    StepTimeouts,
    ThreadedCard,
    TransferFlow,
    TransferOutcome,
)
from host.journal import ElectronicJournal, Journal
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc

__all__ = ["AgentRuntime", "Profile", "TerminalServer", "TerminalServicer", "check_listen"]

_log = logging.getLogger(__name__)

_REQUEST_ID: Final = re.compile(r"[\x21-\x7e]{1,64}")

_Outcome = ReadOutcome | ResetOutcome | TransferOutcome
_Flow = CardReadingFlow | PinResetFlow | TransferFlow
_Runner = Callable[[], Awaitable[_Outcome]]
_Ctx = grpc.aio.ServicerContext[Any, Any]


class Profile(StrEnum):
    """The terminal kind: what it offers and where PINs come from."""

    KIOSK = "kiosk"
    ATM = "atm"


@dataclass
class AgentRuntime:
    """What the API needs to run flows: devices, the verifier, the journals."""

    profile: Profile
    terminal_id: str
    verifier: VerifierClient
    journal: Journal
    card_factory: Callable[[], CardPort]
    ejournal: ElectronicJournal | None = None
    printer: PrinterPort | None = None
    secure_entry: SecureEntry | None = None
    timeouts: StepTimeouts = field(default_factory=StepTimeouts)
    threshold_yen: int = 100_000
    reset_otp_first: bool = False
    reset_hours: tuple[dt.time, dt.time] | None = None
    recovery: RecoveryDesk | None = None

    @classmethod
    def for_reader(cls, reader_url: str, **kw: object) -> AgentRuntime:
        """A runtime whose cards come from ``reader_url`` (one worker thread each)."""
        return cls(card_factory=lambda: ThreadedCard(reader_url), **kw)  # type: ignore[arg-type]

    def offers(self, command: str) -> bool:
        """Whether this profile offers ``command`` (read_card, pin_reset, transfer)."""
        return command == "read_card" or command == (
            "pin_reset" if self.profile is Profile.KIOSK else "transfer"
        )


def check_listen(address: str) -> str:
    """Return ``address`` when it is ``unix:PATH`` or ``127.0.0.1:PORT``.

    Raises:
        ValueError: any other address.
    """
    if address.startswith("unix:") and len(address) > 5:
        return address
    if re.fullmatch(r"127\.0\.0\.1:\d{1,5}", address):
        return address
    raise ValueError("the terminal API listens only on unix:PATH or 127.0.0.1:PORT")


class _Command:
    def __init__(self, request_id: str, user: ApiUser, cancel: Callable[[], None]) -> None:
        self.request_id, self.user, self.cancel = request_id, user, cancel


class TerminalServicer(tpb_grpc.TerminalServiceServicer):
    """TerminalService over an ``AgentRuntime``."""

    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime
        self._running: dict[str, _Command] = {}
        self._status: dict[str, tpb.DeviceState.ValueType] = {}
        self._status_changed = asyncio.Condition()
        #: Set while recovery runs: new commands are refused BUSY meanwhile.
        self.hold = False

    @property
    def busy(self) -> bool:
        """Whether a command is running."""
        return bool(self._running)

    async def set_status(self, device: str, state: tpb.DeviceState.ValueType) -> None:
        """Record a device's status and tell the WatchStatus streams (unsolicited event)."""
        async with self._status_changed:
            if self._status.get(device) != state:
                self._status[device] = state
                self._status_changed.notify_all()

    def _statuses(self) -> list[tpb.DeviceStatus]:
        return [tpb.DeviceStatus(device=d, state=s) for d, s in sorted(self._status.items())]

    async def GetStatus(  # noqa: N802 - gRPC method name
        self, request: tpb.GetStatusRequest, context: _Ctx
    ) -> tpb.GetStatusResponse:
        return tpb.GetStatusResponse(devices=self._statuses())

    async def WatchStatus(  # noqa: N802 - gRPC method name
        self, request: tpb.WatchStatusRequest, context: _Ctx
    ) -> AsyncIterator[tpb.WatchStatusResponse]:
        seen: dict[str, int] = {}
        while True:
            for status in self._statuses():
                if seen.get(status.device) != status.state:
                    seen[status.device] = status.state
                    yield tpb.WatchStatusResponse(status=status)
            async with self._status_changed:
                # A predicate, not a bare wait: a change made while this stream
                # was yielding is seen here rather than lost.
                await self._status_changed.wait_for(
                    lambda: any(seen.get(d) != v for d, v in self._status.items())
                )

    @staticmethod
    def _refuse(request_id: str, reason: tpb.RefusalReason.ValueType) -> tpb.ExecuteResponse:
        ack = tpb.Acknowledgement(accepted=False, refusal=reason)
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
        if self._running or self.hold:
            return tpb.REFUSAL_REASON_BUSY
        return None

    async def Execute(  # noqa: N802 - gRPC method name
        self, request: tpb.ExecuteRequest, context: _Ctx
    ) -> AsyncIterator[tpb.ExecuteResponse]:
        rid = request.request_id
        refusal = self._refusal(request)
        run: _Runner | None = None
        queue: asyncio.Queue[tpb.FlowEvent] = asyncio.Queue()
        user = ApiUser(
            queue.put_nowait,
            touch_secrets=self.runtime.profile is Profile.KIOSK,
            secure_entry=self.runtime.secure_entry,
            request_id=rid,
        )
        card = self.runtime.card_factory() if refusal is None else None

        def emit(event: Event) -> None:
            message = event_message(event)
            if message is not None:
                queue.put_nowait(message)

        if card is not None:
            try:
                flow, run = self._flow(request, card, user, emit)
            except ValueError:
                refusal = tpb.REFUSAL_REASON_INVALID_MESSAGE
                await _close_card(card)
        if refusal is not None or run is None:
            yield self._refuse(rid, refusal or tpb.REFUSAL_REASON_INVALID_MESSAGE)
            return
        self._running[rid] = _Command(rid, user, flow.cancel)
        timed_out = False

        def expire() -> None:
            nonlocal timed_out
            timed_out = True
            flow.cancel()

        timer = None
        if request.timeout_ms:
            timer = asyncio.get_running_loop().call_later(request.timeout_ms / 1000, expire)
        task = asyncio.ensure_future(run())
        try:
            yield tpb.ExecuteResponse(
                request_id=rid, acknowledgement=tpb.Acknowledgement(accepted=True)
            )
            while not (task.done() and queue.empty()):
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    yield tpb.ExecuteResponse(request_id=rid, event=getter.result())
                else:
                    getter.cancel()
            outcome = task.result()
            done = completion_for(outcome, timed_out=timed_out)
            await self._verifier_seen(request, done)
            yield tpb.ExecuteResponse(request_id=rid, completion=done)
        finally:
            if timer is not None:
                timer.cancel()
            if not task.done():  # the client went away: stop the flow cleanly
                flow.cancel()
                await asyncio.gather(task, return_exceptions=True)
            self._running.pop(rid, None)
            await _close_card(card)

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

    def _flow(
        self,
        request: tpb.ExecuteRequest,
        card: CardPort,
        user: ApiUser,
        emit: Callable[[Event], None],
    ) -> tuple[_Flow, _Runner]:
        rt = self.runtime
        common = {"card": card, "user": user, "journal": rt.journal, "emit": emit,
                  "ejournal": rt.ejournal, "timeouts": rt.timeouts}  # fmt: skip
        which = request.WhichOneof("command")
        if which == "transfer":
            treq = transfer_request(request.transfer)
            tflow = TransferFlow(
                terminal_id=rt.terminal_id, verifier=rt.verifier, printer=rt.printer,
                threshold_yen=rt.threshold_yen, request_id=request.request_id,
                **common,  # type: ignore[arg-type]
            )  # fmt: skip
            return tflow, lambda: tflow.run(treq)
        if which == "pin_reset":
            operation = reset_operation(request.pin_reset)
            pflow = PinResetFlow(
                verifier=rt.verifier, ask_otp_first=rt.reset_otp_first, hours=rt.reset_hours,
                **common,  # type: ignore[arg-type]
            )  # fmt: skip
            return pflow, lambda: pflow.run(operation)
        rreq = ReadRequest(request.read_card.read_basic_four, request.read_card.verify_card)
        rflow = CardReadingFlow(verifier=rt.verifier, **common)  # type: ignore[arg-type]
        return rflow, lambda: rflow.run(rreq)

    async def AnswerPrompt(  # noqa: N802
        self, request: tpb.AnswerPromptRequest, context: _Ctx
    ) -> tpb.AnswerPromptResponse:
        command = self._running.get(request.request_id)
        try:
            accepted = command is not None and command.user.answer(request.prompt_id, request)
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
        )


async def _close_card(card: CardPort | None) -> None:
    closer = getattr(card, "aclose", None)
    if closer is not None:
        await closer()


class TerminalServer:
    """The grpc.aio server of the terminal API; an async context manager.

    Args:
        runtime: flows' dependencies.
        listen: ``unix:PATH`` or ``127.0.0.1:PORT`` (port 0 = any free port).
    """

    def __init__(self, runtime: AgentRuntime, listen: str) -> None:
        self.listen = check_listen(listen)
        self.servicer = TerminalServicer(runtime)
        self._server = grpc.aio.server(interceptors=(DecodeGuardInterceptor(),))
        tpb_grpc.add_TerminalServiceServicer_to_server(self.servicer, self._server)
        self.port = 0

    async def start(self) -> str:
        """Bind and serve; returns the address clients should use."""
        self.port = self._server.add_insecure_port(self.listen)
        await self._server.start()
        if self.listen.startswith("unix:"):
            return self.listen
        return f"127.0.0.1:{self.port}"

    async def stop(self, grace: float | None = 1.0) -> None:
        """Cancel running commands and stop."""
        for command in list(self.servicer._running.values()):
            command.cancel()
        await self._server.stop(grace)

    async def __aenter__(self) -> TerminalServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
