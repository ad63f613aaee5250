# SPDX-License-Identifier: Apache-2.0
"""``DeviceMonitor``: live, unsolicited device status for the terminal API.

Why polling: neither the ESC/POS printer nor the controller board pushes
its state on its own in a way the agent can rely on (the board's tamper
event can be lost with the link; the printer only answers real-time status
requests), and PC/SC reports card presence only to whoever asks. So the
agent asks, every ``interval`` seconds, and the API turns each *change*
into an XFS4IoT-style status-changed event on WatchStatus (the servicer
drops repeats). Devices and states:

* ``reader``: ONLINE / OFFLINE (pcsc:// reader listed by pcscd or not;
  a libnfc:// UART reader's device node present or not);
* ``card``: the card in the reader: ONLINE = present, NO_DEVICE = absent
  (XFS4IoT media present / notPresent), for pcsc:// and the simulated
  reader ``sim://?slot=NAME``;
* ``printer``: ONLINE, HARDWARE_ERROR (paper out, cover open), OFFLINE;
* ``controller``: ONLINE, FRAUD_ATTEMPT (tamper switch opened: keys
  erased), NOT_COMMISSIONED (no key injected, or not the agent's key: its
  check value differs), OFFLINE (board silent or gone).

The printer and the board are asked only while no command runs: a running
flow owns them (and reports the printer's state itself after a receipt).
The PC/SC reader list is safe to read during a flow, so card removal shows
at once. A probe's failure is a state, never an exception out of the loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

from host.errors import BoardTamperedError, MynaEdgeError, PeripheralError
from host.peripherals import BoardStatus
from host.peripherals.escpos import PrinterStatus
from myna.edge.v1 import terminal_pb2 as tpb

__all__ = [
    "DeviceMonitor",
    "Probe",
    "board_state",
    "controller_probe",
    "pcsc_reader_probe",
    "printer_probe",
    "serial_reader_probe",
    "sim_slot_probe",
]

_log = logging.getLogger(__name__)

State: TypeAlias = tpb.DeviceState.ValueType
#: Report one device's state (``TerminalServicer.set_status``).
Report = Callable[[str, State], Awaitable[None]]

ONLINE: Final = tpb.DEVICE_STATE_ONLINE
OFFLINE: Final = tpb.DEVICE_STATE_OFFLINE


@dataclass(frozen=True)
class Probe:
    """Asks one device for its state; returns ``(device, state)`` pairs.

    Args:
        check: the asking coroutine.
        while_busy: also ask while a command runs (safe to share with a flow).
    """

    check: Callable[[], Awaitable[Sequence[tuple[str, State]]]]
    while_busy: bool = False


def _pick(readers: list[tuple[str, bool]], name: str, index: int | None) -> tuple[str, bool] | None:
    # The pcsc:// URL's own rule: an index, else the exact name, else the
    # one name containing it; empty = the first reader with a card.
    if index is not None:
        return readers[index] if index < len(readers) else None
    if not name:
        return next((r for r in readers if r[1]), readers[0] if readers else None)
    exact = [r for r in readers if r[0] == name]
    inside = [r for r in readers if name.lower() in r[0].lower()]
    found = exact or inside
    return found[0] if found else None


def pcsc_reader_probe(name: str, index: int | None = None) -> Probe:
    """The PC/SC reader a ``pcsc://`` URL names, and the card in it."""
    from host.transport.pcsc.library import list_readers

    def ask() -> list[tuple[str, State]]:
        try:
            chosen = _pick(list_readers(), name, index)
        except MynaEdgeError:
            chosen = None
        if chosen is None:
            return [("reader", OFFLINE)]
        card = ONLINE if chosen[1] else tpb.DEVICE_STATE_NO_DEVICE
        return [("reader", ONLINE), ("card", card)]

    async def check() -> list[tuple[str, State]]:
        return await asyncio.to_thread(ask)

    return Probe(check, while_busy=True)


