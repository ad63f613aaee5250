# SPDX-License-Identifier: Apache-2.0
"""The ATM story of ``myna-edge demo``: the identity-verified transfer.

Why apart from the kiosk stories (``myna_edge.demo.flows``): only this one
needs the receipt printer emulator and the controller board's real firmware
(its keypad takes the signing password), which ``myna_edge.demo.stories``
starts when ``--flow`` includes it. The story is told as a user lives it:
the exact statement, the card, the password on the secure PIN pad, the
verifier's decision, the ATM's cash confirmation, commit or reversal, and
the receipt. ``--card revoked``, ``--amount 50000`` and ``--decline`` show
the other paths.
"""

from __future__ import annotations

import asyncio

from host.client import AccountType, VerifierClient
from host.flows import (
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
from hw_sim.card import get_profile
from myna_edge.demo.world import CountingCard, DemoRun, StoryUser, tell

__all__ = ["TERMINAL_ID", "transfer_story", "verifier_line"]

#: The ATM's terminal id (its mTLS client certificate and journal lines).
TERMINAL_ID = "atm-01"


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
