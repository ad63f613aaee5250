# SPDX-License-Identifier: Apache-2.0
"""Never bricked: power is cut before each flash operation of an update, and the board still boots.

The board starts from a confirmed 1.1.0 in slot 0 with a 1.2.0 staged from
slot 1's earlier life (so the install also has to erase an old slot), then
receives 1.3.0 while told to lose power just before its N-th flash
operation (``--power-cut-at N``: a write is torn in half, then the
MicroPython process exits, as it would when the supply drops). After each
cut the board is started again on the same flash: it must boot a verified
image from a slot (old 1.2.0 or new 1.3.0, never an unverified one and never
the factory fallback), answer the host, and then still take the update to
its end. Every operation outside the bulk transfer is a cut point (begin,
the install's erase/mkdir/write steps, the boot record's renames, the trial
mark, the confirmation); of the ~200 identical chunk appends, the first, the
second, the middle and the last are.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from host.errors import PeripheralError
from host.firmware import FirmwareError, FirmwareUpdater
from host.peripherals import Controller
from tests.integration.firmware_update_support import board_with_slots, signed_image

OLD = (1, 2, 0)
NEW = (1, 3, 0)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, list[int]]:
    """The starting flash (a template folder), the new image, and the cut points."""
    work = tmp_path_factory.mktemp("powercut")
    template = work / "template"
    with board_with_slots(template) as sim, Controller(sim.url) as board:
        updater = FirmwareUpdater(board)
        updater.apply(signed_image(work / "a", (1, 1, 0), 1))
        updater.apply(signed_image(work / "b", OLD, 2))
        assert sim.boots[-1] == (1, OLD, True)
    new = signed_image(work / "c", NEW, 3)
    # A dry run counts the operations of this very update.
    dry = _copy(template, work / "dry")
    with board_with_slots(dry) as sim, Controller(sim.url) as board:
        FirmwareUpdater(board).apply(new)
        log = sim.flash_log
    appends = [n for n, op in log if op.startswith("write") and op.endswith("/staging.bin")]
    others = [n for n, op in log if n not in appends]
    points = sorted({*others, appends[0], appends[1], appends[len(appends) // 2], appends[-1]})
    assert len(others) >= 30, log  # begin, erase, install, record, trial, confirm
    return template, new, points


def _copy(template: Path, fs: Path) -> Path:
    shutil.rmtree(fs, ignore_errors=True)
    shutil.copytree(template, fs)
    keys = template.parent / f"{template.name}-keys.bin"
    if keys.exists():
        shutil.copy(keys, fs.parent / f"{fs.name}-keys.bin")
    return fs


def test_power_cut_at_every_update_step_leaves_a_bootable_board(
    setup: tuple[Path, bytes, list[int]], tmp_path: Path
) -> None:
    template, new, points = setup
    outcomes: dict[tuple[int, int, int], int] = {}
    import time
    for point in points:
        t0 = time.monotonic()
        fs = _copy(template, tmp_path / f"fs{point}")
        with board_with_slots(fs, power_cut_at=point) as sim:
            # Short timeouts: the host only has to notice that the power is gone.
            with Controller(sim.url, timeout=0.5, retransmit_timeout=0.05) as board:
                updater = FirmwareUpdater(
                    board, commit_timeout=0.5, reboot_timeout=0.3, resumes=0
                )
                with pytest.raises((FirmwareError, PeripheralError)):
                    updater.apply(new)
            sim.wait_until(lambda sim=sim: sim.power_cut, timeout=5)
        t1 = time.monotonic()
        # Power back: a verified slot boots and talks; the update then completes.
        with board_with_slots(fs) as sim, Controller(sim.url) as board:
            booted = sim.boots[0]
            assert booted.slot in (0, 1) and booted.version in (OLD, NEW), (point, booted)
            assert board.echo(b"alive") == b"alive"
            updater = FirmwareUpdater(board)
            version = updater.status().version
            outcomes[version] = outcomes.get(version, 0) + 1
            if version != NEW or updater.status().trial:
                updater.apply(new)
            final = updater.status()
            assert (final.version, final.trial, final.floor) == (NEW, False, 3), point
        print("POINT", point, sim.flash_log and "", round(t1 - t0, 2), round(time.monotonic() - t1, 2), version)
    # Early cuts keep the old image, late ones (after the trial) the new one.
    assert outcomes.get(OLD, 0) > 0 and outcomes.get(NEW, 0) > 0, outcomes
