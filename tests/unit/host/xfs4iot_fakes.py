# SPDX-License-Identifier: Apache-2.0
"""A scripted agent link and a recorded WebSocket conversation for the XFS4IoT unit tests.

Why a module of its own: the session and the services tests both drive
services through them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from host.xfs4iot.agent import AgentLink, AgentUnavailableError
from host.xfs4iot.schema import SchemaBook
from host.xfs4iot.service import Service
from host.xfs4iot.session import Session
from myna.edge.v1 import terminal_pb2 as tpb


class FakeAgent(AgentLink):
    """The agent's terminal API as the front end sees it: scripted replies, recorded requests."""

    def __init__(self) -> None:
        super().__init__("unix:/nonexistent")
        self.states: dict[str, tpb.DeviceState.ValueType] | None = {
            "reader": tpb.DEVICE_STATE_ONLINE, "controller": tpb.DEVICE_STATE_ONLINE,
            "printer": tpb.DEVICE_STATE_ONLINE, "verifier": tpb.DEVICE_STATE_ONLINE,
        }  # fmt: skip
        self.power_replies: list[tpb.ChipPowerResponse] = []
        self.io_replies: list[tpb.ChipIoResponse] = []
        self.pin_reply = tpb.EnterPinResponse(code=tpb.COMPLETION_CODE_SUCCESS, digits=4)
        self.present_reply = tpb.PresentPinResponse(
            code=tpb.COMPLETION_CODE_SUCCESS, response_apdu=b"\x90\x00"
        )
        self.print_reply = tpb.PrintRawResponse(code=tpb.COMPLETION_CODE_SUCCESS)
        self.stream: list[tpb.ExecuteResponse] = []
        self.outcome = tpb.GetCommandOutcomeResponse(state=tpb.COMMAND_STATE_UNKNOWN)
        self.questions: list[tpb.RecoveryPrompt] = []
        self.answers: list[tuple[str, bool]] = []
        self.requests: list[object] = []
        self.cancelled: list[str] = []
        self.hold: asyncio.Event | None = None

    async def status(self) -> dict[str, tpb.DeviceState.ValueType]:
        if self.states is None:
            raise AgentUnavailableError("the agent call failed: UNAVAILABLE")
        return dict(self.states)

    async def chip_power(self, action: tpb.ChipPowerAction.ValueType) -> tpb.ChipPowerResponse:
        self.requests.append(("power", action))
        if self.power_replies:
            return self.power_replies.pop(0)
        return tpb.ChipPowerResponse(code=tpb.COMPLETION_CODE_SUCCESS, atr=b"\x3b\x88")

    async def chip_io(self, apdu: bytes) -> tpb.ChipIoResponse:
        self.requests.append(("io", apdu))
        if self.io_replies:
            return self.io_replies.pop(0)
        return tpb.ChipIoResponse(code=tpb.COMPLETION_CODE_SUCCESS, response_apdu=b"\x90\x00")

    async def enter_pin(self, request: tpb.EnterPinRequest) -> tpb.EnterPinResponse:
        self.requests.append(request)
        if self.hold is not None:
            await self.hold.wait()
        return self.pin_reply

    async def present_pin(self, header: bytes) -> tpb.PresentPinResponse:
        self.requests.append(("present", header))
        return self.present_reply

    async def print_raw(self, data: bytes) -> tpb.PrintRawResponse:
        self.requests.append(("print", data))
        return self.print_reply

    async def answer(self, request: tpb.AnswerPromptRequest) -> bool:
        self.requests.append(request)
        return True

    async def cancel(self, request_id: str) -> None:
        self.cancelled.append(request_id)
        if self.hold is not None:
            self.hold.set()

    async def command_outcome(self, request_id: str) -> tpb.GetCommandOutcomeResponse:
        self.requests.append(("outcome", request_id))
        return self.outcome

    async def watch_recovery(self) -> AsyncIterator[tpb.RecoveryPrompt]:
        for question in self.questions:
            yield question
        await asyncio.Event().wait()  # then nothing more, until the client leaves

    async def answer_recovery(self, recovery_id: str, *, cash_moved: bool) -> bool:
        self.answers.append((recovery_id, cash_moved))
        return recovery_id in {q.recovery_id for q in self.questions}

    async def attach(self, request_id: str) -> AsyncIterator[tpb.ExecuteResponse]:
        self.requests.append(("attach", request_id))
        for message in self.stream:
            yield message

    async def execute(self, request: tpb.ExecuteRequest) -> AsyncIterator[tpb.ExecuteResponse]:
        self.requests.append(request)
        for message in self.stream:
            if message.WhichOneof("message") == "completion" and self.hold is not None:
                await self.hold.wait()
            yield message


class Conversation:
    """A client of one service, in memory: sends JSON text, reads what the session sends."""

    def __init__(self, service: Service) -> None:
        self.sent: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()
        self.session = Session(service, self._receive, book=SchemaBook.load())
        service.sessions.add(self.session)
        self._ids = iter(range(1, 1000))

    async def _receive(self, text: str) -> None:
        async with self._arrived:
            self.sent.append(json.loads(text))
            self._arrived.notify_all()

    async def send(
        self, name: str, payload: dict[str, Any] | None = None, *, rid: int | None = None,
        timeout: int = 0,
    ) -> int:  # fmt: skip
        rid = rid if rid is not None else next(self._ids)
        header: dict[str, Any] = {"name": name, "requestId": rid, "type": "command"}
        if timeout:
            header["timeout"] = timeout
        await self.session.receive(json.dumps({"header": header, "payload": payload or {}}))
        return rid

    def of(self, rid: int) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["header"].get("requestId") == rid]

    async def wait_for(self, found: Callable[[], Any], seconds: float = 5.0) -> Any:
        async def wait() -> Any:
            async with self._arrived:
                while not (value := found()):
                    await self._arrived.wait()
                return value

        return await asyncio.wait_for(wait(), seconds)

    async def completion(self, rid: int) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            ends = [m for m in self.of(rid) if m["header"]["type"] == "completion"]
            return ends[0] if ends else None

        result: dict[str, Any] = await self.wait_for(done)
        return result

    async def run(
        self, name: str, payload: dict[str, Any] | None = None, *, timeout: int = 0
    ) -> dict[str, Any]:
        rid = await self.send(name, payload, timeout=timeout)
        return await self.completion(rid)

    def types(self, rid: int) -> list[str]:
        return [m["header"]["type"] for m in self.of(rid)]

    def unsolicited(self) -> list[str]:
        return [m["header"]["name"] for m in self.sent if m["header"]["type"] == "unsolicited"]


def code(message: dict[str, Any]) -> str:
    return str(message["header"]["completionCode"])


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 30))


# --- a test service: real message names, handlers the test controls ------------
