# SPDX-License-Identifier: Apache-2.0
"""``myna-edge demo --flow transfer``: the ATM transfer flow as a story, no hardware.

Starts an in-process verifier (SQLite, mTLS with freshly generated test
certificates, trusting the simulator's test PKI), the virtual card over
``sim://``, the simulated receipt printer on a pseudo-terminal, and runs the
identity-verified transfer as a user would: the exact statement, the card,
the signing password (the demo knows the test card's password; on an ATM it
comes from the secure PIN pad), the verifier's decision, the ATM's cash
confirmation, commit or reversal, and the receipt. ``--card revoked`` or
``--amount 50000`` show the other paths. Wired into ``myna_edge.demo`` by
``add_flow_arguments`` and ``run_flow_demo``; also ``python -m
myna_edge.demo_transfer``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
from pathlib import Path

from host.client import AccountType, ClientConfig, VerifierClient
from host.flows import (
    Event,
    FlowFailed,
    FlowResult,
    LastTryWarning,
    Prompt,
    PromptKind,
    RemoveCard,
    ThreadedCard,
    ThreadedPrinter,
    TransferFlow,
    TransferOutcome,
    TransferRequest,
    Working,
)
from host.journal import ElectronicJournal, Journal
from host.secret import Secret
from host.transport.sim import sim_trust_dir
from hw_sim.card import get_profile, open_card
from hw_sim.devices import SimPrinter
from verifier.config import TlsConfig, VerifierConfig
from verifier.server import VerifierServer, build_core
from verifier.tls import ensure_tls_material, issue_terminal_certificate

__all__ = ["StoryUser", "add_flow_arguments", "main", "run_flow_demo"]

TERMINAL_ID = "atm-01"


def add_flow_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--flow``, ``--amount``, ``--card``, ``--decline`` and ``--out`` to ``parser``."""
    parser.add_argument("--flow", choices=("read", "transfer"), default="read")
    parser.add_argument("--amount", type=int, default=250_000, help="transfer amount in yen")
    parser.add_argument("--card", default="default", help="virtual card profile (e.g. revoked)")
    parser.add_argument("--decline", action="store_true", help="the ATM reports no cash moved")
    parser.add_argument("--out", type=Path, default=None, help="where receipts are written")


class StoryUser:
    """The person at the ATM: agrees, types the test card's password, and tells the story."""

    def __init__(self, password: str, *, cash_moved: bool) -> None:
        self._password = password
        self._cash_moved = cash_moved

    async def confirm(self, prompt: Prompt) -> bool:
        answer = self._cash_moved if prompt.kind is PromptKind.CONFIRM_MONEY_MOVED else True
        print(f"  [screen] {prompt.text}")
        print(f"  [user]   {'yes' if answer else 'no'}")
        return answer

    async def secret(self, prompt: Prompt) -> Secret:
        print(f"  [screen] {prompt.text} ({prompt.tries_left} tries left)")
        print("  [user]   ******** (on the secure PIN pad)")
        return Secret.from_text(self._password)


def _tell(event: Event) -> None:
    if isinstance(event, Working):
        print(f"  [agent]  {event.step}")
    elif isinstance(event, LastTryWarning):
        print("  [screen] warning: this is the last try")
    elif isinstance(event, Prompt) and event.kind is PromptKind.INSERT_CARD:
        print(f"  [screen] {event.text}")
    elif isinstance(event, RemoveCard):
        print("  [screen] please take your card")
    elif isinstance(event, FlowFailed):
        print(f"  [agent]  stopped: {event.code}")
    elif isinstance(event, FlowResult):
        print(f"  [agent]  result: {event.outcome.value} {event.reference} {event.reason}".rstrip())


async def _run(
    config: VerifierConfig, client_config: ClientConfig, root: Path, args: argparse.Namespace
) -> TransferOutcome:
    server = VerifierServer(config, build_core(config))
    port = await server.start()
    print(f"verifier: in-process on 127.0.0.1:{port}, mTLS, SQLite in {root}")
    card = ThreadedCard(f"sim://{args.card}?persist=0")
    out = args.out or Path(tempfile.mkdtemp(prefix="myna-edge-receipts-"))
    try:
        with SimPrinter(out) as sim_printer:
            printer = ThreadedPrinter(sim_printer.url)
            try:
                target = f"127.0.0.1:{port}"
                cfg = dataclasses.replace(client_config, target=target)
                async with VerifierClient(cfg) as client:
                    with Journal(root / "journal.db") as journal:
                        flow = TransferFlow(
                            terminal_id=TERMINAL_ID, verifier=client, card=card, journal=journal,
                            user=StoryUser(get_profile(args.card).sign_password,
                                           cash_moved=not args.decline),
                            emit=_tell, printer=printer,
                            ejournal=ElectronicJournal(out / "electronic-journal.txt", TERMINAL_ID),
                        )  # fmt: skip
                        request = TransferRequest(
                            args.amount, "0001", "123", AccountType.ORDINARY, "1234567",
                            "ヤマダ　ハナコ", "ヤマダ　タロウ", "03-1234-5678",
                        )  # fmt: skip
                        outcome = await flow.run(request)
            finally:
                await printer.aclose()
            if outcome.receipt_printed:
                sim_printer.wait_receipts(1)
        print(f"receipts and the operator's electronic journal: {out}")
        return outcome
    finally:
        await card.aclose()
        await server.stop(1.0)


def run_flow_demo(args: argparse.Namespace) -> int:
    """Run the transfer demo; returns 0 when the flow ran (whatever its outcome)."""
    with tempfile.TemporaryDirectory(prefix="myna-edge-demo-") as tmp:
        root = Path(tmp)
        # Issue the card first: issuing a revoked or expired profile updates
        # the test PKI's CRL, which the verifier's trust folder must carry.
        with open_card(args.card, persist=False):
            pass
        trust = sim_trust_dir(f"sim://{args.card}")
        tls = TlsConfig(directory=root / "tls")
        ensure_tls_material(tls)
        config = VerifierConfig(
            listen="127.0.0.1:0",
            database=f"sqlite:///{root / 'verifier.sqlite'}",
            trust_dir=trust,
            tls=tls,
        )
        issued = issue_terminal_certificate(tls, TERMINAL_ID)
        client_config = ClientConfig(
            "127.0.0.1:0", TERMINAL_ID, ca_pem=issued.ca_pem,
            certificate_pem=issued.certificate_pem, key_pem=issued.key_pem,
        )  # fmt: skip
        print(f"myna-edge demo: transfer of JPY {args.amount:,} with card {args.card!r}")
        outcome = asyncio.run(_run(config, client_config, root, args))
    print(
        f"outcome: {outcome.outcome.value}; verifier state: {outcome.state.value}; "
        f"identity verified: {outcome.identity_verified}; receipt: {outcome.receipt_printed}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m myna_edge.demo_transfer [--amount N] [--card PROFILE] [--decline]``."""
    parser = argparse.ArgumentParser(prog="myna-edge demo --flow transfer")
    add_flow_arguments(parser)
    args = parser.parse_args(argv)
    return run_flow_demo(args)


if __name__ == "__main__":
    sys.exit(main())