def serial_reader_probe(connstring: str) -> Probe | None:
    """A libnfc UART reader (``pn532_uart:/dev/ttyUSB0``): online while its device exists.

    Only the device node is looked at (libnfc holds the reader exclusively
    during a flow, and opening it would reset the chip); None for
    connstrings without a device path (USB bus scans).
    """
    _, sep, rest = connstring.partition(":")
    device = rest.split(":", 1)[0]
    if not sep or not device.startswith("/"):
        return None

    async def check() -> list[tuple[str, State]]:
        return [("reader", ONLINE if os.path.exists(device) else OFFLINE)]

    return Probe(check, while_busy=True)


def sim_slot_probe(url: str) -> Probe | None:
    """The card on a simulated ``sim://?slot=`` reader; None for other ``sim://`` URLs."""
    from host.transport.sim import parse_sim_url, sim_card_present

    try:
        if parse_sim_url(url).slot is None:
            return None
    except MynaEdgeError:
        return None  # a bad URL fails where the card is opened, with its message

    async def check() -> list[tuple[str, State]]:
        try:
            present = sim_card_present(url)
        except MynaEdgeError:
            return [("reader", OFFLINE)]
        return [("reader", ONLINE), ("card", ONLINE if present else tpb.DEVICE_STATE_NO_DEVICE)]

    return Probe(check, while_busy=True)


def printer_probe(ask: Callable[[], Awaitable[PrinterStatus]]) -> Probe:
    """The receipt printer through ``ask`` (``ThreadedPrinter.check``).

    Paper out and cover open are HARDWARE_ERROR (the device cannot do its
    job until someone acts), as after a failed receipt.
    """

    async def check() -> list[tuple[str, State]]:
        try:
            status = await ask()
        except PeripheralError:
            return [("printer", OFFLINE)]
        return [("printer", ONLINE if status.ready else tpb.DEVICE_STATE_HARDWARE_ERROR)]

    return Probe(check)


def board_state(status: BoardStatus, kcv: bytes | None) -> State:
    """The controller's state from its STATUS, for an agent holding a key with check value ``kcv``.

    Tampered first (the keys were erased by force, an operator must look),
    then no key or another key than the agent's (``kcv``; None = not
    compared): secure entry would fail mid-flow, so it is NOT_COMMISSIONED
    and commands needing it are refused at acknowledgement.
    """
    if status.tampered:
        return tpb.DEVICE_STATE_FRAUD_ATTEMPT
    if not status.commissioned or (kcv is not None and status.kcv != kcv):
        return tpb.DEVICE_STATE_NOT_COMMISSIONED
    return ONLINE


def controller_probe(ask: Callable[[], Awaitable[BoardStatus]], *, kcv: bytes | None) -> Probe:
    """The controller board through ``ask`` (its STATUS); ``kcv``: the agent's key's check value."""

    async def check() -> list[tuple[str, State]]:
        try:
            status = await ask()
        except BoardTamperedError:
            return [("controller", tpb.DEVICE_STATE_FRAUD_ATTEMPT)]
        except PeripheralError:
            return [("controller", OFFLINE)]
        return [("controller", board_state(status, kcv))]

    return Probe(check)


class DeviceMonitor:
    """Runs the probes every ``interval`` s and reports what they see.

    Args:
        report: where states go (the servicer keeps only changes).
        probes: what to ask.
        busy: whether a command runs now.
        interval: seconds between rounds.
    """

    def __init__(
        self,
        report: Report,
        probes: Sequence[Probe],
        busy: Callable[[], bool],
        *,
        interval: float = 1.0,
    ) -> None:
        self._report = report
        self._probes = list(probes)
        self._busy = busy
        self.interval = interval

    async def poll_once(self) -> None:
        """Ask every probe that may be asked now, and report."""
        for probe in self._probes:
            if self._busy() and not probe.while_busy:
                continue
            try:
                states = await probe.check()
            except Exception:  # noqa: BLE001 - a probe bug must not stop status reporting
                _log.exception("device probe failed")
                continue
            for device, state in states:
                await self._report(device, state)

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            await self.poll_once()
            await asyncio.sleep(self.interval)
