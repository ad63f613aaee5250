# SPDX-License-Identifier: Apache-2.0
"""``myna-edge demo --ui``: the kiosk touchscreen app on the embedded default, in a browser.

Starts what ``myna-edge demo`` starts (``myna_edge.demo.world``: the in-process
verifier over mTLS, the virtual card, the receipt printer on a pty, the
controller's real firmware under the MicroPython unix port), then two real
agents on 127.0.0.1 (a kiosk: card reading and PIN reset with PINs typed on
the touchscreen; an ATM: card reading and the transfer, the password on the
controller's secure PIN pad) and one kiosk gateway (``host.gateway``) for
each, and prints their URLs. The simulator panel (``/sim`` on either
gateway, this module's routes only, never part of the host gateway) plays
the world: place or remove the card on each reader (or hold a phone over
it, ``iphone-default`` or ``android-default``, and set the iPhone's answer
on the phone: approved, declined, no answer), type on the PIN pad,
book a reset from the phone (under the OTP policy, ``--reset-otp``, the
phone shows the one-time password the kiosk then asks for), put coins or
a bill in the kiosk MFP's cash slot and jam its next print
(``myna_edge.demo.ui_issue``: the ccTalk bus emulator and the print engine,
which need CUPS: without it ``demo --ui`` stops and names
``make debs-demo``). Each card session starts from the test card's saved
state (``persist=0``), so a demo never locks the test card.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Final

import grpc
import grpc.aio

from host.agent import Agent
from host.agent.config import AgentConfig
from host.api import Profile
from host.errors import GatewayRequestError
from host.gateway import Gateway, GatewayConfig, Handler
from host.gateway.http import Request, Response, json_response
from host.peripherals import BoardKey, Controller
from hw_sim.card import get_profile
from hw_sim.card.phones import Approval
from hw_sim.devices import SimController, SimPrinter
from hw_sim.devices.errors import MicroPythonMissingError
from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from myna_edge.demo.issue import DemoPrerequisiteError
from myna_edge.demo.readers import ReaderSlot
from myna_edge.demo.ui_issue import BILLS_YEN, COINS_YEN, UiIssuance
from myna_edge.demo.world import DemoVerifier, prepare_verifier
from myna_edge.phone import profile_secret, proving_key, reserve_request
from verifier.server import VerifierServer, build_core

__all__ = ["PANEL_DIR", "ReaderSlot", "UiWorld", "add_ui_arguments", "run_ui_demo"]

_log = logging.getLogger(__name__)

#: The simulator panel's files (demo only).
PANEL_DIR: Final = Path(__file__).parent / "panel"
PHONE_ID: Final = "phone-app"
#: What the panel may hold over a reader besides the world's card (issue 15).
_PANEL_PHONES: Final = ("iphone-default", "android-default")
_OPERATIONS: Final = {
    "sign": pb.RESET_OPERATION_SIGNING_PASSWORD,
    "auth": pb.RESET_OPERATION_AUTHENTICATION_PIN,
}


@dataclasses.dataclass
class UiWorld:
    """The verifier, the kiosk and ATM agents, their gateways and the simulated devices.

    Args:
        root: a private folder (verifier database, journals, receipts).
        card: the virtual card profile.
        idle_seconds: the touchscreen app's idle timeout.
        controller: run the ATM's PIN pad (firmware under MicroPython).
        reset_otp: the verifier's reset policy asks for a one-time password
            (the 2020 plan) and the kiosk asks for it first.
    """

    root: Path
    card: str = "default"
    idle_seconds: float = 60.0
    controller: bool = True
    reset_otp: bool = False
    kiosk_reader: ReaderSlot = dataclasses.field(init=False)
    atm_reader: ReaderSlot = dataclasses.field(init=False)
    verifier: DemoVerifier | None = None
    verifier_port: int = 0
    kiosk: Gateway | None = None
    atm: Gateway | None = None
    kiosk_agent: Agent | None = None
    atm_agent: Agent | None = None
    printer: SimPrinter | None = None
    pad: SimController | None = None
    #: The kiosk's certificate issuance (the MFP screens): municipality, cash slot, printer.
    issuance: UiIssuance | None = None
    _server: VerifierServer | None = None
    _stack: contextlib.ExitStack = dataclasses.field(default_factory=contextlib.ExitStack)
    _bookings: itertools.count[int] = dataclasses.field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.kiosk_reader = ReaderSlot(self.card)
        self.atm_reader = ReaderSlot(self.card)

    async def start(self) -> None:
        """Start everything (verifier, devices, agents, gateways).

        Raises:
            DemoPrerequisiteError: the MFP's print engine cannot run here (CUPS
                programs or pycups missing); ``stop`` cleans up.
        """
        self.verifier = await asyncio.to_thread(prepare_verifier, self.root, self.card)
        self.issuance = UiIssuance(self.root / "municipal")
        await self.issuance.start()  # first: a missing CUPS stops the demo before the rest
        await self.start_verifier()
        key: BoardKey | None = None
        if self.controller:
            self.pad, key = await asyncio.to_thread(self._start_pad)
        self.printer = self._stack.enter_context(SimPrinter(self.root / "receipts"))
        self.kiosk_agent = await self._agent(Profile.KIOSK, "kiosk-01", self.kiosk_reader, None)
        self.atm_agent = await self._agent(Profile.ATM, "atm-01", self.atm_reader, key)
        routes = self.panel_routes()
        self.kiosk = Gateway(self._gateway_config(self.kiosk_agent), extra_routes=routes)
        self.atm = Gateway(self._gateway_config(self.atm_agent), extra_routes=routes)
        await self.kiosk.start()
        await self.atm.start()

    def _gateway_config(self, agent: Agent) -> GatewayConfig:
        return GatewayConfig(agent=agent.address, idle_seconds=self.idle_seconds)

    def _start_pad(self) -> tuple[SimController | None, BoardKey | None]:
        try:
            sim = self._stack.enter_context(SimController())
        except MicroPythonMissingError:
            _log.warning("MicroPython unix port missing: the ATM has no secure PIN pad")
            return None, None
        key = BoardKey.generate()
        with Controller(sim.url, key=key) as board:
            board.inject_key(key)  # the key ceremony, as at commissioning
        return sim, key

    async def _agent(
        self, profile: Profile, terminal_id: str, slot: ReaderSlot, key: BoardKey | None
    ) -> Agent:
        assert self.verifier is not None
        atm = profile is Profile.ATM
        config = AgentConfig(
            profile=profile, terminal_id=terminal_id, reader=f"sim://{self.card}?persist=0",
            listen="127.0.0.1:0", journal=self.root / f"{terminal_id}-journal.sqlite",
            electronic_journal=self.root / f"{terminal_id}-ej.txt",
            verifier=self.verifier.client(self.verifier_port, terminal_id),
            printer=self.printer.url if atm and self.printer is not None else None,
            controller=self.pad.url if atm and self.pad is not None else None,
            controller_key=key.material() if atm and key is not None else None,
            reset_otp_first=self.reset_otp and not atm,
            issuance=self.issuance.desk() if self.issuance and not atm else None,
        )  # fmt: skip
        agent = Agent(config)
        await agent.start()
        assert agent.server is not None
        agent.server.servicer.runtime.card_factory = slot.card_factory
        return agent

    async def start_verifier(self) -> None:
        """Start (or restart, on the same port) the in-process verifier."""
        assert self.verifier is not None
        config = self.verifier.config
        if self.reset_otp:
            policy = dataclasses.replace(config.policy, reset_policy="otp")
            config = dataclasses.replace(config, policy=policy)
        if self.verifier_port:
            config = dataclasses.replace(config, listen=f"127.0.0.1:{self.verifier_port}")
        if self.issuance is not None:
            config = self.issuance.centre_config(config)
        self._server = VerifierServer(config, build_core(config))
        self.verifier_port = await self._server.start()

    async def stop_verifier(self) -> None:
        """Stop the verifier (the "service down" case); harmless when stopped."""
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop(0.5)

    async def stop(self) -> None:
        """Stop everything started; harmless twice."""
        for gateway in (self.kiosk, self.atm):
            if gateway is not None:
                await gateway.stop()
        for agent in (self.kiosk_agent, self.atm_agent):
            if agent is not None:
                await agent.stop()
        self.kiosk = self.atm = self.kiosk_agent = self.atm_agent = None
        for reader in (self.kiosk_reader, self.atm_reader):
            reader.remove()  # no slot file outlives the demo
        await self.stop_verifier()
        if self.issuance is not None:
            await self.issuance.stop()
        await asyncio.to_thread(self._stack.close)

    async def book(self, operation: str) -> str:
        """The holder's phone books a reset; returns the reservation id."""
        reservation_id, _ = await self.book_reset(operation)
        return reservation_id

    async def book_reset(self, operation: str) -> tuple[str, str]:
        """The holder's phone books a reset (card proof with the other key, face match).

        Returns:
            The reservation id and the one-time password the phone shows
            (empty unless the policy asks for one).
        """
        assert self.verifier is not None
        n = next(self._bookings)
        issued = self.verifier.client(self.verifier_port, PHONE_ID)
        assert issued.ca_pem
        assert issued.key_pem
        assert issued.certificate_pem
        credentials = grpc.ssl_channel_credentials(
            issued.ca_pem, issued.key_pem, issued.certificate_pem
        )
        options = (("grpc.ssl_target_name_override", "localhost"),)
        async with grpc.aio.secure_channel(issued.target, credentials, options=options) as ch:
            stub = pb_grpc.VerifierServiceStub(ch)
            session = await stub.OpenSession(
                pb.OpenSessionRequest(
                    purpose=pb.SESSION_PURPOSE_PIN_RESET, idempotency_key=f"ui-book-{n}"
                ),
                timeout=10,
            )
            code = _OPERATIONS[operation]
            request = await asyncio.to_thread(
                reserve_request,
                session=session, operation=code, card_url=f"sim://{self.card}?persist=0",
                secret=profile_secret(self.card, proving_key(code)), phone_id=PHONE_ID,
                face_key=self.verifier.face_key, idempotency_key=f"ui-reserve-{n}",
            )  # fmt: skip
            answer = await stub.ReserveReset(request, timeout=10)
        return str(answer.reservation_id), str(answer.one_time_password)

    # --- the simulator panel (demo only) ----------------------------------------------
    def panel_routes(self) -> dict[str, Handler]:
        """``/sim`` (the panel), its script, ``/sim/state`` and ``/sim/action``."""

        def file(name: str, kind: str) -> Handler:
            async def serve(request: Request) -> Response:
                return Response(200, (PANEL_DIR / name).read_bytes(), kind)

            return serve

        return {
            "/sim": file("panel.html", "text/html; charset=utf-8"),
            "/sim/panel.js": file("panel.js", "text/javascript; charset=utf-8"),
            "/sim/state": self._state,
            "/sim/action": self._action,
        }

    async def _state(self, request: Request) -> Response:
        display = self.pad.display() if self.pad is not None else ("", "")
        return json_response(
            200,
            {
                "kiosk_card": self.kiosk_reader.present,
                "atm_card": self.atm_reader.present,
                "kiosk_profile": self.kiosk_reader.profile,
                "atm_profile": self.atm_reader.profile,
                "approval": (self.kiosk_reader.approval or Approval.APPROVED).value,
                "pad": list(display) if self.pad is not None else None,
                "kiosk_url": self.kiosk.url if self.kiosk else "",
                "atm_url": self.atm.url if self.atm else "",
                "cash_open": self.issuance.cash_open() if self.issuance else False,
            },
        )

    async def _action(self, request: Request) -> Response:
        if request.method != "POST":
            raise GatewayRequestError(405, "POST only")
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("action"), str):
            raise GatewayRequestError(400, "expected {action: ...}")
        action, value = body["action"], body.get("value", "")
        readers = {"kiosk": self.kiosk_reader, "atm": self.atm_reader}
        slots: dict[str, Callable[[ReaderSlot], None]] = {
            "place": ReaderSlot.place,
            "remove": ReaderSlot.remove,
        }
        if action == "place" and value in readers and body.get("profile") in _PANEL_PHONES:
            readers[value].place(body["profile"])  # a phone held over the reader
            return await self._state(request)
        if action in slots and value in readers:
            slots[action](readers[value])
            return await self._state(request)
        if action == "approval" and value in {a.value for a in Approval}:
            for reader in readers.values():  # one iPhone, whichever reader it is held over
                await asyncio.to_thread(reader.set_approval, Approval(value))
            return await self._state(request)
        if action == "book" and value in _OPERATIONS:
            reservation_id, otp = await self.book_reset(value)
            # The phone's screen: the one-time password is shown to its holder by design.
            return json_response(200, {"reservation_id": reservation_id, "one_time_password": otp})
        if action == "coins" and self.issuance is not None and isinstance(value, int):
            if value not in COINS_YEN + BILLS_YEN:
                raise GatewayRequestError(400, "coins: 10, 50, 100, 500 or 1000 yen")
            if not self.issuance.insert(value):  # the emulator takes it only when enabled
                raise GatewayRequestError(409, "the cash slot is closed: nothing to pay now")
            return await self._state(request)
        if action == "printer_fault" and self.issuance is not None:
            self.issuance.jam_next_print()  # the next certificate jams: the fee is refunded
            return await self._state(request)
        if action == "printer_clear" and self.issuance is not None:
            await asyncio.to_thread(self.issuance.clear_printer)  # the operator's hands
            return await self._state(request)
        if action == "pad" and self.pad is not None and isinstance(value, str):
            text = value or get_profile(self.card).sign_password
            if not (text.isascii() and text.isalnum() and len(text) <= 16):
                raise GatewayRequestError(400, "the pad takes up to 16 letters and digits")
            await asyncio.to_thread(self.pad.enter_password, text.upper())
            return await self._state(request)
        raise GatewayRequestError(400, "unknown action")


