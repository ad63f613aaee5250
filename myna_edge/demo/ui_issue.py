# SPDX-License-Identifier: Apache-2.0
"""Certificate issuance on the ``demo --ui`` kiosk: the MFP's parts for the touchscreen app.

The kiosk agent of ``UiWorld`` becomes an MFP: the reference municipality
(``DemoMunicipality``, 千代田区) serves on loopback, the demo's verifier
takes the centre role routing to it, and the agent's runtime gets the
centre's client, a coin box and a print engine. Why stand-ins here, as in
``demo --flow issue``: the touchscreen app is what this demo shows; the
ccTalk device and CUPS have their own suites. The coin box waits for the
resident's money, which the simulator panel (``coins``) or a test inserts,
so the payment screen stays as long as at a real MFP. The panel can also
make the next print fail (``printer_fault``: a paper jam, so the fee is
refunded).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from host.api.runtime import AgentRuntime
from host.client import ClientConfig
from host.client.issuance import IssuanceClient
from host.errors import PaymentTimeoutError, PrinterUnavailableError
from host.flows.issuance_ports import Escrow, PrintJob, PrintOutcome
from myna_edge.demo.issue import DemoMunicipality
from verifier.config import VerifierConfig

__all__ = ["UiCashBox", "UiIssuance", "UiPrintEngine"]


@dataclass
class UiCashBox:
    """The coin box: waits for ``insert`` until the fee is in; change is paid out on ``take``."""

    kept: int = 0
    returned: int = 0
    held: dict[str, int] = field(default_factory=dict)
    #: Yen inserted for the payment being collected (``insert``), not yet in escrow.
    inserted: int = 0
    #: The fee being collected (0: none): what the panel shows.
    due: int = 0
    _coin: asyncio.Event = field(default_factory=asyncio.Event)
    _watcher: Callable[[int], None] | None = None

    def watch(self, on_inserted: Callable[[int], None] | None) -> None:
        """Report each insertion's running total (``PaymentProgress``); None stops."""
        self._watcher = on_inserted

    def insert(self, yen: int) -> None:
        """The resident inserts ``yen`` (a coin or a note).

        Raises:
            ValueError: not a positive amount.
        """
        if yen <= 0:
            raise ValueError("insert a positive amount")
        self.inserted += yen
        self._coin.set()
        if self.due and self._watcher is not None:
            self._watcher(self.inserted)

    async def collect(self, *, payment_id: str, fee_yen: int, timeout: float) -> Escrow:
        """Wait until the fee is inserted, then hold it in escrow.

        Raises:
            PaymentTimeoutError: not paid within ``timeout`` (what was inserted is returned).
        """
        self.inserted, self.due = 0, fee_yen
        try:
            async with asyncio.timeout(timeout):
                while self.inserted < fee_yen:
                    self._coin.clear()
                    await self._coin.wait()
        except TimeoutError:
            raise PaymentTimeoutError("the fee was not paid in time") from None
        finally:
            if self.inserted < fee_yen:  # timed out or cancelled: the money goes back
                self.returned += self.inserted
            self.due = 0
        self.held[payment_id] = self.inserted
        return Escrow(payment_id, fee_yen, self.inserted)

    async def take(self, escrow: Escrow) -> int:
        """Keep the fee; returns the change paid out."""
        held = self.held.pop(escrow.payment_id, escrow.inserted_yen)
        self.kept += escrow.fee_yen
        return held - escrow.fee_yen

    async def refund(self, escrow: Escrow) -> int:
        """Give back everything held; returns it."""
        held = self.held.pop(escrow.payment_id, 0)
        self.returned += held
        return held


@dataclass
class UiPrintEngine:
    """The print engine: keeps what it printed; ``fault`` makes the next job jam."""

    printed: list[str] = field(default_factory=list)
    fault: bool = False
    #: When set, each job waits until it is released (a test holds the printing screen).
    hold: asyncio.Event | None = None

    async def print_document(self, pdf: bytes, *, title: str, timeout: float) -> PrintJob:
        """Print (remember the serial), or raise a jam once when ``fault`` is set.

        Raises:
            PrinterUnavailableError: the armed fault (``media-jam``).
        """
        if self.hold is not None:
            await self.hold.wait()
        if self.fault:
            self.fault = False
            raise PrinterUnavailableError("the paper jammed", state="media-jam")
        self.printed.append(title)
        return PrintJob(
            str(len(self.printed)), PrintOutcome.COMPLETED, hashlib.sha256(pdf).digest()
        )


@dataclass
class UiIssuance:
    """The municipality, and the kiosk agent's issuance parts once ``attach``-ed."""

    root: Path
    cash: UiCashBox = field(default_factory=UiCashBox)
    engine: UiPrintEngine = field(default_factory=UiPrintEngine)
    municipality: DemoMunicipality | None = None
    centre: IssuanceClient | None = None

    async def start(self) -> None:
        """Serve the reference municipality (before the verifier starts)."""
        self.municipality = await DemoMunicipality.start(self.root)

    def centre_config(self, config: VerifierConfig) -> VerifierConfig:
        """The verifier's config with the centre role (unchanged when not started)."""
        return config if self.municipality is None else self.municipality.centre_config(config)

    def attach(self, runtime: AgentRuntime, client: ClientConfig) -> None:
        """Make the kiosk agent an MFP: the centre's client, the coin box, the print engine."""
        self.centre = IssuanceClient(client)
        runtime.issuance = self.centre
        runtime.payment = self.cash
        runtime.document_printer = self.engine

    async def stop(self) -> None:
        """Close the centre's client and stop the municipality; harmless twice."""
        if self.centre is not None:
            centre, self.centre = self.centre, None
            await centre.close()
        if self.municipality is not None:
            municipality, self.municipality = self.municipality, None
            await municipality.stop()
