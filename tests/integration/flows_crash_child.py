# SPDX-License-Identifier: Apache-2.0
"""Child process for the crash tests: runs one transfer and stops dead at a journaled step.

Usage: ``python -m tests.integration.flows_crash_child JOURNAL PORT CA CERT KEY EFFECT PHASE
[FLOW]`` with FLOW ``transfer`` (default, terminal atm-01) or ``reset`` (kiosk-01,
a new signing password proven with the PIN).
When the journal has durably written the entry (EFFECT, PHASE), the child
prints ``AT <seq>`` and blocks; the parent then SIGKILLs it, exactly as a
power cut would stop the agent right after that write.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from host.client import ClientConfig, ResetOperation, VerifierClient
from host.flows import PinResetFlow, ThreadedCard, TransferFlow
from host.journal import Effect, Journal, Phase
from hw_sim.card import get_profile
from tests.flows_support import ScriptedUser, transfer_request


class StoppingJournal(Journal):
    """A journal that freezes the process right after writing one chosen entry."""

    def __init__(self, path: Path, effect: Effect, phase: Phase) -> None:
        super().__init__(path)
        self._stop_at = (effect, phase)

    def record(self, op_id: str, flow: str, effect: Effect, phase: Phase, **kw: object) -> int:  # type: ignore[override]
        seq = super().record(op_id, flow, effect, phase, **kw)  # type: ignore[arg-type]
        if (effect, phase) == self._stop_at:
            print(f"AT {seq}", flush=True)
            time.sleep(120)  # the parent kills us here
        return seq


async def main(argv: list[str]) -> int:
    journal_path, port, ca, cert, key, effect, phase, *rest = argv
    flow_name = rest[0] if rest else "transfer"
    terminal = "atm-01" if flow_name == "transfer" else "kiosk-01"
    config = ClientConfig(
        f"127.0.0.1:{port}", terminal, ca_pem=Path(ca).read_bytes(),
        certificate_pem=Path(cert).read_bytes(), key_pem=Path(key).read_bytes(),
    )  # fmt: skip
    journal = StoppingJournal(Path(journal_path), Effect(effect), Phase(phase))
    card = ThreadedCard("sim://default?persist=0")
    profile = get_profile("default")
    async with VerifierClient(config) as client:
        if flow_name == "transfer":
            user = ScriptedUser(secrets=[profile.sign_password])
            flow = TransferFlow(
                terminal_id=terminal, verifier=client, card=card, user=user, journal=journal,
                emit=lambda event: None,
            )  # fmt: skip
            outcome = (await flow.run(transfer_request(250_000))).outcome
        else:
            user = ScriptedUser(secrets=[profile.auth_pin, "NEWPASS2026", "NEWPASS2026"])
            reset = PinResetFlow(
                verifier=client, card=card, user=user, journal=journal, emit=lambda event: None
            )
            outcome = (await reset.run(ResetOperation.SIGNING_PASSWORD)).outcome
    await card.aclose()
    print(f"END {outcome.value}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
