# SPDX-License-Identifier: Apache-2.0
"""The demo's world: an in-process verifier and the simulated terminal devices.

Why one place: ``myna-edge demo`` must run every flow with no hardware and
no set-up, so everything a bank and a terminal would install is built here
in a temporary folder and torn down afterwards: the verifier (SQLite, mTLS
with freshly generated certificates, trusting the simulator's test PKI plus
the test issuer's master key and a demo face-match provider key), the
receipt printer emulator on a pty, and the controller board's real firmware
under the MicroPython unix port on a pty, with a key injected as at the key
ceremony. ``StoryUser`` is the person at the terminal and ``tell`` prints
the flows' events; ``CountingCard`` counts the card commands of one flow.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from host.card import PinKind
from host.client import ClientConfig
from host.flows import (
    ControllerSecureEntry,
    Event,
    FlowFailed,
    FlowResult,
    LastTryWarning,
    Outcome,
    Prompt,
    PromptKind,
    RemoveCard,
    ThreadedCard,
    Working,
)
from host.flows.events import CredentialPresented
from host.messages import ResultCode, result_code, result_text
from host.peripherals import Controller
from host.private_files import write_private
from host.secret import Secret
from host.transport.sim import SimTransport, sim_trust_dir
from hw_sim.card import open_card
from hw_sim.card.issuer_commands import issuer_master_key
from hw_sim.devices import SimController, SimPrinter
from hw_sim.home import sim_home
from verifier.config import TlsConfig, VerifierConfig
from verifier.tls import ensure_tls_material, issue_terminal_certificate

__all__ = [
    "PAD_PASSWORD_PROMPT",
    "CountingCard",
    "DemoRun",
    "DemoVerifier",
    "StoryUser",
    "prepare_verifier",
    "screen",
    "tell",
]

_log = logging.getLogger(__name__)

#: What the simulated keypad shows when the board asks for the password.
PAD_PASSWORD_PROMPT = "ENTER PASSWORD"  # noqa: S105 - display text


@dataclass(frozen=True)
class DemoVerifier:
    """The files of the demo's verifier and how terminals reach it."""

    config: VerifierConfig
    tls: TlsConfig
    face_key: rsa.RSAPrivateKey = field(repr=False)

    def client(self, port: int, terminal_id: str) -> ClientConfig:
        """An mTLS client config for ``terminal_id``, issued by the terminal CA."""
        issued = issue_terminal_certificate(self.tls, terminal_id)
        return ClientConfig(
            f"127.0.0.1:{port}", terminal_id, ca_pem=issued.ca_pem,
            certificate_pem=issued.certificate_pem, key_pem=issued.key_pem,
        )  # fmt: skip


