# SPDX-License-Identifier: Apache-2.0
"""Certificate issuance on the ``demo --ui`` kiosk: the MFP's real parts for the touchscreen app.

The kiosk agent of ``UiWorld`` becomes an MFP: the reference municipality
(``DemoMunicipality``, 千代田区) serves on loopback, the demo's verifier
takes the centre role routing to it, and the kiosk agent gets an
``[issuance]`` desk (``desk``) naming the same real parts as
``demo --flow issue`` (``IssueDevices``): the ccTalk bus emulator on a pty
(``SimCcTalkBus``), which the agent drives with ``CcTalkPayment``, and the
print engine (``PrintEngine``: a private cupsd and ``ippeveprinter``), which
it prints to with ``CupsDocumentPrinter``. The agent opens and closes both
ports itself, as it would with a ``terminal.toml``.

The resident's hands are the simulator panel (or a test): ``insert`` drops
a coin or feeds a bill into the emulator, which takes it only while the
acceptor is enabled (a payment is being collected), so the payment screen
stays as long as at a real MFP. ``jam_next_print`` arms the engine's
paper-jam fault for the next job (the fee is refunded), and
``clear_printer`` is the operator clearing it. Without CUPS's programs or
pycups, ``start`` raises ``DemoPrerequisiteError`` naming ``make debs-demo``.
"""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from host.agent.issuance import IssuanceDesk
from hw_sim.devices.cctalk import SimCcTalkBus
from hw_sim.printing import EngineFault, PrintEngine
from myna_edge.demo.issue import DemoMunicipality, IssueDevices
from verifier.config import VerifierConfig

__all__ = ["BILLS_YEN", "COINS_YEN", "UiIssuance"]

#: What the panel's cash slot takes: Japanese coins, and the bill the validator accepts.
COINS_YEN: Final = (10, 50, 100, 500)
BILLS_YEN: Final = (1000,)


@dataclass
class UiIssuance:
    """The municipality and the MFP's devices; the kiosk agent gets them through ``desk``."""

    root: Path
    municipality: DemoMunicipality | None = None
    devices: IssueDevices | None = None
    _stack: ExitStack = field(default_factory=ExitStack)

    async def start(self) -> None:
        """Start the devices, then serve the reference municipality (before the verifier).

        Raises:
            DemoPrerequisiteError: a CUPS program or pycups is missing.
            PrintEngineError: the print engine did not start.
        """
        self.devices = await asyncio.to_thread(IssueDevices.open, self._stack)
        self.municipality = await DemoMunicipality.start(self.root)

    @property
    def bus(self) -> SimCcTalkBus:
        """The ccTalk bus emulator (coin acceptor, bill validator, hoppers)."""
        if self.devices is None:
            raise RuntimeError("the MFP's devices are not started")
        return self.devices.bus

    @property
    def engine(self) -> PrintEngine:
        """The print engine (cupsd and ippeveprinter)."""
        if self.devices is None:
            raise RuntimeError("the MFP's devices are not started")
        return self.devices.engine

    def desk(self) -> IssuanceDesk:
        """The kiosk agent's ``[issuance]``: the bus's pty and the engine's CUPS queue."""
        return IssuanceDesk(payment=self.bus.url, document_printer=self.engine.queue_url)

    def centre_config(self, config: VerifierConfig) -> VerifierConfig:
        """The verifier's config with the centre role (unchanged when not started)."""
        return config if self.municipality is None else self.municipality.centre_config(config)

    def insert(self, yen: int) -> bool:
        """The resident puts ``yen`` in the cash slot: a coin, or a bill for the validator.

        Returns:
            True when the device took it (False: no payment is being collected).

        Raises:
            ValueError: not a coin or bill the slot takes.
        """
        if yen in COINS_YEN:
            return self.bus.insert_coin(yen)
        if yen in BILLS_YEN:
            return self.bus.insert_bill(yen)
        raise ValueError(f"the slot takes {COINS_YEN + BILLS_YEN} yen")

    def cash_open(self) -> bool:
        """The acceptor is enabled: a payment is being collected."""
        return self.devices is not None and self.bus.accepting()

    def jam_next_print(self) -> None:
        """The next document jams mid-print (the job aborts; the fee is refunded)."""
        self.engine.arm(EngineFault.ABORT)

    def clear_printer(self) -> None:
        """The operator clears the printer: paper in, no jam, nothing armed (blocking)."""
        self.engine.reset()

    async def stop(self) -> None:
        """Stop the municipality, then the devices (by PID); harmless twice."""
        if self.municipality is not None:
            municipality, self.municipality = self.municipality, None
            await municipality.stop()
        self.devices = None
        await asyncio.to_thread(self._stack.close)
