# SPDX-License-Identifier: Apache-2.0
"""The PIN pad's keys reach the API client during secure entry (issue 24, problem 2).

The real agent (ATM profile) runs the real controller firmware under
MicroPython on a pty as its PIN pad and the real verifier over mTLS; the
client reads the card through TerminalService over real gRPC. While the
card-info PIN is typed on the pad, each key arrives on the Execute stream
as a ``PadKeyEvent``: what it did (pressed, deleted, refused) and the
length so far, in order, and nothing that could be a digit. This is what
lets the touchscreen keep its idle timer going while a person types.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import grpc.aio
import pytest

from host.agent import Agent
from host.agent.config import AgentConfig
from host.api import Profile
from host.peripherals import BoardKey, Controller
from hw_sim.card import get_profile
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from tests.flows_support import client_config
from tests.integration.controller_support import in_background, running_sim
from tests.verifier_support import ServerThread, VerifierEnv, make_env

PIN = get_profile("default").text_pin
#: The person's keys on the pad: two digits, CLEAR (one back), the rest, one too many, ENTER.
KEYS = [PIN[0], PIN[1], "CLEAR", *PIN[1:], "5", "ENTER"]
#: What the stream must say of them, in order.
EXPECTED = [
    (tpb.PAD_KEY_ACTION_PRESSED, 1),
    (tpb.PAD_KEY_ACTION_PRESSED, 2),
    (tpb.PAD_KEY_ACTION_DELETED, 1),
    (tpb.PAD_KEY_ACTION_PRESSED, 2),
    (tpb.PAD_KEY_ACTION_PRESSED, 3),
    (tpb.PAD_KEY_ACTION_PRESSED, 4),
    (tpb.PAD_KEY_ACTION_REFUSED, 4),  # the pad holds four digits
]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("pad-keys"))


@pytest.fixture(scope="module")
def verifier(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


def test_pad_keys_arrive_in_order_with_lengths_and_no_digits(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path
) -> None:
    key = BoardKey.generate()
    with running_sim() as board:
        with Controller(board.url, key=key) as commissioning:
            commissioning.inject_key(key)
        config = AgentConfig(
            profile=Profile.ATM, terminal_id="atm-01", listen="127.0.0.1:0",
            reader="sim://default?persist=0", journal=tmp_path / "journal.sqlite",
            electronic_journal=None, verifier=client_config(env, verifier),
            controller=board.url, controller_key=key.material(),
        )  # fmt: skip
        mark = board.display_mark()

        def person_types() -> None:
            board.wait_display(0, "ENTER PIN", timeout=20.0, since=mark)
            board.press(*KEYS)

        async def scenario() -> tuple[list[tpb.FlowEvent], tpb.Completion]:
            agent = Agent(config)
            address = await agent.start()
            events: list[tpb.FlowEvent] = []
            completion = tpb.Completion()
            try:
                async with grpc.aio.insecure_channel(address) as channel:
                    stub = tpb_grpc.TerminalServiceStub(channel)
                    request = tpb.ExecuteRequest(
                        request_id="pad-keys-1",
                        read_card=tpb.ReadCardCommand(read_basic_four=True),
                    )
                    async for message in stub.Execute(request, timeout=40):
                        if message.WhichOneof("message") == "event":
                            events.append(message.event)
                        elif message.WhichOneof("message") == "completion":
                            completion = message.completion
            finally:
                await agent.stop()
            return events, completion

        with in_background(person_types):
            events, completion = asyncio.run(scenario())

    assert completion.code == tpb.COMPLETION_CODE_SUCCESS
    assert completion.read_card.name  # the PIN typed on the pad opened the card
    kinds = [e.WhichOneof("kind") for e in events]
    keys = [(e.pad_key.action, e.pad_key.length) for e in events if e.HasField("pad_key")]
    assert keys == EXPECTED
    # All of them between the PIN prompt and the card's work with the PIN.
    prompt = next(i for i, e in enumerate(events) if e.prompt.type == tpb.PROMPT_TYPE_CARD_INFO_PIN)
    first, last = kinds.index("pad_key"), len(kinds) - 1 - kinds[::-1].index("pad_key")
    assert prompt < first
    assert kinds[last + 1] == "working"
    # An event says what a key did, never which key it was.
    for event in events:
        if event.HasField("pad_key"):
            assert {f.name for f, _ in event.pad_key.ListFields()} <= {"action", "length"}
    assert PIN.encode() not in b"".join(e.SerializeToString() for e in events)