def add_ui_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--ui``, ``--idle`` and ``--reset-otp`` to ``demo``."""
    parser.add_argument(
        "--ui", action="store_true", help="serve the kiosk touchscreen app and wait (Ctrl-C stops)"
    )
    parser.add_argument(
        "--idle", type=float, default=60.0, help="touchscreen idle timeout in seconds (--ui)"
    )
    parser.add_argument(
        "--reset-otp", action="store_true",
        help="PIN resets need the one-time password the phone shows (--ui)",
    )  # fmt: skip


async def _serve(world: UiWorld) -> None:
    try:
        await world.start()
    except BaseException:
        await world.stop()
        raise
    assert world.kiosk is not None
    assert world.atm is not None
    sim = f"{world.kiosk.url}sim"
    print("myna-edge demo --ui: everything on 127.0.0.1, simulated devices, test card")
    print(f"  kiosk (card reading, PIN reset, certificates):  {world.kiosk.url}")
    print(f"  ATM (card reading, transfer):     {world.atm.url}")
    print(f"  simulator panel (card, phones, PIN pad, cash slot, printer jam):  {sim}")
    if world.issuance is not None and world.issuance.devices is not None:
        devices = world.issuance.devices
        print(f"  MFP: ccTalk bus on {devices.bus.url}, CUPS queue {devices.engine.queue_url}")
    print(
        f"  or from a shell: myna-edge sim reader insert|remove "
        f"{world.kiosk_reader.name} (kiosk) / {world.atm_reader.name} (ATM)"
    )
    if world.reset_otp:
        print("  PIN reset policy: one-time password (book on the panel, it shows the OTP)")
    if world.pad is None:
        print("  (no MicroPython unix port: the ATM's PIN pad is missing, transfers need it)")
    print("Ctrl-C stops.")
    try:
        await asyncio.Event().wait()
    finally:
        await world.stop()


def run_ui_demo(args: argparse.Namespace) -> int:
    """Serve the touchscreen app until interrupted; 0 on a clean stop."""
    if args.idle <= 0:
        print("--idle must be positive")
        return 2
    with tempfile.TemporaryDirectory(prefix="myna-edge-ui-") as tmp:
        world = UiWorld(
            Path(tmp), card=args.card, idle_seconds=args.idle,
            reset_otp=getattr(args, "reset_otp", False),
        )  # fmt: skip
        try:
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(_serve(world))
        except DemoPrerequisiteError as exc:
            # As `demo --flow issue` does: the MFP screens need the real print engine.
            print(f"myna-edge demo --ui: {exc}")
            return 1
    return 0
