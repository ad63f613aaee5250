# SPDX-License-Identifier: Apache-2.0
"""The fault matrix in CI sizes: card pulls, link noise, a failing verifier, a full disk.

The same functions ``myna-edge chaos faults`` runs, against the real
verifier (mTLS, SQLite), real agents on 127.0.0.1 driven through the
terminal API, the real firmware under MicroPython behind a noisy pty, and a
real tmpfs. Each function raises ``ChaosInvariantError`` on the first
broken promise; the figures they return are asserted here so a matrix that
silently ran nothing fails too.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from myna_edge.chaos import SCENARIOS
from myna_edge.chaos.faults.card import FLOWS, PULL_FLOWS, sweep_card_pulls
from myna_edge.chaos.faults.disk import disk_full
from myna_edge.chaos.faults.net import verifier_faults
from myna_edge.chaos.faults.scenario import run_scenario
from myna_edge.chaos.faults.serial import serial_faults
from myna_edge.chaos.faults.world import World
from tests.integration.controller_support import require_micropython
from tests.prerequisites import missing_prerequisite

FLOW_NAMES = {spec.name for spec in FLOWS}
PULL_NAMES = {spec.name for spec in PULL_FLOWS}  # and an iPhone transfer (issue 15)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    started = World.start(tmp_path_factory.mktemp("faults-world"))
    yield started
    started.close()


def _per_flow(states: object) -> dict[str, set[str]]:
    assert isinstance(states, dict)
    flows: dict[str, set[str]] = {}
    for key in states:
        flow, _, state = str(key).partition(":")
        flows.setdefault(flow, set()).add(state)
    return flows


def test_card_pulled_before_and_after_every_command(world: World, tmp_path: Path) -> None:
    figures = asyncio.run(sweep_card_pulls(world, tmp_path))
    commands = figures["commands"]
    assert isinstance(commands, dict)
    assert set(commands) == PULL_NAMES == FLOW_NAMES | {"transfer-iphone"}
    assert all(n >= 5 for n in commands.values())  # select, read, verify, sign... at least
    assert figures["runs"] == 2 * sum(commands.values())  # every index, before and after
    states = figures["states"]
    assert isinstance(states, dict)
    assert sum(states.values()) == figures["runs"]
    assert _per_flow(states) == {name: {"DEVICE_NOT_READY/card_removed"} for name in PULL_NAMES}


def test_verifier_slow_silent_refusing_and_absent(world: World, tmp_path: Path) -> None:
    figures = asyncio.run(verifier_faults(world, tmp_path, seed=7, count=3))
    assert figures["runs"] == len(FLOWS) * 4
    assert figures["faults"] == {
        k: len(FLOWS) for k in ("slow", "blackhole", "refuse", "unreachable")
    }
    flows = _per_flow(figures["states"])
    assert set(flows) == FLOW_NAMES
    for states in flows.values():
        assert "DEVICE_NOT_READY/service_unavailable" in states  # at least the dead port


def test_controller_and_printer_links_corrupted_and_dropped(world: World, tmp_path: Path) -> None:
    require_micropython()
    figures = asyncio.run(serial_faults(world, tmp_path, seed=3, count=2, rates=(0.05, 0.1)))
    assert figures["runs"] == 4
    faults = figures["faults"]
    assert isinstance(faults, dict)
    assert faults["printer"] > 0
    assert faults["controller"] > 0
    assert set(_per_flow(figures["states"])) == {"printer", "controller"}


def test_journal_disk_filled_at_every_prompt(world: World, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        missing_prerequisite("mounting a tmpfs for the journal needs root (CI runs as root)")
    figures = asyncio.run(disk_full(world, tmp_path, seed=5, count=4))
    assert figures["runs"] >= len(FLOWS) * 4  # at least once at every prompt
    assert figures["faults"] == figures["runs"]
    flows = _per_flow(figures["states"])
    assert set(flows) == FLOW_NAMES
    assert all("HARDWARE_ERROR/storage_error" in states for states in flows.values())
    assert not any(line.split()[1] == str(tmp_path / "disk") for line in _mounts())


def _mounts() -> list[str]:
    return Path("/proc/mounts").read_text(encoding="ascii").splitlines()


def test_scenario_is_registered() -> None:
    module, function = SCENARIOS["faults"].split(":")
    assert getattr(importlib.import_module(module), function) is run_scenario
