# SPDX-License-Identifier: Apache-2.0
"""The PIN pad's keys as flow events (issue 24): PadKey from the board, to the API and the page.

A behavioural fake board reports key events from the controller's worker
thread as the driver does; the flow's secret step must turn them into
``PadKey`` events (action and length, never a key) before the secret comes
back, only for the flow that asked, and the API and the gateway's JSON must
carry nothing else.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from host.api.translate import event_message
from host.flows import ControllerSecureEntry, Event, FlowContext, Prompt, PromptKind, StepTimeouts
from host.flows.events import PadKey, PadKeyAction
from host.flows.pin_entry import ask_secret
from host.gateway.bridge import to_json
from host.peripherals import EntryAction, EntryKey, EntryKind
from host.secret import Secret
from myna.edge.v1 import terminal_pb2 as tpb

#: What the fake board's user does: (action, length after it).
TYPED = [
    (EntryAction.PRESSED, 1),
    (EntryAction.PRESSED, 2),
    (EntryAction.DELETED, 1),
    (EntryAction.PRESSED, 2),
    (EntryAction.PRESSED, 3),
    (EntryAction.PRESSED, 4),
    (EntryAction.REFUSED, 4),
]


class FakeBlock:
    @contextmanager
    def decrypted(self) -> Iterator[Secret]:
        with Secret(b"1234") as secret:
            yield secret


class KeyBoard:
    """Reports ``TYPED`` through ``on_key`` on the calling (worker) thread, then ends the entry."""

    def __init__(self) -> None:
        self.threads: list[str] = []
        self.had_listener: list[bool] = []

    def secure_entry(
        self,
        kind: EntryKind,
        *,
        min_length: int,
        max_length: int,
        entry_timeout: float,
        on_key: Callable[[EntryKey], None] | None = None,
        cancel: Callable[[], bool],
    ) -> FakeBlock:
        self.threads.append(threading.current_thread().name)
        self.had_listener.append(on_key is not None)
        if on_key is not None:
            for action, length in TYPED:
                on_key(EntryKey(7, action, length))
        return FakeBlock()


class PadUser:
    """The ATM's user port: secrets only from the pad."""

    def __init__(self, pad: ControllerSecureEntry) -> None:
        self.pad = pad

    async def confirm(self, prompt: Prompt) -> bool:
        return True

    async def secret(self, prompt: Prompt) -> Secret:
        return await self.pad(prompt)


def test_keys_typed_on_the_pad_become_pad_key_events_before_the_secret() -> None:
    board = KeyBoard()
    events: list[Event | str] = []

    async def scenario() -> None:
        pad = ControllerSecureEntry(board)  # type: ignore[arg-type]
        ctx = FlowContext(events.append, StepTimeouts(prompt=5.0))
        try:
            with await ask_secret(ctx, PadUser(pad), Prompt(PromptKind.AUTH_PIN), "PIN"):
                events.append("secret back")
        finally:
            await pad.aclose()

    asyncio.run(scenario())
    expected = [PadKey(PadKeyAction[a.name], n) for a, n in TYPED]
    assert events == [*expected, "secret back"]
    assert board.had_listener == [True]
    assert board.threads[0].startswith("controller")  # the keys crossed to the loop's thread


def test_an_entry_outside_a_flows_secret_step_has_no_listener() -> None:
    """EnterPin (the XFS4IoT front end) and any other caller get no key events."""
    board = KeyBoard()

    async def scenario() -> None:
        pad = ControllerSecureEntry(board)  # type: ignore[arg-type]
        ctx = FlowContext(lambda e: None, StepTimeouts(prompt=5.0))
        try:
            with await ask_secret(ctx, PadUser(pad), Prompt(PromptKind.AUTH_PIN), "PIN"):
                pass
            with await pad(Prompt(PromptKind.AUTH_PIN)):  # after the step: the listener is gone
                pass
        finally:
            await pad.aclose()

    asyncio.run(scenario())
    assert board.had_listener == [True, False]


def test_the_api_event_and_the_pages_json_carry_action_and_length_only() -> None:
    assert {f.name for f in tpb.PadKeyEvent.DESCRIPTOR.fields} == {"action", "length"}
    for action, wire in (
        (PadKeyAction.PRESSED, "PAD_KEY_ACTION_PRESSED"),
        (PadKeyAction.DELETED, "PAD_KEY_ACTION_DELETED"),
        (PadKeyAction.REFUSED, "PAD_KEY_ACTION_REFUSED"),
    ):
        message = event_message(PadKey(action, 3))
        assert message is not None
        assert message.WhichOneof("kind") == "pad_key"
        assert to_json(message) == {"pad_key": {"action": wire, "length": 3}}
