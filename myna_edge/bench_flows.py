# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench flows``: the terminal flows end to end, software vs modelled card time.

Why this split: on the simulator the card answers instantly, so a flow's
wall time is the agent's own software (flow machine, journal fsyncs, gRPC
with mTLS to an in-process verifier with SQLite) — the "timing model off"
figure. The card's real cost is priced from the virtual card's APDU log
with ``hw_sim.card.timing`` (106 kbit/s link, typical chip, UNCONFIRMED
constants) — the "timing model on" addition. The report gives the software
share of the modelled total (target: at most 5%), the card commands each
flow sent against the protocol minimum, and the agent's start-up time.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Final

from host.agent.config import AgentConfig
from host.agent.runner import Agent
from host.api import Profile
from host.client import AccountType, ClientConfig, VerifierClient
from host.flows import (
    CardReadingFlow,
    Prompt,
    ReadOutcome,
    ReadRequest,
    ThreadedCard,
    TransferFlow,
    TransferOutcome,
    TransferRequest,
)
from host.journal import Journal
from host.secret import Secret
from host.transport.sim import SimTransport, sim_trust_dir
from hw_sim.card import get_profile
from hw_sim.card.apdu_log import ApduLogEntry
from hw_sim.card.timing import modelled_seconds
from verifier.config import TlsConfig, VerifierConfig
from verifier.server import VerifierServer, build_core
from verifier.tls import ensure_tls_material, issue_terminal_certificate

__all__ = ["MINIMUM_COMMANDS", "flows_suite"]

#: Protocol minimum per flow. Transfer: SELECT AP, SELECT PIN EF, VERIFY (empty,
#: tries), VERIFY, SELECT cert EF, READ BINARY, SELECT key EF, COMPUTE SIGNATURE.
#: Reading with proof: SELECT text AP, SELECT PIN, VERIFY empty, VERIFY, and
#: SELECT + READ of 2 files; then the same 8 as above for the auth key (its
#: certificate needs no PIN).
MINIMUM_COMMANDS: Final = {"transfer": 8, "reading": 6 + 8}


class _RecordingCard(ThreadedCard):
    """Keeps the virtual card's APDU log of the session before closing it."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.entries: list[ApduLogEntry] = []

    def _close(self) -> None:
        transport = self._transport
        if isinstance(transport, SimTransport):
            self.entries.extend(transport.virtual_card.apdu_log.entries)
        super()._close()


class _User:
    def __init__(self, secrets: list[str]) -> None:
        self._secrets = secrets
        self._i = 0

    async def confirm(self, prompt: Prompt) -> bool:
        return True

    async def secret(self, prompt: Prompt) -> Secret:
        value = self._secrets[self._i % len(self._secrets)]
        self._i += 1
        return Secret.from_text(value)


async def _one(
    kind: str, client: VerifierClient, journal: Journal
) -> tuple[float, list[ApduLogEntry]]:
    profile = get_profile("default")
    card = _RecordingCard("sim://default?persist=0")
    started = time.perf_counter()
    try:
        if kind == "transfer":
            transfer = TransferFlow(
                terminal_id="atm-01", verifier=client, card=card, journal=journal,
                user=_User([profile.sign_password]), emit=lambda e: None,
            )  # fmt: skip
            request = TransferRequest(
                250_000, "0001", "123", AccountType.ORDINARY, "1234567",
                "ヤマダ　ハナコ", "ヤマダ　タロウ", "03-1234-5678",
            )  # fmt: skip
            outcome: TransferOutcome | ReadOutcome = await transfer.run(request)
        else:
            reading = CardReadingFlow(
                card=card, user=_User([profile.text_pin, profile.auth_pin]), journal=journal,
                emit=lambda e: None, verifier=client,
            )  # fmt: skip
            outcome = await reading.run(ReadRequest(read_basic_four=True, verify_card=True))
        elapsed = time.perf_counter() - started
    finally:
        await card.aclose()
    if outcome.outcome.value != "completed":
        raise RuntimeError(f"{kind} did not complete: {outcome.reason}")
    return elapsed, card.entries


async def _suite(rounds: int, root: Path) -> dict[str, object]:
    trust = sim_trust_dir("sim://default")
    tls = TlsConfig(directory=root / "tls")
    ensure_tls_material(tls)
    config = VerifierConfig(
        listen="127.0.0.1:0", database=f"sqlite:///{root / 'v.sqlite'}", trust_dir=trust, tls=tls
    )
    server = VerifierServer(config, build_core(config))
    port = await server.start()
    report: dict[str, object] = {"rounds": rounds}
    try:
        for kind, terminal in (("transfer", "atm-01"), ("reading", "kiosk-01")):
            issued = issue_terminal_certificate(tls, terminal)
            client_config = ClientConfig(
                f"127.0.0.1:{port}", terminal, ca_pem=issued.ca_pem,
                certificate_pem=issued.certificate_pem, key_pem=issued.key_pem,
            )  # fmt: skip
            async with VerifierClient(client_config) as client:
                with Journal(root / f"{kind}.sqlite") as journal:
                    await _one(kind, client, journal)  # warm-up: keys, channel, caches
                    runs = [await _one(kind, client, journal) for _ in range(rounds)]
            software = statistics.median(r[0] for r in runs)
            entries = runs[-1][1]
            card = modelled_seconds(entries)
            report[kind] = {
                "software_ms": round(software * 1000, 2),
                "modelled_card_ms": round(card * 1000, 2),
                "software_share_of_total": round(software / (software + card), 4),
                "card_commands": len(entries),
                "minimum_commands": MINIMUM_COMMANDS[kind],
                "commands_vs_minimum": round(len(entries) / MINIMUM_COMMANDS[kind], 2),
            }
        report["agent_start_ms"] = round(await _agent_start(root, port, tls) * 1000, 2)
    finally:
        await server.stop(1.0)
    return report


async def _agent_start(root: Path, port: int, tls: TlsConfig) -> float:
    issued = issue_terminal_certificate(tls, "atm-01")
    config = AgentConfig(
        profile=Profile.ATM, terminal_id="atm-01", reader="sim://default?persist=0",
        listen=f"unix:{root}/agent.sock", journal=root / "agent.sqlite", electronic_journal=None,
        verifier=ClientConfig(
            f"127.0.0.1:{port}", "atm-01", ca_pem=issued.ca_pem,
            certificate_pem=issued.certificate_pem, key_pem=issued.key_pem,
        ),
    )  # fmt: skip
    agent = Agent(config)
    started = time.perf_counter()
    await agent.start()
    elapsed = time.perf_counter() - started
    await agent.stop()
    return elapsed


def flows_suite(rounds: int) -> dict[str, object]:
    """Run each flow ``rounds`` times (after a warm-up); JSON-able figures and counts."""
    with tempfile.TemporaryDirectory(prefix="myna-edge-bench-flows-") as tmp:
        return asyncio.run(_suite(max(1, rounds), Path(tmp)))
