# SPDX-License-Identifier: Apache-2.0
"""Never bricked: power is cut before a flash operation of an update, and the board still boots.

The board starts from 1.2.0 confirmed in slot 1, with the older 1.1.0 still
in slot 0, then receives 1.3.0 (security counter 3) while told to lose power
just before its N-th flash operation (``--power-cut-at N``: a write is torn
in half, then the MicroPython process exits, as it would when the supply
drops). After each cut the board is started again on the same flash: it
must boot a verified image from a slot (old 1.2.0 or new 1.3.0, never an
unverified one and never the factory fallback), answer the host, and then
still take the update to its end with the floor raised to 3.

Which operations are cut (counted in a dry run of this very update, so the
list follows the code): every state change, each once (the staging
metadata, the erase of slot 0's folders and head, the new slot's folders
and head, the boot record's write and rename when the slot is committed,
when the trial is marked and when it confirms, the removal of the staged
image). Of the runs of like operations (about 200 chunk appends to the
staged image, a dozen file removals and a dozen file writes in the slot),
the first, the second, the middle and the last of each are cut: a
deterministic sample that keeps the test near half a minute. With
``MYNA_POWERCUT_ALL=1`` every operation is cut (about 250 runs, minutes;
docs/firmware-updates.md gives the last full sweep).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from host.errors import PeripheralError
from host.firmware import FirmwareError, FirmwareUpdater
from host.peripherals import Controller
from tests.integration.firmware_update_support import board_with_slots, signed_image

OLD = (1, 2, 0)
NEW = (1, 3, 0)


def _family(op: str) -> str | None:
    """The run of like operations ``op`` belongs to (None: a state change of its own)."""
    kind, _, path = op.partition(" ")
    if kind == "write" and path.endswith("/staging.bin"):
        return "append"
    if kind in ("write", "remove") and "/myna_fw/" in path:
        return f"slot-file-{kind}"
    return None


def cut_points(log: list[tuple[int, str]], *, every: bool) -> list[int]:
    """The flash operations to cut: all, or each state change plus a sample of each run."""
    if every:
        return [number for number, _op in log]
    runs: dict[str, list[int]] = {}
    points: set[int] = set()
    for number, op in log:
        family = _family(op)
        if family is None:
            points.add(number)
        else:
            runs.setdefault(family, []).append(number)
    for numbers in runs.values():
        points.update((numbers[0], numbers[1], numbers[len(numbers) // 2], numbers[-1]))
    return sorted(points)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, list[int]]:
    """The starting flash (a template folder), the new image, and the cut points."""
    work = tmp_path_factory.mktemp("powercut")
    template = work / "template"
    with board_with_slots(template) as sim, Controller(sim.url) as board:
        updater = FirmwareUpdater(board)
        updater.apply(signed_image(work / "a", (1, 1, 0), 1))
        updater.apply(signed_image(work / "b", OLD, 2))
        assert sim.boots[-1] == (1, OLD, True)  # then confirmed by the handshake
    new = signed_image(work / "c", NEW, 3)
    # A dry run counts the operations of this very update.
    dry = _copy(template, work / "dry")
    with board_with_slots(dry) as sim, Controller(sim.url) as board:
        FirmwareUpdater(board).apply(new)
        log = sim.flash_log
    families = {_family(op) for _n, op in log}
    assert {"append", "slot-file-write", "slot-file-remove"} <= families, log
    assert sum(1 for _n, op in log if op.startswith("rename")) == 3, log  # commit, trial, confirm
    points = cut_points(log, every=os.environ.get("MYNA_POWERCUT_ALL") == "1")
    return template, new, points


def _copy(template: Path, fs: Path) -> Path:
    shutil.rmtree(fs, ignore_errors=True)
    shutil.copytree(template, fs)
    keys = template.parent / f"{template.name}-keys.bin"
    if keys.exists():
        shutil.copy(keys, fs.parent / f"{fs.name}-keys.bin")
    return fs


def _cut_during_update(fs: Path, image: bytes, point: int) -> None:
    with board_with_slots(fs, power_cut_at=point) as sim:
        # Short timeouts: the host only has to notice that the power is gone.
        with Controller(sim.url, timeout=0.5, retransmit_timeout=0.05) as board:
            updater = FirmwareUpdater(board, commit_timeout=0.5, reboot_timeout=0.3, resumes=0)
            with pytest.raises((FirmwareError, PeripheralError)):
                updater.apply(image)
        sim.wait_until(lambda: sim.power_cut, timeout=5)


def test_cut_points_sample_every_state_change() -> None:
    log = [(1, "write /f/staging.meta")]
    log += [(n, "write /f/staging.bin") for n in range(2, 12)]
    log += [(12, "rmdir /f/slot0"), (13, "write /f/slot0/myna_fw/a.py")]
    log += [(14, "write /f/slot0/myna_fw/b.py"), (15, "rename /f/state")]
    assert cut_points(log, every=False) == [1, 2, 3, 7, 11, 12, 13, 14, 15]
    assert cut_points(log, every=True) == list(range(1, 16))


def test_power_cut_at_every_update_step_leaves_a_bootable_board(
    setup: tuple[Path, bytes, list[int]], tmp_path: Path
) -> None:
    template, new, points = setup
    outcomes: dict[tuple[int, int, int], list[int]] = {OLD: [], NEW: []}
    for point in points:
        fs = _copy(template, tmp_path / f"fs{point}")
        _cut_during_update(fs, new, point)
        # Power back: a verified slot boots and talks; the update then completes.
        with board_with_slots(fs) as sim, Controller(sim.url) as board:
            booted = sim.boots[0]
            assert booted.slot in (0, 1), (point, booted)
            assert booted.version in (OLD, NEW), (point, booted)
            assert board.echo(b"alive") == b"alive"
            updater = FirmwareUpdater(board)
            status = updater.status()
            outcomes[status.version].append(point)
            if status.version != NEW or status.trial:
                updater.apply(new)
            final = updater.status()
            assert (final.version, final.trial, final.floor) == (NEW, False, 3), point
        shutil.rmtree(fs)
    # Early cuts keep the old image, those after the trial's start the new one.
    assert outcomes[OLD], outcomes
    assert outcomes[NEW], outcomes
