# SPDX-License-Identifier: Apache-2.0
"""The fault matrix's user and card: drive one command through the terminal API.

Why here: every fault kind needs the same two things. ``PullableCard`` is
the agent's ``ThreadedCard`` on the in-process virtual card whose transport
counts the card commands and can take the card out of the field right
before command *i* (the command never reaches the card) or right after it
(the card acted, the answer is lost), and which keeps the card's PIN
counters when the session closes, so the matrix can prove that no try was
spent that the user did not spend. ``drive`` is the kiosk/ATM application:
it runs one command over the real ``TerminalService``, answers every
prompt rightly (a seeded hook may act at a prompt first: fill the disk,
slow the link) and bounds the whole command by a deadline, so a hang is
reported as one instead of blocking the campaign.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from host.api.touch_entry import seal
from host.card import MynaCard
from host.errors import CardRemovedError
from host.flows import ThreadedCard
from host.transport.sim import SimTransport
from hw_sim.card import get_profile, open_card
from hw_sim.devices import SimController
from hw_sim.home import sim_home
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import verifier_pb2 as vpb
from myna_edge.chaos import ChaosInvariantError
from myna_edge.chaos.atm import transfer_command
from myna_edge.chaos.faults.world import CARD, Terminal

__all__ = [
    "NEW_PASSWORD",
    "NEW_PIN",
    "PullPlan",
    "PullableCard",
    "Run",
    "drive",
    "fresh_pins",
    "read_card",
    "reset",
    "transfer",
]

NEW_PASSWORD = "NEWPASS77"  # noqa: S105 - the test card's new secret, never logged
NEW_PIN = "2468"
_PAD_PROMPT = "ENTER PASSWORD"
_SECRET_TYPES = {
    tpb.PROMPT_TYPE_SIGNING_PASSWORD, tpb.PROMPT_TYPE_AUTH_PIN, tpb.PROMPT_TYPE_CARD_INFO_PIN,
    tpb.PROMPT_TYPE_NEW_SECRET, tpb.PROMPT_TYPE_ONE_TIME_PASSWORD,
}  # fmt: skip


@dataclass
class PullPlan:
    """Where the card leaves the field: before or after command ``at`` (0-based)."""

    at: int | None = None
    after: bool = False
    sent: int = 0
    pulled: bool = False


class _PullingSim(SimTransport):
    def __init__(self, url: str, plan: PullPlan) -> None:
        super().__init__(url)
        self._plan = plan

    def _transmit(self, command: bytes) -> bytes:
        plan = self._plan
        index, plan.sent = plan.sent, plan.sent + 1
        hit = plan.at == index
        if hit and not plan.after:
            plan.pulled = True
            self.virtual_card.power_off()
        response = super()._transmit(command)
        if hit:
            plan.pulled = True
            self.virtual_card.power_off()
            raise CardRemovedError("the card left the field before it answered")
        return response


class PullableCard(ThreadedCard):
    """A sim:// ``ThreadedCard`` that counts commands, may be pulled, and keeps its counters."""

    def __init__(self, url: str, plan: PullPlan | None = None) -> None:
        super().__init__(url)
        self.plan = plan or PullPlan()
        self.pins: dict[str, int] | None = None
        self.opened = False

    def _open(self) -> None:
        if self._card is None:
            transport = _PullingSim(self.url, self.plan)
            try:
                transport.open()
            except BaseException:
                transport.close()
                raise
            self._transport, self._card = transport, MynaCard(transport)
            self.opened = True

    def _close(self) -> None:
        transport = self._transport
        if isinstance(transport, SimTransport) and transport.is_open:
            snap = transport.virtual_card.state_snapshot()
            self.pins = {name: tries for name, tries, _ in snap.pins}
        super()._close()


def fresh_pins(profile: str = CARD) -> dict[str, int]:
    """A fresh card's (or phone's) tries per PIN object."""
    card = open_card(profile, home=sim_home(), persist=False)
    try:
        card.power_on()
        return {name: tries for name, tries, _ in card.state_snapshot().pins}
    finally:
        card.close()


@dataclass
class Run:
    """What the application saw of one command."""

    completion: tpb.Completion = field(default_factory=tpb.Completion)
    completions: int = 0
    acks: int = 0
    failures: list[str] = field(default_factory=list)
    prompts: list[int] = field(default_factory=list)
    removes: int = 0
    seconds: float = 0.0
    text: str = ""

    @property
    def state(self) -> str:
        """The end state's name: completion code, and the error code when there is one."""
        code = tpb.CompletionCode.Name(self.completion.code).removeprefix("COMPLETION_CODE_")
        return f"{code}/{self.completion.error_code}" if self.completion.error_code else code


#: A hook the harness runs at each prompt before it is answered: (prompt type, nth).
PromptHook = Callable[[int, int], Awaitable[None]]


