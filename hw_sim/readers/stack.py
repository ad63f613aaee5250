# SPDX-License-Identifier: Apache-2.0
"""Ready-made reader rigs: pcscd + vpcd bridge, and the PN532 on a pty.

Why: the integration tests, the benchmarks (``myna-edge bench readers``)
and demos all need the same set-up — a private pcscd (in its own network
namespace when root; ``hw_sim.readers.pcscd``) with the vpcd bridge
dialling it, or the PN532 emulator — and a way to put a fresh virtual
card in and take it out again, waiting until pcscd itself has noticed.
Both rigs are context managers that stop everything they started.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from host.transport.pcsc import list_readers
from hw_sim.card import VirtualCard, open_card
from hw_sim.lifecycle import StartStopABC
from hw_sim.readers.pcscd import PRIVATE_CONF_MARK, PcscdProcess, write_reader_conf
from hw_sim.readers.pn532_pty import Pn532Pty
from hw_sim.readers.vpcd import DEFAULT_PORT, VpcdBridge

__all__ = ["PCSC_READER", "PCSC_URL", "PcscRig", "Pn532Rig"]

#: vpcd's first reader as pcscd names it.
PCSC_READER: Final = "Virtual PCD 00 00"
#: The host URL of that reader, waiting up to 5 s for the card.
PCSC_URL: Final = "pcsc://Virtual%20PCD%2000%2000?wait=5"


class PcscRig(StartStopABC):
    """A private pcscd with the vpcd bridge; ``card()`` inserts a virtual card.

    Raises ``PcscdBusyError`` on ``start()`` when pcscd cannot run here.
    """

    def __init__(self, home: Path | None = None, *, busy_wait: float = 0.0) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=PRIVATE_CONF_MARK))
        self.busy_wait = busy_wait
        self.home = home or self.folder / "home"
        self.pcscd = PcscdProcess(
            write_reader_conf(self.folder / "reader.conf.d", DEFAULT_PORT),
            self.folder / "pcscd.log",
        )
        self.bridge: VpcdBridge | None = None

    def start(self) -> PcscRig:
        """Start pcscd, then the bridge (with an empty reader)."""
        try:
            self.pcscd.start(busy_wait=self.busy_wait)
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        netns = (lambda: self.pcscd.netns) if self.pcscd.isolated else None
        self.bridge = VpcdBridge(None, netns=netns).start()
        return self

    def stop(self) -> None:
        """Stop the bridge and pcscd (by PID) and delete the rig's folder."""
        if self.bridge is not None:
            self.bridge.stop()
            self.bridge = None
        self.pcscd.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def restart_pcscd(self) -> None:
        """Stop pcscd and start it again; the bridge redials it with back-off."""
        self.pcscd.stop()
        self.pcscd.start(busy_wait=self.busy_wait)

    def wait_present(self, present: bool, timeout: float = 5.0) -> None:
        """Wait until pcscd itself reports the card in (or out of) the reader.

        Raises:
            TimeoutError: pcscd did not get there in time.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if dict(list_readers()).get(PCSC_READER) == present:
                return
            time.sleep(0.05)
        raise TimeoutError(f"pcscd did not see the card {'in' if present else 'out'}")

    @contextmanager
    def card(self, profile: str = "default") -> Iterator[VirtualCard]:
        """Insert a fresh, non-persistent ``profile`` card; remove and close it after."""
        assert self.bridge is not None
        card = open_card(profile, home=self.home, persist=False)
        self.bridge.swap_card(card)
        try:
            self.wait_present(True)
            yield card
        finally:
            self.bridge.remove()
            card.close()
            self.wait_present(False)


class Pn532Rig(StartStopABC):
    """The PN532 emulator on a pty; ``card()`` places a virtual card in its field."""

    def __init__(self, home: Path | None = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="myna-pn532-"))
        self.home = home or self.folder / "home"
        self.pty = Pn532Pty(None, link=self.folder / "pn532")

    @property
    def url(self) -> str:
        """The host URL of the emulated reader."""
        return f"libnfc://{self.pty.connstring}"

    def start(self) -> Pn532Rig:
        """Start the emulator."""
        self.pty.start()
        return self

    def stop(self) -> None:
        """Stop the emulator and delete the rig's folder."""
        self.pty.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    @contextmanager
    def card(self, profile: str = "default") -> Iterator[VirtualCard]:
        """Place a fresh, non-persistent ``profile`` card; take it away after."""
        card = open_card(profile, home=self.home, persist=False)
        self.pty.place(card)
        try:
            yield card
        finally:
            self.pty.place(None)
            card.close()
