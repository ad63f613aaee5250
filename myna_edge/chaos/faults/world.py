# SPDX-License-Identifier: Apache-2.0
"""The fault matrix's world: a real verifier, real agents, and the ledger to check them by.

Why its own world and not the tests' helpers: ``myna-edge chaos faults``
runs from an installed package, where ``tests/`` does not exist. The
verifier is the real ``VerifierServer`` (SQLite, mTLS, the simulator's test
PKI) on its own event-loop thread, so the agent's loop can be starved or
its link slowed without slowing the verifier. An agent is the real
``host.agent.Agent`` on 127.0.0.1 with the real terminal API; only its card
factory is swapped so the matrix can pull the card at a chosen command.
The smartphone side of a PIN reset (booking with the other key and a face
match) is here too, since every reset run needs a fresh booking.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import grpc.aio

from host.agent import Agent
from host.agent.config import AgentConfig
from host.api import Profile
from host.client import ClientConfig
from host.flows import Prompt, ThreadedCard
from host.secret import Secret
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from myna.edge.v1 import verifier_pb2 as vpb
from myna.edge.v1 import verifier_pb2_grpc as vpb_grpc
from myna_edge.chaos.consistency import Ledger, read_ledger
from myna_edge.demo.world import DemoVerifier, prepare_verifier
from myna_edge.loop_thread import VerifierThread
from myna_edge.phone import profile_secret, proving_key, reserve_request

__all__ = ["CARD", "Pad", "Terminal", "VerifierThread", "World", "terminal"]

#: The card profile every run uses (fresh per open: ``persist=0``).
CARD = "default"
_PHONE = "phone-app"


@dataclass
class World:
    """The verifier of one matrix run and the terminal credentials it issued."""

    root: Path
    verifier: DemoVerifier
    server: VerifierThread
    #: Per terminal id: the request ids whose cash the ATM application moved.
    moved: dict[str, set[str]] = field(default_factory=dict)
    _clients: dict[str, ClientConfig] = field(default_factory=dict)
    _bookings: int = 0

    @classmethod
    def start(cls, root: Path) -> World:
        """Build the verifier's trust and TLS under ``root`` and start it."""
        root.mkdir(parents=True, exist_ok=True)
        verifier = prepare_verifier(root, CARD)
        return cls(root, verifier, VerifierThread(verifier.config).start())

    def close(self) -> None:
        """Stop the verifier."""
        self.server.stop()

    def client(self, terminal_id: str, *, port: int = 0, timeout: float = 3.0) -> ClientConfig:
        """``terminal_id``'s mTLS config, to the verifier or to ``port`` (a relay)."""
        if terminal_id not in self._clients:
            self._clients[terminal_id] = self.verifier.client(self.server.port, terminal_id)
        config = self._clients[terminal_id]
        target = f"127.0.0.1:{port or self.server.port}"
        return dataclasses.replace(config, target=target, timeout=timeout)

    def ledger(self, terminal_id: str) -> Ledger:
        """``terminal_id``'s transfers at the verifier, read through its storage."""
        return read_ledger(self.server.core.storage, terminal_id=terminal_id)

    def reservations(self) -> dict[str, str]:
        """The verifier's reset bookings: reservation id -> state."""
        with self.server.core.storage.reading() as tx:
            bookings = tx.list_reservations()
        return {b.reservation_id: b.state.value for b in bookings}

    def book(self, operation: int) -> str:
        """The phone books a reset for the card (proof with the other key, face match)."""
        self._bookings += 1
        n = self._bookings
        issued = self.client(_PHONE)
        assert issued.ca_pem is not None
        assert issued.key_pem is not None
        assert issued.certificate_pem is not None
        credentials = grpc.ssl_channel_credentials(
            issued.ca_pem, issued.key_pem, issued.certificate_pem
        )
        options = (("grpc.ssl_target_name_override", "localhost"),)
        with grpc.secure_channel(issued.target, credentials, options=options) as channel:
            stub = vpb_grpc.VerifierServiceStub(channel)
            session = stub.OpenSession(
                vpb.OpenSessionRequest(
                    purpose=vpb.SESSION_PURPOSE_PIN_RESET, idempotency_key=f"chaos-s{n}"
                ),
                timeout=10,
            )
            request = reserve_request(
                session=session, operation=operation, card_url=f"sim://{CARD}?persist=0",
                secret=profile_secret(CARD, proving_key(operation)),
                phone_id=_PHONE, face_key=self.verifier.face_key,
                idempotency_key=f"chaos-r{n}",
            )  # fmt: skip
            answer = stub.ReserveReset(request, timeout=10)
        return str(answer.reservation_id)


class Pad:
    """The ATM's secure-entry stand-in when no controller board is in the run."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue()

    async def __call__(self, prompt: Prompt) -> Secret:
        return Secret.from_text(await self.queue.get())


@dataclass
class Terminal:
    """A running agent and a client stub on its API."""

    agent: Agent
    stub: tpb_grpc.TerminalServiceAsyncStub
    pad: Pad | None
    cards: list[ThreadedCard]
    terminal_id: str
    moved: set[str]


@asynccontextmanager
async def terminal(
    world: World,
    folder: Path,
    profile: Profile,
    card_factory: Callable[[], ThreadedCard] | None,
    *,
    terminal_id: str,
    client: ClientConfig | None = None,
    printer: str | None = None,
    controller: tuple[str, bytes] | None = None,
) -> AsyncIterator[Terminal]:
    """Start an agent on 127.0.0.1 whose journal and electronic journal live in ``folder``.

    The harness is also the ATM application on ``WatchRecovery``: asked
    whether a transfer's cash moved, it answers truly (it moved when the
    application confirmed it at the money-moved prompt).
    """
    moved = world.moved.setdefault(terminal_id, set())
    config = AgentConfig(
        profile=profile, terminal_id=terminal_id, reader=f"sim://{CARD}?persist=0",
        listen="127.0.0.1:0", journal=folder / "journal.sqlite",
        electronic_journal=folder / "electronic-journal.txt",
        verifier=client or world.client(terminal_id), printer=printer,
        controller=controller[0] if controller else None,
        controller_key=controller[1] if controller else None, recovery_answer_seconds=10.0,
    )  # fmt: skip
    pad = Pad() if profile is Profile.ATM and controller is None else None
    # Background recovery is driven by the harness (``agent.recover``), so a
    # run's end state is the flow's own, not a timer's.
    agent = Agent(config, secure_entry=pad, retry_interval=600.0, recovery_interval=600.0)
    cards: list[ThreadedCard] = []
    address = await agent.start()
    try:
        assert agent.server is not None
        if card_factory is not None:

            def factory() -> ThreadedCard:
                card = card_factory()
                cards.append(card)
                return card

            agent.server.servicer.runtime.card_factory = factory
        async with grpc.aio.insecure_channel(address) as channel:
            stub = tpb_grpc.TerminalServiceStub(channel)
            desk = asyncio.ensure_future(_answer_recovery(stub, moved))
            try:
                yield Terminal(agent, stub, pad, cards, terminal_id, moved)
            finally:
                desk.cancel()
                await asyncio.gather(desk, return_exceptions=True)
    finally:
        await agent.stop()


async def _answer_recovery(stub: tpb_grpc.TerminalServiceAsyncStub, moved: set[str]) -> None:
    async for prompt in stub.WatchRecovery(tpb.WatchRecoveryRequest()):
        answer = tpb.AnswerRecoveryRequest(
            recovery_id=prompt.recovery_id, cash_moved=prompt.request_id in moved
        )
        await stub.AnswerRecovery(answer, timeout=5)
