# SPDX-License-Identifier: Apache-2.0
"""Sealed touch entry: the PIN is never in clear on the wire; wrong key or replay is typed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
import grpc.aio
import pytest

from host.api import ApiUser, TerminalServicer
from host.api.touch_entry import EntryKey, seal
from host.errors import TouchEntryError
from host.flows import Prompt, PromptKind
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc

PIN = b"4826"


def test_seal_opens_only_with_its_prompt_key_and_binding() -> None:
    key = EntryKey("r-1", "p1")
    entry = seal(key.public_bytes, "r-1", "p1", PIN)
    assert PIN not in entry.SerializeToString()
    with key.open(entry) as secret:
        assert secret.reveal() == PIN
    for other in (EntryKey("r-1", "p1"), EntryKey("r-2", "p1"), EntryKey("r-1", "p2")):
        with pytest.raises(TouchEntryError) as info:
            other.open(entry)  # another key, or bound to another request/prompt
        assert "4826" not in str(info.value)
    # the right key but a different binding (same key pair, other ids)
    rebound = seal(key.public_bytes, "r-1", "p2", PIN)
    with pytest.raises(TouchEntryError):
        key.open(rebound)
    tampered = tpb.TouchEntry()
    tampered.CopyFrom(entry)
    tampered.ciphertext = bytes([entry.ciphertext[0] ^ 1]) + entry.ciphertext[1:]
    with pytest.raises(TouchEntryError):
        key.open(tampered)


@pytest.mark.parametrize(
    "entry",
    [
        tpb.TouchEntry(),
        tpb.TouchEntry(ephemeral_public_key=bytes(32), nonce=bytes(12), ciphertext=bytes(20)),
        tpb.TouchEntry(ephemeral_public_key=bytes(31), nonce=bytes(12), ciphertext=bytes(20)),
    ],
)
def test_malformed_entries_are_typed(entry: tpb.TouchEntry) -> None:
    with pytest.raises(TouchEntryError):
        EntryKey("r", "p1").open(entry)


def test_seal_refuses_a_bad_prompt_key() -> None:
    with pytest.raises(TouchEntryError):
        seal(b"\x01" * 5, "r", "p1", PIN)
    with pytest.raises(TouchEntryError):
        seal(bytes(32), "r", "p1", PIN)  # a low-order point: the shared secret would be zero


def test_repr_holds_no_key_material() -> None:
    key = EntryKey("r-1", "p1")
    assert key.public_bytes.hex() not in repr(key)
    assert repr(key) == "EntryKey(request_id='r-1', prompt_id='p1')"


def test_wrong_key_and_replay_leave_the_prompt_as_it_was() -> None:
    async def scenario() -> None:
        sent: list[tpb.FlowEvent] = []
        user = ApiUser(sent.append, touch_secrets=True, request_id="r-9")
        first = asyncio.ensure_future(user.secret(Prompt(PromptKind.AUTH_PIN, tries_left=3)))
        await asyncio.sleep(0)
        p1 = sent[0].prompt
        good = tpb.AnswerPromptRequest(
            touch_entry=seal(p1.entry_public_key, "r-9", p1.prompt_id, PIN)
        )
        wrong = seal(EntryKey("r-9", p1.prompt_id).public_bytes, "r-9", p1.prompt_id, PIN)
        with pytest.raises(TouchEntryError):
            user.answer(p1.prompt_id, tpb.AnswerPromptRequest(touch_entry=wrong))
        assert not first.done()  # still waiting: no state change
        assert user.answer(p1.prompt_id, good)
        with await first as secret:
            assert secret.reveal() == PIN
        assert not user.answer(p1.prompt_id, good)  # replayed to the answered prompt
        second = asyncio.ensure_future(user.secret(Prompt(PromptKind.AUTH_PIN, tries_left=3)))
        await asyncio.sleep(0)
        p2 = sent[1].prompt
        assert p2.entry_public_key != p1.entry_public_key  # fresh per prompt
        with pytest.raises(TouchEntryError):
            user.answer(p2.prompt_id, good)  # replayed to the next prompt
        second.cancel()

    asyncio.run(scenario())


class _Capture(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Keeps the serialized bytes of every unary request the client sends."""

    def __init__(self) -> None:
        self.wire: list[bytes] = []

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        self.wire.append(request.SerializeToString())
        return await continuation(details, request)


def test_pin_never_in_the_grpc_request_bytes_and_a_wrong_key_is_invalid_argument() -> None:
    """Over a real grpc.aio server: AnswerPrompt carries only the sealed entry."""

    class _Runtime:
        profile = None
        reader_url = ""
        secure_entry = None
        printer = None
        firmware = None
        ejournal = None

    async def scenario() -> None:
        servicer = TerminalServicer(_Runtime())  # type: ignore[arg-type]
        sent: list[tpb.FlowEvent] = []
        user = ApiUser(sent.append, touch_secrets=True, request_id="r-1")
        from host.api.commands import Command

        command = Command("r-1")
        command.user = user
        servicer._running["r-1"] = command
        server = grpc.aio.server()
        tpb_grpc.add_TerminalServiceServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        capture = _Capture()
        try:
            task = asyncio.ensure_future(user.secret(Prompt(PromptKind.AUTH_PIN, tries_left=3)))
            await asyncio.sleep(0)
            prompt = sent[0].prompt
            async with grpc.aio.insecure_channel(
                f"127.0.0.1:{port}", interceptors=[capture]
            ) as channel:
                stub = tpb_grpc.TerminalServiceStub(channel)
                stale = seal(EntryKey("r-1", prompt.prompt_id).public_bytes, "r-1",
                             prompt.prompt_id, PIN)  # fmt: skip
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await stub.AnswerPrompt(
                        tpb.AnswerPromptRequest(request_id="r-1", prompt_id=prompt.prompt_id,
                                                touch_entry=stale), timeout=5,
                    )  # fmt: skip
                assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert "4826" not in (info.value.details() or "")
                entry = seal(prompt.entry_public_key, "r-1", prompt.prompt_id, PIN)
                answer = tpb.AnswerPromptRequest(
                    request_id="r-1", prompt_id=prompt.prompt_id, touch_entry=entry
                )
                assert (await stub.AnswerPrompt(answer, timeout=5)).accepted
            with await task as secret:
                assert secret.reveal() == PIN
        finally:
            await server.stop(None)
        assert len(capture.wire) == 2
        for wire in capture.wire:
            assert PIN not in wire
            assert PIN.decode() not in wire.decode("latin-1")

    asyncio.run(scenario())
