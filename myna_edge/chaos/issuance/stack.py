# SPDX-License-Identifier: Apache-2.0
"""The campaign's stack: centre, municipality and MFP stations, all on real parts.

Why in process rather than ``myna-edge agent`` processes: the service
hours (6:30-23:00 JST) must hold whatever the wall clock says, and the
demo's municipality and centre take a shifted hours clock in process
(``myna_edge.demo.issue.DemoMunicipality``); an agent process per station
would also need its own configuration and PKI enrolment per run. Every
boundary the incidents cross is still real: gRPC with mTLS between MFP
and centre and between centre and municipality, SQLite ledgers on disk,
ccTalk frames over a pty, IPP to cupsd and from cupsd to ``ippeveprinter``.

The municipality "killed" is stopped with no grace (in-flight calls cut,
as when its process dies) and served again on the same port and ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from host.client.issuance import IssuanceClient
from host.peripherals.payment import CcTalkPayment
from host.printing import CupsDocumentPrinter
from hw_sim.devices.cctalk import SimCcTalkBus
from hw_sim.printing import PrintEngine
from myna_edge.demo.issue import DemoMunicipality
from myna_edge.demo.world import DemoVerifier, prepare_verifier
from verifier.server import VerifierServer, build_core

__all__ = ["CampaignStack", "MfpStation"]

#: Coins per hopper: change for a 1,000-yen bill takes up to four 100-yen coins.
_HOPPER_STOCK: Final = 5000


@dataclass
class MfpStation:
    """One store's MFP: its payment bus, print engine and the ports the flow uses."""

    terminal_id: str
    bus: SimCcTalkBus
    engine: PrintEngine
    payment: CcTalkPayment
    printer: CupsDocumentPrinter
    centre: IssuanceClient

    async def aclose(self) -> None:
        """Close the ports (the devices are stopped by the stack)."""
        await self.payment.aclose()
        await self.printer.aclose()
        await self.centre.__aexit__(None, None, None)


class CampaignStack:
    """Start the municipality, the centre and ``stations`` MFPs under ``root``; async CM."""

    def __init__(self, root: Path, stations: int) -> None:
        self.root = root
        self._count = stations
        self._devices = contextlib.ExitStack()
        self.verifier: DemoVerifier | None = None
        self.municipality: DemoMunicipality | None = None
        self.server: VerifierServer | None = None
        self.stations: list[MfpStation] = []
        self.port = 0

    async def __aenter__(self) -> Self:
        try:
            await self._start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def _start(self) -> None:
        self.verifier = prepare_verifier(self.root, "default")
        self.municipality = await DemoMunicipality.start(self.root / "municipal")
        config = self.municipality.centre_config(self.verifier.config)
        self.server = VerifierServer(config, build_core(config))
        self.port = await self.server.start()
        for number in range(1, self._count + 1):
            engine = self._devices.enter_context(PrintEngine())
            bus = self._devices.enter_context(SimCcTalkBus(hopper_stock=_HOPPER_STOCK))
            terminal = f"mfp-{number:02d}"
            centre = IssuanceClient(self.verifier.client(self.port, terminal))
            await centre.__aenter__()
            self.stations.append(
                MfpStation(
                    terminal,
                    bus,
                    engine,
                    CcTalkPayment(bus.url, poll_interval=0.02),
                    CupsDocumentPrinter(engine.queue_url, poll_interval=0.05),
                    centre,
                )
            )

    async def kill_municipality(self, down: float) -> None:
        """Cut the municipality (no grace), keep it down ``down`` seconds, serve again."""
        assert self.municipality is not None
        await self.municipality.stop(0)
        await asyncio.sleep(down)
        await self.municipality.restart()

    async def sweep(self) -> int:
        """Run the centre's outbox once (voids and print confirmations to the municipality)."""
        assert self.server is not None
        assert self.server.issuance is not None
        return await self.server.issuance.sweep_once()

    @property
    def verifier_database(self) -> Path:
        """The centre's SQLite file."""
        return self.root / "verifier.sqlite"

    async def aclose(self) -> None:
        """Stop everything; harmless twice."""
        stations, self.stations = self.stations, []
        for station in stations:
            await station.aclose()
        if self.server is not None:
            await self.server.stop(1.0)
            self.server = None
        if self.municipality is not None:
            await self.municipality.stop()
            self.municipality = None
        self._devices.close()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
