# SPDX-License-Identifier: Apache-2.0
"""``myna-edge chaos faults``: the fault matrix over every flow.

Why a matrix: each fault has its own dangerous moment, and each flow has its
own state to lose. For card reading, the PIN reset in both directions and
the ATM transfer, the matrix pulls the card before and after every card
command (``card``; an iPhone transfer too, issue 15), corrupts and drops
bytes on the controller and printer links (``serial``), makes the verifier
slow beyond the client's deadline, silent, refusing and absent at seeded
byte positions (``net``), and fills the journal's disk at every prompt
(``disk``). Every run is driven through the terminal API and must end in a
defined state within a bounded time, with the failure shown to the UI, no
PIN try spent that the user did not spend, and the journal and the
verifier's ledger in agreement (``check``); the first broken promise raises
``ChaosInvariantError`` naming the run and its seed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from myna_edge.chaos.faults.card import sweep_card_pulls
from myna_edge.chaos.faults.disk import DiskUnavailableError, disk_full
from myna_edge.chaos.faults.net import verifier_faults
from myna_edge.chaos.faults.serial import serial_faults
from myna_edge.chaos.faults.world import World

__all__ = ["run_scenario"]

_log = logging.getLogger(__name__)


def run_scenario(seed: int, count: int, workdir: Path) -> dict[str, object]:
    """Run the whole matrix; about ``count`` faulted runs per fault kind.

    The card-pull sweep is always complete (every command of every flow,
    before and after). The verifier faults run ``ceil(count / 4)`` times per
    flow (the fault modes in turn), the disk fills as often and at least
    once at every prompt, and each serial link gets ``ceil(count / 6)``
    faulted transfers.

    Returns JSON-able figures: runs and faults per kind, end states reached
    (counts per flow and state), PIN tries spent wrongly and records lost
    (both 0, or the run raised), seconds per kind.

    Raises:
        ChaosInvariantError: a promise broke (the text names flow, fault and seed).
        MicroPythonMissingError: no MicroPython unix port for the controller link.
    """
    return asyncio.run(_matrix(seed, max(count, 1), workdir))


async def _matrix(seed: int, count: int, workdir: Path) -> dict[str, object]:
    world = World.start(workdir / "world")
    kinds: dict[str, dict[str, object]] = {}
    try:
        kinds["card_pull"] = await _timed(sweep_card_pulls(world, workdir / "card"))
        per_flow, per_link = -(-count // 4), -(-count // 6)
        kinds["serial"] = await _timed(serial_faults(world, workdir / "serial", seed, per_link))
        kinds["verifier"] = await _timed(verifier_faults(world, workdir / "net", seed, per_flow))
        try:
            kinds["disk_full"] = await _timed(disk_full(world, workdir / "disk", seed, per_flow))
        except DiskUnavailableError as exc:
            kinds["disk_full"] = {"runs": 0, "not_run": str(exc)}
    finally:
        world.close()
    runs = sum(int(str(k.get("runs", 0))) for k in kinds.values())
    _log.info("fault matrix: %d runs", runs)
    return {
        "runs": runs,
        "kinds": kinds,
        # Every run compared the card's counters and the ledger; a mismatch raised.
        "pin_tries_spent_wrongly": 0,
        "records_lost": 0,
    }


async def _timed(work: Coroutine[Any, Any, dict[str, object]]) -> dict[str, object]:
    started = time.monotonic()
    figures = await work
    figures["seconds"] = round(time.monotonic() - started, 1)
    return figures
