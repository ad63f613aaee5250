# SPDX-License-Identifier: Apache-2.0
"""Drive the real agent only through TerminalService, as the touchscreen or ATM app would.

Why a support module: the API matrix runs the same scripted client over
three reader paths (sim://, pcscd+vpcd, the PN532 on a pty). The agent is
the real ``host.agent.Agent`` (journal, recovery, grpc.aio API on
127.0.0.1, flows) against the real verifier over mTLS; only the user is
scripted. A script maps each prompt (by type and occurrence) to what the
user does there: answer, answer wrongly, cancel through the API, or pull
the card out of the reader and then answer. ``ProbedCard`` records the
virtual card's PIN counters when the agent closes an ``sim://`` session,
so a test can prove no try was spent that the user did not spend.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc.aio

from host.agent import Agent
from host.agent.config import AgentConfig
from host.api import Profile
from host.api.touch_entry import seal
from host.card import KeyKind
from host.flows import ThreadedCard
from host.transport.sim import SimTransport
from hw_sim.card import VirtualCard, get_profile, open_card
from hw_sim.home import sim_home
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from myna.edge.v1 import verifier_pb2 as vpb
from myna_edge.chaos.atm import transfer_command
from myna_edge.chaos.faults.world import Pad
from tests.flows_support import client_config
from tests.verifier_support import ServerThread, VerifierEnv, prove

__all__ = [
    "AUTH",
    "NEW_SECRET",
    "SIGN",
    "Outcome",
    "Pad",
    "ProbedCard",
    "Terminal",
    "book",
    "clean_end",
    "dead_verifier_port",
    "drive",
    "fresh_pins",
    "on_stack",
    "read_card",
    "reset",
    "run",
    "spent",
    "terminal",
    "transfer",
]

#: PIN objects of the virtual card (application AID / EF).
SIGN = "D392F000260100000001/001B"
AUTH = "D392F000260100000001/0018"
#: The new signing password the reset tests set.
NEW_SECRET = "NEWPASS77"
_SECRET_TYPES = {
    tpb.PROMPT_TYPE_SIGNING_PASSWORD, tpb.PROMPT_TYPE_AUTH_PIN, tpb.PROMPT_TYPE_CARD_INFO_PIN,
    tpb.PROMPT_TYPE_NEW_SECRET, tpb.PROMPT_TYPE_ONE_TIME_PASSWORD,
}  # fmt: skip
#: Every run is bounded: the stream's own deadline.
RUN_DEADLINE_S = 20.0


class ProbedCard(ThreadedCard):
    """A ``ThreadedCard`` whose sim:// card can be pulled and whose counters are kept at close."""

    def __init__(self, url: str, pulls: list[Callable[[], None]]) -> None:
        super().__init__(url)
        self.pins: dict[str, int] | None = None
        self.versions: dict[str, int] = {}
        self.opened = False
        self._pulls = pulls
        pulls.append(self.pull)

    def pull(self) -> None:
        """Take the card out of the field (power off, as a removal does)."""
        transport = self._transport
        if isinstance(transport, SimTransport) and transport.is_open:
            transport.virtual_card.power_off()

    def _open(self) -> None:
        super()._open()
        self.opened = True

    def _close(self) -> None:
        transport = self._transport
        if isinstance(transport, SimTransport) and transport.is_open:
            snap = transport.virtual_card.state_snapshot()
            self.pins = {name: tries for name, tries, _ in snap.pins}
            self.versions = {name: version for name, _, version in snap.pins}
        super()._close()


@dataclass
class Terminal:
    """A running agent and a client stub on its API."""

    agent: Agent
    stub: tpb_grpc.TerminalServiceStub
    pad: Pad
    cards: list[ProbedCard]
    pulls: list[Callable[[], None]]


@dataclass
class Outcome:
    """What the client saw of one command."""

    completion: tpb.Completion
    prompts: list[tpb.PromptEvent] = field(default_factory=list)
    warnings: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    removes: int = 0
    acks: int = 0
    seconds: float = 0.0
    text: str = ""