def prepare_verifier(root: Path, card: str) -> DemoVerifier:
    """Build the verifier's trust and TLS folders under ``root`` for ``card``'s PKI."""
    # Issue the card first: issuing a revoked or expired profile updates the
    # test PKI's CRL, which the verifier's trust folder must carry.
    with open_card(card, persist=False):
        pass
    trust = root / "trust"
    shutil.copytree(sim_trust_dir(f"sim://{card}"), trust)
    master = issuer_master_key(sim_home() / "pki")
    write_private(trust / "issuer-master.key", master.hex().encode("ascii"))
    face = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (trust / "face-provider.pub.pem").write_bytes(
        face.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    tls = TlsConfig(directory=root / "tls")
    # A fresh terminal CA is the demo's intent, not news for its user: the
    # verifier's warning about creating one is meant for an operator.
    tls_log = logging.getLogger("verifier.tls")
    level = tls_log.level
    tls_log.setLevel(logging.ERROR)
    try:
        ensure_tls_material(tls)
    finally:
        tls_log.setLevel(level)
    config = VerifierConfig(
        listen="127.0.0.1:0",
        database=f"sqlite:///{root / 'verifier.sqlite'}",
        trust_dir=trust,
        tls=tls,
    )
    return DemoVerifier(config, tls, face)


@dataclass
class DemoRun:
    """One demo run: options, folders, the verifier's port and the started devices."""

    card: str
    amount: int
    decline: bool
    root: Path
    out: Path
    verifier: DemoVerifier
    port: int = 0
    printer: SimPrinter | None = None
    sim: SimController | None = None
    controller_driver: Controller | None = None
    pad: ControllerSecureEntry | None = None

    def client(self, terminal_id: str) -> ClientConfig:
        """The mTLS client config of ``terminal_id`` for this run's verifier."""
        return self.verifier.client(self.port, terminal_id)


class CountingCard(ThreadedCard):
    """A ``ThreadedCard`` on the virtual card that keeps the count of card commands."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.commands = 0

    def _close(self) -> None:
        transport = self._transport
        if isinstance(transport, SimTransport):
            self.commands += len(transport.virtual_card.apdu_log.entries)
        super()._close()


class StoryUser:
    """The person at the terminal: agrees, types the test card's secrets, tells the story.

    Args:
        secrets: per prompt kind, the secrets to type in order (the demo knows
            the test card's; a real card's come from its holder).
        cash_moved: the ATM's answer to "did the cash move?".
        pad: the controller's secure PIN pad; when given, the signing
            password is typed on the board's keypad (``sim``), never on screen.
        sim: the simulated board, whose keypad the user presses.
    """

    def __init__(
        self,
        secrets: dict[PromptKind, list[str]],
        *,
        cash_moved: bool = True,
        pad: ControllerSecureEntry | None = None,
        sim: SimController | None = None,
    ) -> None:
        self._secrets = {kind: list(values) for kind, values in secrets.items()}
        self._cash_moved = cash_moved
        self._pad, self._sim = pad, sim

    async def confirm(self, prompt: Prompt) -> bool:
        answer = self._cash_moved if prompt.kind is PromptKind.CONFIRM_MONEY_MOVED else True
        screen(prompt)
        print(f"  [user]   {'yes' if answer else 'no'}")
        return answer

    async def secret(self, prompt: Prompt) -> Secret:
        tries = "" if prompt.tries_left is None else f" ({prompt.tries_left} tries left)"
        print(f"  [screen] {prompt.text}{tries}")
        value = self._secrets[prompt.kind].pop(0)
        on_pad = prompt.kind is PromptKind.SIGNING_PASSWORD
        if on_pad and self._pad is not None and self._sim is not None:
            return await self._on_pad(self._pad, self._sim, prompt, value)
        print("  [user]   **** (on the touchscreen)")
        return Secret.from_text(value)

    async def _on_pad(
        self, pad: ControllerSecureEntry, sim: SimController, prompt: Prompt, value: str
    ) -> Secret:
        mark = sim.display_mark()
        errors: list[BaseException] = []

        def types() -> None:
            try:
                sim.wait_display(0, PAD_PASSWORD_PROMPT, timeout=15.0, since=mark)
                sim.enter_password(value)
            except BaseException as exc:  # noqa: BLE001 - reported after the entry
                errors.append(exc)

        typist = threading.Thread(target=types, name="demo-keypad", daemon=True)
        typist.start()
        try:
            secret = await pad(prompt)
        finally:
            await asyncio.to_thread(typist.join, 20.0)
        if errors:
            secret.wipe()
            raise errors[0]
        print(f"  [pad]    {PAD_PASSWORD_PROMPT}: ******** typed on the secure PIN pad")
        print("  [agent]  encrypted PIN block received and opened for one card command")
        return secret


#: Display-only prompts every story shows (the reader and the phone answer them).
_SHOWN_PROMPTS: Final = frozenset({PromptKind.INSERT_CARD, PromptKind.APPROVE_ON_PHONE})


def tell(event: Event) -> None:
    """Print one flow event as a line of the story."""
    if isinstance(event, Working):
        print(f"  [agent]  {event.step}")
    elif isinstance(event, LastTryWarning):
        print("  [screen] warning: this is the last try")
    elif isinstance(event, Prompt) and event.kind in _SHOWN_PROMPTS:
        screen(event)
    elif isinstance(event, CredentialPresented):
        how = "approves on the phone" if event.verification.value == "on_device" else "PIN pad"
        print(f"  [reader] presented: {event.kind.value} ({how})")
    elif isinstance(event, RemoveCard):
        print("  [screen] please take your card or phone")
    elif isinstance(event, FlowFailed):
        print(f"  [agent]  stopped: {event.code}")
    elif isinstance(event, FlowResult):
        print(f"  [agent]  result: {event.outcome.value} {event.reference} {event.reason}".rstrip())
        code = _result_code(event)
        if code is not None:
            text = result_text(code)
            print(f"  [screen] {text.ja}\n  [screen] {text.en}")


def screen(prompt: Prompt) -> None:
    """Print what the screen shows for ``prompt``: Japanese first, then English."""
    if prompt.message is None:
        print(f"  [screen] {prompt.text}")
        return
    for line in prompt.message.ja.splitlines():
        print(f"  [screen] {line}")
    print(f"  [screen] {prompt.text or prompt.message.en}")


def _result_code(event: FlowResult) -> ResultCode | None:
    """The typed code of a flow's end, as the terminal API gives it (``host.messages``)."""
    reason = event.reason
    if event.flow == "transfer" and event.outcome is Outcome.CANCELLED and event.reference:
        reason = reason or "reversed"  # authorised, then the cash did not move
    pin = PinKind.SIGN if event.flow == "transfer" else None
    return result_code(event.outcome.value, reason, pin=pin)
