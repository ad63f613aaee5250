# SPDX-License-Identifier: Apache-2.0
"""Corrupted and dropped serial bytes on the controller link and the printer link.

Why through the agent: the link layer's own tests show frames survive; this
shows the *flows* survive. The real firmware runs under the MicroPython
unix port behind ``hw_sim``'s fault relay (the ATM's signing password is
typed on its keypad and crosses the line only as an encrypted PIN block),
and the ESC/POS printer emulator sits behind another relay. Each run turns
on seeded per-frame corruption and loss for the length of one transfer,
then the link is clean again, recovery runs and the usual promises are
checked: a defined end state, no PIN try spent (a garbled PIN block must
never reach the card as a wrong password), the cash confirmed exactly when
the verifier committed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections import Counter
from pathlib import Path

from host.api import Profile
from host.peripherals import BoardKey, Controller
from hw_sim.devices import LinkFaults, PtyRelay, SimController, SimPrinter
from hw_sim.devices.errors import DeviceTimeoutError
from myna_edge.chaos import ChaosInvariantError
from myna_edge.chaos.faults.check import check_run, settle
from myna_edge.chaos.faults.drive import PullableCard, drive, fresh_pins, transfer
from myna_edge.chaos.faults.world import CARD, Terminal, World, terminal

__all__ = ["CONTROLLER_STATES", "PRINTER_STATES", "RATES", "serial_faults"]

_log = logging.getLogger(__name__)
RUN_DEADLINE = 90.0  # the board's entry timeout (30 s) plus the flow's own steps
#: A garbled pad link: the entry got through, or the flow stopped with the device named.
CONTROLLER_STATES = frozenset({
    "SUCCESS", "HARDWARE_ERROR/device_error", "TIME_OUT/timeout",
})  # fmt: skip
#: A garbled printer link never undoes moved cash: the receipt may be missing.
PRINTER_STATES = frozenset({"SUCCESS"})


def _card() -> PullableCard:
    return PullableCard(f"sim://{CARD}?persist=0")


#: Per-frame corruption and loss rates a run draws from (each applied both ways).
RATES = (0.02, 0.05, 0.1, 0.2)


def _rates(rng: random.Random, seed: int, choices: tuple[float, ...]) -> LinkFaults:
    rate = rng.choice(choices)
    return LinkFaults(corrupt=rate, drop=rate, seed=seed)


def _injected(relay: PtyRelay) -> int:
    return relay.stats.corrupted + relay.stats.dropped


async def serial_faults(
    world: World,
    folder: Path,
    seed: int,
    count: int,
    *,
    controller: bool = True,
    rates: tuple[float, ...] = RATES,
) -> dict[str, object]:
    """``count`` faulted transfers on each link (the controller's only when ``controller``).

    Each run draws its rate from ``rates``; at 20 % a lost display update
    can leave the keypad unused until the board's entry timeout (30 s).

    Raises:
        ChaosInvariantError: a run broke a promise (the text names link, run, rates).
        MicroPythonMissingError: ``controller`` and no MicroPython unix port.
    """
    rng = random.Random(seed)  # noqa: S311 - fault positions, not crypto
    fresh = fresh_pins()
    states: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    runs = unseen = 0
    with SimPrinter(folder / "receipts", faults=LinkFaults(seed=seed)) as printer:
        relay = printer.relay
        assert relay is not None
        async with terminal(
            world, folder / "printer", Profile.ATM, _card, terminal_id="serial-printer",
            printer=printer.url,
        ) as t:  # fmt: skip
            for n in range(count):
                faults_now = _rates(rng, seed, rates)
                label = f"printer link {n} at {faults_now.corrupt:.0%} (seed {seed})"
                t.cards.clear()
                before, rendered = _injected(relay), len(printer.receipts)
                relay.faults = faults_now
                try:
                    run = await drive(t, transfer(f"printer-{n}"), deadline=RUN_DEADLINE)
                finally:
                    relay.faults = dataclasses.replace(faults_now, corrupt=0.0, drop=0.0)
                await settle(t, label)
                check_run(label, t, world, run, PRINTER_STATES, fresh)
                printed = run.completion.transfer.receipt_printed
                # ESC/POS has no acknowledgement: noise can eat a receipt the
                # driver sent whole. Counted, not hidden (the EJ keeps the record).
                if printed:
                    try:
                        await asyncio.to_thread(printer.wait_receipts, rendered + 1, 2.0)
                    except DeviceTimeoutError:
                        unseen += 1
                states[f"printer:{run.state}:{'printed' if printed else 'no-receipt'}"] += 1
                faults["printer"] += _injected(relay) - before
                runs += 1
            await _clean_again(t, world, "printer", fresh)
    if controller:
        runs += await _controller_runs(
            world, folder, seed, count, rng, fresh, states, faults, rates
        )
    _log.info("serial faults: %d runs, %s", runs, dict(states))
    return {
        "runs": runs,
        "faults": dict(faults),
        "states": dict(states),
        "receipts_sent_but_garbled": unseen,
    }


async def _controller_runs(
    world: World,
    folder: Path,
    seed: int,
    count: int,
    rng: random.Random,
    fresh: dict[str, int],
    states: Counter[str],
    faults: Counter[str],
    rates: tuple[float, ...],
) -> int:
    key = BoardKey.generate()
    with SimController(faults=LinkFaults(seed=seed), multitap_ms=150, retransmit_ms=50) as board:
        with Controller(board.url, key=key) as setup:
            setup.inject_key(key)  # the key ceremony, on a clean line
        relay = board.relay
        async with terminal(
            world, folder / "controller", Profile.ATM, _card, terminal_id="serial-controller",
            controller=(board.url, key.material()),
        ) as t:  # fmt: skip
            label = "controller link reference (clean)"
            run = await drive(t, transfer("pad-ref"), deadline=RUN_DEADLINE, board=board)
            check_run(label, t, world, run, {"SUCCESS"}, fresh)
            for n in range(count):
                faults_now = _rates(rng, seed, rates)
                label = f"controller link {n} at {faults_now.corrupt:.0%} (seed {seed})"
                t.cards.clear()
                before = _injected(relay)
                relay.faults = faults_now
                try:
                    run = await drive(t, transfer(f"pad-{n}"), deadline=RUN_DEADLINE, board=board)
                finally:
                    relay.faults = dataclasses.replace(faults_now, corrupt=0.0, drop=0.0)
                await settle(t, label)
                check_run(label, t, world, run, CONTROLLER_STATES, fresh)
                states[f"controller:{run.state}"] += 1
                faults["controller"] += _injected(relay) - before
            await _clean_again(t, world, "controller", fresh, board)
    return count


async def _clean_again(
    t: Terminal, world: World, link: str, fresh: dict[str, int], board: SimController | None = None
) -> None:
    """Once the line is clean again, the device works again (no reopen, no restart)."""
    label = f"{link} link clean again after the noise"
    t.cards.clear()
    run = await drive(t, transfer(f"{link}-clean"), deadline=RUN_DEADLINE, board=board)
    check_run(label, t, world, run, {"SUCCESS"}, fresh)
    if link == "printer" and not run.completion.transfer.receipt_printed:
        raise ChaosInvariantError(f"{label}: no receipt on a clean line")