def dead_verifier_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def terminal(
    env: VerifierEnv,
    server: ServerThread,
    tmp_path: Path,
    profile: Profile,
    reader: str,
    *,
    printer: str | None = None,
    verifier_down: bool = False,
    sim_cards: bool = True,
    answer_seconds: float = 1.0,
    card_taken_seconds: float = 0.0,
) -> AsyncIterator[Terminal]:
    """Start an agent for ``reader`` on 127.0.0.1 and yield it with a client.

    ``answer_seconds`` is the agent's ``recovery_answer_seconds``, and
    ``card_taken_seconds`` its ``card_taken_seconds``.
    """
    terminal_id = "atm-01" if profile is Profile.ATM else "kiosk-01"
    client = client_config(env, server, terminal_id, timeout=3.0)
    if verifier_down:
        port = dead_verifier_port()
        client = dataclasses.replace(client, target=f"127.0.0.1:{port}", timeout=1.0)
    config = AgentConfig(
        profile=profile, terminal_id=terminal_id, reader=reader, listen="127.0.0.1:0",
        journal=tmp_path / "journal.sqlite", electronic_journal=tmp_path / "ej.txt",
        verifier=client, printer=printer, recovery_answer_seconds=answer_seconds,
        card_taken_seconds=card_taken_seconds,
    )  # fmt: skip
    pad = Pad()
    agent = Agent(config, secure_entry=pad, retry_interval=30.0)
    cards: list[ProbedCard] = []
    pulls: list[Callable[[], None]] = []
    address = await agent.start()
    try:
        assert agent.server is not None
        if sim_cards:

            def factory() -> ProbedCard:
                card = ProbedCard(reader, pulls)
                cards.append(card)
                return card

            agent.server.servicer.runtime.card_factory = factory
        async with grpc.aio.insecure_channel(address) as channel:
            yield Terminal(agent, tpb_grpc.TerminalServiceStub(channel), pad, cards, pulls)
    finally:
        await agent.stop()


def _secret_for(kind: int, profile: str, reset_auth: bool) -> str:
    p = get_profile(profile)
    if kind == tpb.PROMPT_TYPE_NEW_SECRET:
        return "2468" if reset_auth else NEW_SECRET
    return {
        tpb.PROMPT_TYPE_SIGNING_PASSWORD: p.sign_password,
        tpb.PROMPT_TYPE_AUTH_PIN: p.auth_pin,
        tpb.PROMPT_TYPE_CARD_INFO_PIN: p.text_pin,
    }[kind]


async def drive(
    t: Terminal,
    request: tpb.ExecuteRequest,
    script: dict[tuple[int, int], str] | None = None,
    *,
    profile: str = "default",
    pull: Callable[[], None] | None = None,
) -> Outcome:
    """Run ``request``; ``script[(prompt type, nth)]`` is what the user does at that prompt.

    Actions: ``ok`` (the right answer; the default), ``wrong`` (a wrong
    secret), ``no`` (decline), ``cancel`` (Cancel through the API),
    ``pull`` (remove the card, then answer rightly), ``ignore``.
    """
    script = script or {}
    seen: dict[int, int] = {}
    out = Outcome(tpb.Completion())
    rid = request.request_id
    reset_auth = request.pin_reset.operation == vpb.RESET_OPERATION_AUTHENTICATION_PIN
    started = time.monotonic()
    async for message in t.stub.Execute(request, timeout=RUN_DEADLINE_S):
        out.text += str(message)
        which = message.WhichOneof("message")
        if which == "acknowledgement":
            out.acks += 1
            continue
        if which == "completion":
            out.completion = message.completion
            continue
        event = message.event
        kind = event.WhichOneof("kind")
        if kind == "last_try_warning":
            out.warnings.append(event.last_try_warning.type)
        elif kind == "failure":
            out.failures.append(event.failure.code)
        elif kind == "remove_card":
            out.removes += 1
        if kind != "prompt":
            continue
        prompt = event.prompt
        out.prompts.append(prompt)
        nth = seen[prompt.type] = seen.get(prompt.type, 0) + 1
        answerable = bool(prompt.prompt_id) or prompt.type in _SECRET_TYPES
        action = script.get((prompt.type, nth), "ok")
        if action == "ignore" or (action != "cancel" and not answerable):
            continue
        if action == "cancel":
            cancelled = await t.stub.Cancel(tpb.CancelRequest(request_ids=[rid]), timeout=5)
            assert list(cancelled.cancelled) == [rid]
            continue
        if action == "pull":
            (pull or (lambda: [p() for p in t.pulls]))()
        if prompt.type in _SECRET_TYPES:
            value = "0000" if action == "wrong" else _secret_for(prompt.type, profile, reset_auth)
            if action == "wrong" and prompt.type == tpb.PROMPT_TYPE_SIGNING_PASSWORD:
                value = "WRONG0000"
            if prompt.prompt_id:  # kiosk: typed on the touchscreen
                entry = seal(prompt.entry_public_key, rid, prompt.prompt_id, value.encode())
                answer = tpb.AnswerPromptRequest(
                    request_id=rid, prompt_id=prompt.prompt_id, touch_entry=entry
                )
                assert (await t.stub.AnswerPrompt(answer, timeout=5)).accepted
            else:  # ATM: typed on the secure PIN pad
                t.pad.queue.put_nowait(value)
            continue
        answer = tpb.AnswerPromptRequest(
            request_id=rid, prompt_id=prompt.prompt_id, confirmed=action != "no"
        )
        assert (await t.stub.AnswerPrompt(answer, timeout=5)).accepted
    out.seconds = time.monotonic() - started
    return out


