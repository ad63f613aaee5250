# SPDX-License-Identifier: Apache-2.0
"""The disk under the journal fills up mid-flow.

Why a real tmpfs: SQLite's WAL and the electronic journal's appends must
meet a real ENOSPC, not a mocked exception, and the rest of the machine's
disk must stay untouched. The journal and the electronic journal of an
agent live on a small tmpfs (mounted as root on a temp folder, always
unmounted afterwards); at a seeded prompt of the flow (or before the
command) a filler file takes every free byte, so the next durable write
fails. The flow must stop in a defined state with the failure shown, never
move money it could not journal, and, once the filler is gone and the
agent's recovery ran, journal and verifier must agree.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import random
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from myna_edge.chaos.faults.card import FLOWS
from myna_edge.chaos.faults.check import check_run, settle
from myna_edge.chaos.faults.drive import PullableCard, drive, fresh_pins
from myna_edge.chaos.faults.world import CARD, World, terminal

__all__ = ["DISK_STATES", "DiskUnavailableError", "disk_full", "small_disk"]

_log = logging.getLogger(__name__)
RUN_DEADLINE = 60.0
#: What a run may end in when the journal's disk is full.
DISK_STATES = frozenset({"SUCCESS", "HARDWARE_ERROR/storage_error"})
_SIZE = "4m"


class DiskUnavailableError(RuntimeError):
    """A tmpfs cannot be mounted here (not root, or no mount)."""


@contextlib.contextmanager
def small_disk(folder: Path, size: str = _SIZE) -> Iterator[Path]:
    """Mount a ``size`` tmpfs on ``folder``; always unmounted on the way out.

    Raises:
        DiskUnavailableError: not root, or mount failed.
    """
    if os.geteuid() != 0:
        raise DiskUnavailableError("mounting a tmpfs needs root")
    folder.mkdir(parents=True, exist_ok=True)
    mount = ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder)]
    done = subprocess.run(mount, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise DiskUnavailableError(f"mount failed: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)  # noqa: S603, S607


class Filler:
    """Takes every free byte of a file system, and gives it back."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "filler.bin"
        self.fills = 0

    def fill(self) -> None:
        """Write until ENOSPC."""
        self.fills += 1
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (1 << 16, 512, 1):  # big blocks, then the last crumbs
                try:
                    while os.write(fd, b"\0" * size):
                        pass
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
        finally:
            os.close(fd)

    def free(self) -> None:
        """Remove the filler."""
        self.path.unlink(missing_ok=True)


async def disk_full(world: World, folder: Path, seed: int, count: int) -> dict[str, object]:
    """``count`` runs per flow (at least one per prompt) with the journal's disk filled.

    The moments are: before the command, then at each prompt in turn from a
    seeded offset, so ``count`` > the prompts covers every one.

    Raises:
        DiskUnavailableError: no tmpfs here.
        ChaosInvariantError: a run broke a promise (the text names flow and moment).
    """
    rng = random.Random(seed)  # noqa: S311 - fault positions, not crypto
    fresh = fresh_pins()
    states: Counter[str] = Counter()
    runs = 0

    def card() -> PullableCard:
        return PullableCard(f"sim://{CARD}?persist=0")

    with small_disk(folder / "disk") as disk:
        filler = Filler(disk)
        for spec in FLOWS:
            async with terminal(
                world, disk / spec.name, spec.profile, card, terminal_id=f"disk-{spec.name}"
            ) as t:
                reservation = world.book(spec.booking) if spec.booking else ""
                label = f"disk {spec.name} reference"
                run = await drive(t, spec.request(f"{spec.name}-ref"), deadline=RUN_DEADLINE)
                check_run(label, t, world, run, {"SUCCESS"}, fresh, reservation=reservation)
                prompts = len(run.prompts)
                offset = rng.randrange(prompts + 1)
                for n in range(max(count, prompts + 1)):
                    # 0: before the command, k: at prompt k; count > prompts covers them all
                    at = (offset + n) % (prompts + 1)
                    label = f"disk {spec.name} full at prompt {at}/{prompts} (seed {seed})"
                    seen = 0

                    async def hook(kind: int, nth: int, at: int = at) -> None:
                        nonlocal seen
                        seen += 1
                        if seen == at:
                            filler.fill()

                    t.cards.clear()
                    reservation = world.book(spec.booking) if spec.booking else ""
                    if at == 0:
                        filler.fill()
                    try:
                        rid = f"{spec.name}-full-{n}"
                        run = await drive(t, spec.request(rid), deadline=RUN_DEADLINE, hook=hook)
                    finally:
                        filler.free()
                    await settle(t, label)
                    check_run(label, t, world, run, DISK_STATES, fresh, reservation=reservation)
                    states[f"{spec.name}:{run.state}"] += 1
                    runs += 1
        fills = filler.fills
    _log.info("disk full: %d runs, %s", runs, dict(states))
    return {"runs": runs, "faults": fills, "states": dict(states)}
