# SPDX-License-Identifier: Apache-2.0
"""One XFS4IoT client connection: acknowledge, queue, timeout, cancel, completion (no sockets).

``FakeAgent`` and ``Conversation`` (tests.unit.host.xfs4iot_fakes, shared with the services tests):
a session is driven with raw JSON text, the way a client sends it, and
every message it sends back is read as JSON again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest

from host.xfs4iot.service import CommandContext, CommandSpec, Outcome, Service
from host.xfs4iot.session import MAX_REQUESTS
from myna.edge.v1 import terminal_pb2 as tpb
from tests.unit.host.xfs4iot_fakes import Conversation, FakeAgent, code, run


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