def read_card(rid: str, *, basic_four: bool = True, verify: bool = True) -> tpb.ExecuteRequest:
    """A card-reading command."""
    command = tpb.ReadCardCommand(read_basic_four=basic_four, verify_card=verify)
    return tpb.ExecuteRequest(request_id=rid, read_card=command)


def reset(rid: str, operation: int = vpb.RESET_OPERATION_SIGNING_PASSWORD) -> tpb.ExecuteRequest:
    """A PIN-reset command."""
    command = tpb.PinResetCommand(operation=operation)  # type: ignore[arg-type]
    return tpb.ExecuteRequest(request_id=rid, pin_reset=command)


def transfer(rid: str, amount: int = 250_000) -> tpb.ExecuteRequest:
    """The README's golden transfer (above the identity threshold by default)."""
    return tpb.ExecuteRequest(request_id=rid, transfer=transfer_command(amount))


def fresh_pins(profile: str) -> dict[str, int]:
    """A fresh ``profile`` card's tries per PIN object."""
    card = open_card(profile, home=sim_home(), persist=False)
    try:
        card.power_on()
        return {name: tries for name, tries, _ in card.state_snapshot().pins}
    finally:
        card.close()


_BOOKINGS = iter(range(1, 10_000))


def book(env: VerifierEnv, server: ServerThread, operation: int) -> None:
    """The smartphone side of a reset: prove the card with the other key and a face match."""
    n = next(_BOOKINGS)
    kind = KeyKind.AUTH if operation == vpb.RESET_OPERATION_SIGNING_PASSWORD else KeyKind.SIGN
    with server.stub(env.credentials("phone-app")) as stub:
        session = stub.OpenSession(
            vpb.OpenSessionRequest(purpose=vpb.SESSION_PURPOSE_PIN_RESET, idempotency_key=f"mb{n}"),
            timeout=10,
        )
        proof = prove("default", kind, "SESSION_PURPOSE_PIN_RESET", "phone-app", session.nonce)
        answer = stub.ReserveReset(
            vpb.ReserveResetRequest(
                session_id=session.session_id, terminal_id="phone-app",
                operation=operation,  # type: ignore[arg-type]
                proof=proof, face_match=env.face_attestation(proof.certificate_der, session.nonce),
                idempotency_key=f"mr{n}",
            ),
            timeout=10,
        )  # fmt: skip
    assert answer.reservation_id


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run one async scenario."""
    asyncio.run(scenario())


def clean_end(t: Terminal, out: Outcome) -> None:
    """One ack, one completion, nothing running, the card session released."""
    assert out.acks == 1
    assert out.text.count("completion {") == 1
    assert t.agent.server is not None
    assert not t.agent.server.servicer.busy
    assert all(card._transport is None for card in t.cards)


def spent(t: Terminal, profile: str) -> dict[str, int]:
    """Tries used per PIN object on the (one) sim card of the run."""
    before = fresh_pins(profile)
    (card,) = t.cards
    if not card.opened:
        return {}
    assert card.pins is not None
    return {k: before[k] - v for k, v in card.pins.items() if before[k] != v}


def on_stack(
    env: VerifierEnv,
    server: ServerThread,
    tmp_path: Path,
    flow: str,
    script: dict[tuple[int, int], str],
    url: str,
    insert: Callable[[str], AbstractContextManager[VirtualCard]] | None,
    pull: Callable[[], None],
) -> tuple[Outcome, dict[str, int], dict[str, int]]:
    """Run ``flow`` over a real reader stack; the outcome and the card's tries before/after.

    ``insert`` is the rig's ``card`` (None: no card is ever presented).
    """
    profile = Profile.KIOSK if flow == "read" else Profile.ATM
    request = read_card("r-1") if flow == "read" else transfer(f"s-{flow}")
    before = fresh_pins("default")
    with nullcontext(None) if insert is None else insert("default") as card:

        async def scenario() -> Outcome:
            async with terminal(env, server, tmp_path, profile, url, sim_cards=False) as t:
                out = await drive(t, request, script, pull=pull)
                assert t.agent.server is not None
                assert not t.agent.server.servicer.busy
                return out

        out = asyncio.run(scenario())
        after = before if card is None else {n: t for n, t, _ in card.state_snapshot().pins}
    return out, before, after
