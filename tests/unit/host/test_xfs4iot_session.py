# SPDX-License-Identifier: Apache-2.0
"""One XFS4IoT client connection: acknowledge, queue, timeout, cancel, completion (no sockets).

``FakeAgent`` and ``Conversation`` are shared with test_xfs4iot_services.py:
a session is driven with raw JSON text, the way a client sends it, and
every message it sends back is read as JSON again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from host.xfs4iot.agent import AgentLink, AgentUnavailableError
from host.xfs4iot.schema import SchemaBook
from host.xfs4iot.service import CommandContext, CommandSpec, Outcome, Service
from host.xfs4iot.session import MAX_REQUESTS, Session
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


def make_service(
    handlers: dict[str, Callable[[CommandContext], Awaitable[Outcome]]], **immediate: bool
) -> tuple[Service, FakeAgent]:
    agent = FakeAgent()
    service = Service("CardReader", ("CardReader",), "reader", agent)
    service.commands = {
        name: CommandSpec(handler, immediate=immediate.get(name.split(".")[1], False))
        for name, handler in handlers.items()
    }
    return service, agent


async def forever(context: CommandContext) -> Outcome:
    await asyncio.Event().wait()
    return Outcome()


async def power_ok(context: CommandContext) -> Outcome:
    return Outcome(payload={"chipData": "O2gA"})


def test_an_accepted_command_gets_one_acknowledge_then_one_completion() -> None:
    async def scenario() -> None:
        service, _ = make_service({"CardReader.ChipPower": power_ok})
        chat = Conversation(service)
        rid = await chat.send("CardReader.ChipPower", {"chipPower": "cold"})
        done = await chat.completion(rid)
        assert chat.types(rid) == ["acknowledge", "completion"]
        assert "status" not in chat.of(rid)[0]["header"]
        assert code(done) == "success"
        assert done["payload"] == {"chipData": "O2gA"}
        assert done["header"]["version"] == "3.0"  # ChipPower's completion version in 2024-3

    run(scenario)


def test_refusals_at_acknowledge_are_the_only_answer() -> None:
    async def scenario() -> None:
        service, _ = make_service({"CardReader.ChipPower": forever})
        chat = Conversation(service)
        await chat.session.receive("not json")
        assert chat.sent[-1]["header"] == {
            "name": "Common.Unknown", "requestId": 0, "type": "acknowledge",
            "version": "2.0", "status": "invalidMessage",
        }  # fmt: skip
        rid = await chat.send("CardReader.ChipPower", {"chipPower": "cold"})
        await chat.send("Common.Status", rid=rid)  # that id is running
        assert chat.sent[-1]["header"]["status"] == "invalidRequestID"
        for _ in range(MAX_REQUESTS - 1):
            await chat.send("CardReader.ChipPower", {"chipPower": "cold"})
        extra = await chat.send("CardReader.ChipPower", {"chipPower": "cold"})
        assert [m["header"].get("status") for m in chat.of(extra)] == ["tooManyRequests"]
        assert chat.session.cancel(None, keep=0)  # all of them, still running
        await chat.completion(extra - 1)

    run(scenario)


def test_unknown_commands_and_bad_payloads_complete_after_an_accepting_acknowledge() -> None:
    async def scenario() -> None:
        service, _ = make_service({"CardReader.ChipPower": power_ok})
        chat = Conversation(service)
        elsewhere = await chat.run("Keyboard.PinEntry", {})
        assert code(elsewhere) == "invalidCommand"
        not_here = await chat.run("CardReader.Move", {})
        assert code(not_here) == "unsupportedCommand"
        assert code(await chat.run("Common.PowerSaveControl", {})) == "unsupportedCommand"
        bad = await chat.run("CardReader.ChipPower", {"chipPower": "hot"})
        assert code(bad) == "invalidData"
        assert bad["header"]["errorDescription"] == "chipPower: enum"  # where, not the value
        assert "payload" not in bad

    run(scenario)


def test_the_header_timeout_ends_a_command_time_out() -> None:
    async def scenario() -> None:
        service, _ = make_service({"CardReader.ChipPower": forever})
        chat = Conversation(service)
        done = await chat.run("CardReader.ChipPower", {"chipPower": "cold"}, timeout=20)
        assert code(done) == "timeOut"

    run(scenario)


def test_a_command_with_its_own_timeout_gets_no_session_timer() -> None:
    async def scenario() -> None:
        seen: list[int] = []
        release = asyncio.Event()

        async def waits(context: CommandContext) -> Outcome:
            seen.append(context.command.timeout_ms)
            await release.wait()
            return Outcome(payload={})

        service, _ = make_service({})
        service.commands = {"CardReader.ChipPower": CommandSpec(waits, own_timeout=True)}
        chat = Conversation(service)
        rid = await chat.send("CardReader.ChipPower", {"chipPower": "cold"}, timeout=10)
        await asyncio.sleep(0.2)  # well past the header timeout
        assert chat.types(rid) == ["acknowledge"]
        release.set()
        assert code(await chat.completion(rid)) == "success"
        assert seen == [10]  # the handler passes it on (to the agent)

    run(scenario)


def test_cancel_by_id_by_all_and_for_an_unknown_id() -> None:
    async def scenario() -> None:
        service, _ = make_service({"CardReader.ChipPower": forever})
        chat = Conversation(service)
        first = await chat.send("CardReader.ChipPower", {"chipPower": "cold"})
        second = await chat.send("CardReader.ChipPower", {"chipPower": "warm"})
        assert code(await chat.run("Common.Cancel", {"requestIds": [first]})) == "success"
        assert code(await chat.completion(first)) == "canceled"
        assert chat.types(second) == ["acknowledge"]  # still queued
        nothing = await chat.run("Common.Cancel", {"requestIds": [999]})
        assert code(nothing) == "commandErrorCode"
        assert nothing["payload"] == {"errorCode": "noMatchingRequestIDs"}
        assert code(await chat.run("Common.Cancel")) == "success"
        assert code(await chat.completion(second)) == "canceled"

    run(scenario)


def test_a_soft_cancelled_command_completes_with_what_its_handler_returns() -> None:
    async def scenario() -> None:
        asked = asyncio.Event()

        async def flow(context: CommandContext) -> Outcome:
            async def soft() -> None:
                asked.set()

            context.soft_cancel = soft
            await asked.wait()
            return Outcome(payload={}, code=context.cancel_reason or Outcome().code)

        service, _ = make_service({"CardReader.ChipPower": flow})
        chat = Conversation(service)
        rid = await chat.send("CardReader.ChipPower", {"chipPower": "cold"})
        await asyncio.sleep(0)
        await chat.run("Common.Cancel", {"requestIds": [rid]})
        assert code(await chat.completion(rid)) == "canceled"
        assert asked.is_set()

    run(scenario)


def test_a_failing_handler_and_a_completion_breaking_its_schema_are_internal_errors() -> None:
    async def scenario() -> None:
        async def boom(context: CommandContext) -> Outcome:
            raise RuntimeError("bug")

        async def off_schema(context: CommandContext) -> Outcome:
            return Outcome(payload={"chipData": "not base64!"})

        service, _ = make_service({"CardReader.ChipPower": boom, "CardReader.ChipIO": off_schema})
        chat = Conversation(service)
        failed = await chat.run("CardReader.ChipPower", {"chipPower": "off"})
        assert code(failed) == "internalError"
        assert "bug" not in json.dumps(failed)
        broke = await chat.run(
            "CardReader.ChipIO", {"chipProtocol": "chipTypeB", "chipData": "AKQE"}
        )
        assert code(broke) == "internalError"
        assert broke["header"]["errorDescription"] == "the completion broke its schema"

    run(scenario)


def test_closing_the_connection_cancels_its_commands() -> None:
    async def scenario() -> None:
        service, _ = make_service({"CardReader.ChipPower": forever})
        chat = Conversation(service)
        rid = await chat.send("CardReader.ChipPower", {"chipPower": "cold"})
        await chat.session.close()
        assert code(await chat.completion(rid)) == "canceled"

    run(scenario)


def test_common_status_and_capabilities() -> None:
    async def scenario() -> None:
        service, agent = make_service({"CardReader.ChipPower": power_ok})
        service.events = ("CardReader.MediaRemovedEvent",)
        chat = Conversation(service)
        status = await chat.run("Common.Status")
        assert status["payload"] == {"common": {"device": "online"}}
        agent.states = {"reader": tpb.DEVICE_STATE_NOT_COMMISSIONED}
        assert (await chat.run("Common.Status"))["payload"]["common"]["device"] == "hardwareError"
        agent.states = {"printer": tpb.DEVICE_STATE_ONLINE}
        assert (await chat.run("Common.Status"))["payload"]["common"]["device"] == "noDevice"
        agent.states = None  # the agent is unreachable
        assert (await chat.run("Common.Status"))["payload"]["common"]["device"] == "offline"
        caps = (await chat.run("Common.Capabilities"))["payload"]
        interfaces = {i["name"]: i for i in caps["interfaces"]}
        assert set(interfaces) == {"Common", "CardReader"}
        assert set(interfaces["Common"]["commands"]) == {
            "Common.Status", "Common.Capabilities", "Common.Cancel",
        }  # fmt: skip
        assert interfaces["CardReader"]["commands"] == {
            "CardReader.ChipPower": {"versions": ["2.0"]}
        }
        assert interfaces["CardReader"]["events"] == {
            "CardReader.MediaRemovedEvent": {"versions": ["2.0"]}
        }
        assert caps["common"]["serviceVersion"] == "XFS4IoT 2024-3"

    run(scenario)


@pytest.mark.parametrize("immediate", [True, False])
def test_queued_commands_run_one_at_a_time_and_immediate_ones_beside_them(
    immediate: bool,
) -> None:
    async def scenario() -> None:
        service, _ = make_service(
            {"CardReader.ChipPower": forever, "CardReader.ChipIO": power_ok}, ChipIO=immediate
        )
        chat = Conversation(service)
        await chat.send("CardReader.ChipPower", {"chipPower": "cold"})
        rid = await chat.send(
            "CardReader.ChipIO", {"chipProtocol": "chipTypeB", "chipData": "AKQE"}
        )
        await asyncio.sleep(0.05)
        assert chat.types(rid) == (["acknowledge", "completion"] if immediate else ["acknowledge"])
        chat.session.cancel(None, keep=0)
        await chat.completion(rid)

    run(scenario)