def _secret(kind: int, reset_auth: bool) -> str:
    p = get_profile(CARD)
    if kind == tpb.PROMPT_TYPE_NEW_SECRET:
        return NEW_PIN if reset_auth else NEW_PASSWORD
    secrets: dict[int, str] = {
        tpb.PROMPT_TYPE_SIGNING_PASSWORD: p.sign_password,
        tpb.PROMPT_TYPE_AUTH_PIN: p.auth_pin,
        tpb.PROMPT_TYPE_CARD_INFO_PIN: p.text_pin,
    }
    return secrets[kind]


async def drive(
    t: Terminal,
    request: tpb.ExecuteRequest,
    *,
    deadline: float,
    hook: PromptHook | None = None,
    board: SimController | None = None,
) -> Run:
    """Run ``request`` answering every prompt rightly; raise on a hang past ``deadline``.

    ``board``: the ATM's password is typed on the controller's keypad.

    Raises:
        ChaosInvariantError: no completion within ``deadline`` seconds.
    """
    run = Run()
    started = time.monotonic()
    task = asyncio.ensure_future(_drive(t, request, run, hook, board))
    # Not wait_for: a cancelled gRPC stream may end quietly, and a hang
    # must never pass for a completion.
    done, _ = await asyncio.wait({task}, timeout=deadline)
    if not done:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise ChaosInvariantError(
            f"{request.request_id}: no completion within {deadline:.0f} s (hang);"
            f" prompts seen {run.prompts}, failures {run.failures}"
        )
    task.result()
    run.seconds = time.monotonic() - started
    return run


async def _drive(
    t: Terminal,
    request: tpb.ExecuteRequest,
    run: Run,
    hook: PromptHook | None,
    board: SimController | None,
) -> None:
    rid = request.request_id
    reset_auth = request.pin_reset.operation == vpb.RESET_OPERATION_AUTHENTICATION_PIN
    seen: dict[int, int] = {}
    typists: list[threading.Thread] = []
    mark = board.display_mark() if board is not None else 0
    try:
        async for message in t.stub.Execute(request):
            run.text += str(message)
            which = message.WhichOneof("message")
            if which == "acknowledgement":
                run.acks += 1
                continue
            if which == "completion":
                run.completions += 1
                run.completion = message.completion
                continue
            event = message.event
            kind = event.WhichOneof("kind")
            if kind == "failure":
                run.failures.append(event.failure.code)
            elif kind == "remove_card":
                run.removes += 1
            if kind != "prompt":
                continue
            prompt = event.prompt
            run.prompts.append(prompt.type)
            nth = seen[prompt.type] = seen.get(prompt.type, 0) + 1
            if hook is not None:
                await hook(prompt.type, nth)
            if prompt.type in _SECRET_TYPES:
                value = _secret(prompt.type, reset_auth)
                if prompt.prompt_id:  # kiosk: sealed on the touchscreen
                    await _touch(t, rid, prompt, value)
                elif board is not None:  # ATM: typed on the board's keypad
                    typists.append(_type_on(board, mark, value))
                    mark = board.display_mark()
                elif t.pad is not None:
                    t.pad.queue.put_nowait(value)
            elif prompt.prompt_id:
                if prompt.type == tpb.PROMPT_TYPE_CONFIRM_MONEY_MOVED:
                    t.moved.add(rid)  # the ATM dispensed: it says so
                answer = tpb.AnswerPromptRequest(
                    request_id=rid, prompt_id=prompt.prompt_id, confirmed=True
                )
                await t.stub.AnswerPrompt(answer, timeout=5)
    finally:
        for typist in typists:
            await asyncio.to_thread(typist.join, 30.0)


async def _touch(t: Terminal, rid: str, prompt: tpb.PromptEvent, value: str) -> None:
    entry = seal(prompt.entry_public_key, rid, prompt.prompt_id, value.encode())
    answer = tpb.AnswerPromptRequest(request_id=rid, prompt_id=prompt.prompt_id, touch_entry=entry)
    await t.stub.AnswerPrompt(answer, timeout=5)


def _type_on(board: SimController, since: int, value: str) -> threading.Thread:
    def types() -> None:
        try:
            board.wait_display(0, _PAD_PROMPT, timeout=20.0, since=since)
            board.enter_password(value)
        except Exception:  # noqa: BLE001, S110 - the flow's own end reports a lost entry
            pass

    typist = threading.Thread(target=types, name="chaos-keypad", daemon=True)
    typist.start()
    return typist


def read_card(rid: str) -> tpb.ExecuteRequest:
    """Card reading: the basic four items and the verifier's check."""
    command = tpb.ReadCardCommand(read_basic_four=True, verify_card=True)
    return tpb.ExecuteRequest(request_id=rid, read_card=command)


def reset(rid: str, operation: int) -> tpb.ExecuteRequest:
    """A PIN reset in one direction."""
    command = tpb.PinResetCommand(operation=operation)  # type: ignore[arg-type]
    return tpb.ExecuteRequest(request_id=rid, pin_reset=command)


def transfer(rid: str, amount: int = 250_000) -> tpb.ExecuteRequest:
    """An identity-verified transfer (above the ¥100,000 threshold)."""
    return tpb.ExecuteRequest(request_id=rid, transfer=transfer_command(amount))
