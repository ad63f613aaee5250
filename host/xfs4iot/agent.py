# SPDX-License-Identifier: Apache-2.0
"""``AgentLink``: the front end's gRPC client of the agent's TerminalService.

The terminal API (``protos/myna/edge/v1/terminal.proto``) is the only
contract between the front end and the agent: the front end keeps no
device or flow state of its own beyond what a WebSocket client was told.
Every unary call has a deadline; a failed call becomes
``AgentUnavailableError`` at this boundary, which services complete as
``deviceNotReady``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final, Protocol, TypeVar

import grpc
import grpc.aio

from host.errors import MynaEdgeError
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc

__all__ = ["AgentLink", "AgentUnavailableError"]

_log = logging.getLogger(__name__)

#: A command's stream may outlive its own timeout by this much (completion, card removal).
_STREAM_MARGIN_S: Final = 30.0
#: The bound of a stream whose command has no timeout (the flow's steps bound it anyway).
_STREAM_DEFAULT_S: Final = 900.0
#: How long a command refused BUSY is retried: a cancelled command's
#: completion reaches the client a moment before the agent has released
#: the device (the pad confirms a cancelled entry within ~0.1 s).
_BUSY_GRACE_S: Final = 2.0
_BUSY_POLL_S: Final = 0.05


class _DeviceReply(Protocol):
    @property
    def error(self) -> tpb.DeviceError.ValueType: ...


_R = TypeVar("_R", bound=_DeviceReply)


async def _unless_busy(call: Callable[[], Awaitable[_R]]) -> _R:
    deadline = time.monotonic() + _BUSY_GRACE_S
    while True:
        reply = await call()
        if reply.error != tpb.DEVICE_ERROR_BUSY or time.monotonic() > deadline:
            return reply
        await asyncio.sleep(_BUSY_POLL_S)


class AgentUnavailableError(MynaEdgeError):
    """The agent could not be reached or failed the call (its gRPC status name)."""


class AgentLink:
    """One channel to the agent for the front end's life.

    Args:
        target: the agent's API address (``127.0.0.1:PORT`` or ``unix:PATH``).
        call_timeout: deadline of each quick unary call, seconds.
        entry_timeout: deadline of EnterPin when the command has none, seconds.
    """

    def __init__(
        self, target: str, *, call_timeout: float = 10.0, entry_timeout: float = 120.0
    ) -> None:
        self.target = target
        self._timeout = call_timeout
        self._entry_timeout = entry_timeout
        self._channel: grpc.aio.Channel | None = None
        self._stub: tpb_grpc.TerminalServiceAsyncStub | None = None

    @property
    def stub(self) -> tpb_grpc.TerminalServiceAsyncStub:
        """The stub, opening the channel on first use."""
        if self._stub is None:
            self._channel = grpc.aio.insecure_channel(self.target)
            self._stub = tpb_grpc.TerminalServiceStub(self._channel)
        return self._stub

    async def close(self) -> None:
        """Close the channel; harmless twice."""
        if self._channel is not None:
            channel, self._channel, self._stub = self._channel, None, None
            await channel.close()

    async def status(self) -> dict[str, tpb.DeviceState.ValueType]:
        """Device -> state now (GetStatus).

        Raises:
            AgentUnavailableError: the call failed.
        """
        try:
            reply = await self.stub.GetStatus(tpb.GetStatusRequest(), timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc) from None
        return {d.device: d.state for d in reply.devices}

    async def capabilities(self) -> tpb.GetCapabilitiesResponse:
        """GetCapabilities.

        Raises:
            AgentUnavailableError: the call failed.
        """
        try:
            return await self.stub.GetCapabilities(
                tpb.GetCapabilitiesRequest(), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc) from None

    async def chip_power(self, action: tpb.ChipPowerAction.ValueType) -> tpb.ChipPowerResponse:
        """ChipPower (raises ``AgentUnavailableError``)."""
        try:
            request = tpb.ChipPowerRequest(action=action)
            return await _unless_busy(lambda: self.stub.ChipPower(request, timeout=self._timeout))
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc) from None

    async def chip_io(self, apdu: bytes) -> tpb.ChipIoResponse:
        """ChipIo (raises ``AgentUnavailableError``)."""
        try:
            request = tpb.ChipIoRequest(command_apdu=apdu)
            return await _unless_busy(lambda: self.stub.ChipIo(request, timeout=self._timeout))
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc) from None

    async def enter_pin(self, request: tpb.EnterPinRequest) -> tpb.EnterPinResponse:
        """EnterPin; cancelling the awaiting task cancels the entry on the pad.

        Raises:
            AgentUnavailableError: the call failed.
        """
        seconds = request.timeout_ms / 1000 + _STREAM_MARGIN_S if request.timeout_ms else None
        try:
            deadline = seconds or self._entry_timeout
            return await _unless_busy(lambda: self.stub.EnterPin(request, timeout=deadline))
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc) from None

    async def present_pin(self, header: bytes) -> tpb.PresentPinResponse:
        """PresentPin (raises ``AgentUnavailableError``)."""
        try:
            request = tpb.PresentPinRequest(command_header=header)
            return await _unless_busy(lambda: self.stub.PresentPin(request, timeout=self._timeout))
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc) from None

    async def print_raw(self, data: bytes) -> tpb.PrintRawResponse:
        """PrintRaw (raises ``AgentUnavailableError``)."""
        try:
            request = tpb.PrintRawRequest(data=data)
            return await _unless_busy(lambda: self.stub.PrintRaw(request, timeout=self._timeout))
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc) from None

    async def answer(self, request: tpb.AnswerPromptRequest) -> bool:
        """AnswerPrompt; whether the prompt took the answer (raises ``AgentUnavailableError``)."""
        try:
            reply = await self.stub.AnswerPrompt(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc) from None
        return reply.accepted

    async def cancel(self, request_id: str) -> None:
        """Cancel one agent command (a lost race with its completion is no error)."""
        try:
            await self.stub.Cancel(
                tpb.CancelRequest(request_ids=[request_id]), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            _log.warning("agent Cancel failed: %s", exc.code().name)

    async def execute(self, request: tpb.ExecuteRequest) -> AsyncIterator[tpb.ExecuteResponse]:
        """Execute; yields each message. Closing the iterator early cancels the command.

        Raises:
            AgentUnavailableError: the stream failed before its completion.
        """
        seconds = request.timeout_ms / 1000 + _STREAM_MARGIN_S
        deadline = time.monotonic() + _BUSY_GRACE_S
        while True:
            call = self.stub.Execute(
                request, timeout=seconds if request.timeout_ms else _STREAM_DEFAULT_S
            )
            try:
                first = await call.read()
                if not isinstance(first, tpb.ExecuteResponse):
                    return  # the stream ended at once: the caller reports no completion
                busy = first.acknowledgement.refusal == tpb.REFUSAL_REASON_BUSY
                if busy and time.monotonic() < deadline:
                    await asyncio.sleep(_BUSY_POLL_S)
                    continue
                message: object = first
                while isinstance(message, tpb.ExecuteResponse):
                    yield message
                    message = (
                        await call.read()
                    )  # read() only: gRPC forbids mixing it with iteration
                return
            except grpc.aio.AioRpcError as exc:
                raise _unavailable(exc) from None
            finally:
                call.cancel()

    async def attach(self, request_id: str) -> AsyncIterator[tpb.ExecuteResponse]:
        """Attach: the running (or finished) command's messages from its start.

        Raises:
            AgentUnavailableError: the call failed (NOT_FOUND: no such command).
        """
        call = self.stub.Attach(tpb.AttachRequest(request_id=request_id), timeout=_STREAM_DEFAULT_S)
        try:
            while isinstance(message := await call.read(), tpb.ExecuteResponse):
                yield message
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc) from None
        finally:
            call.cancel()

    async def command_outcome(self, request_id: str) -> tpb.GetCommandOutcomeResponse:
        """GetCommandOutcome (raises ``AgentUnavailableError``)."""
        try:
            request = tpb.GetCommandOutcomeRequest(request_id=request_id)
            return await self.stub.GetCommandOutcome(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc) from None

    async def watch_recovery(self) -> AsyncIterator[tpb.RecoveryPrompt]:
        """WatchRecovery: every waiting cash question, then each new one.

        Raises:
            AgentUnavailableError: the stream failed.
        """
        call = self.stub.WatchRecovery(tpb.WatchRecoveryRequest())
        try:
            async for prompt in call:
                yield prompt
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc) from None
        finally:
            call.cancel()

    async def answer_recovery(self, recovery_id: str, *, cash_moved: bool) -> bool:
        """AnswerRecovery; whether a question took the answer (raises ``AgentUnavailableError``)."""
        try:
            request = tpb.AnswerRecoveryRequest(recovery_id=recovery_id, cash_moved=cash_moved)
            reply = await self.stub.AnswerRecovery(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc) from None
        return reply.accepted

    async def watch_status(self) -> AsyncIterator[tuple[str, tpb.DeviceState.ValueType]]:
        """WatchStatus: ``(device, state)`` now, then each change.

        Raises:
            AgentUnavailableError: the stream failed.
        """
        call = self.stub.WatchStatus(tpb.WatchStatusRequest())
        try:
            async for message in call:
                yield message.status.device, message.status.state
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc) from None
        finally:
            call.cancel()


def _unavailable(exc: grpc.aio.AioRpcError) -> AgentUnavailableError:
    _log.warning("agent call failed: %s", exc.code().name)
    return AgentUnavailableError(f"the agent call failed: {exc.code().name}")
