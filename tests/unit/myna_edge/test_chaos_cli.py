# SPDX-License-Identifier: Apache-2.0
"""``myna-edge chaos``: argument checks, seeds reaching scenarios, failures naming the seed."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from myna_edge import chaos
from myna_edge.chaos import ChaosInvariantError
from myna_edge.cli import main

calls: list[tuple[int, int, Path]] = []


def _passing(seed: int, count: int, workdir: Path) -> dict[str, object]:
    calls.append((seed, count, workdir))
    return {"runs": count}


def _failing(seed: int, count: int, workdir: Path) -> dict[str, object]:
    raise ChaosInvariantError("transfer t-7 committed twice")


@pytest.fixture
def fake_scenarios(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("fake_chaos_scenarios")
    module.passing = _passing  # type: ignore[attr-defined]
    module.failing = _failing  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_chaos_scenarios", module)
    monkeypatch.setattr(
        chaos,
        "SCENARIOS",
        {"passing": "fake_chaos_scenarios:passing", "failing": "fake_chaos_scenarios:failing"},
    )
    monkeypatch.setattr("myna_edge.chaos.cli.SCENARIOS", chaos.SCENARIOS)
    calls.clear()


def test_every_registered_scenario_is_importable() -> None:
    import importlib

    for name, target in chaos.SCENARIOS.items():
        module_name, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module_name), function)), name


def test_seed_count_and_workdir_reach_the_scenario(
    fake_scenarios: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["chaos", "passing", "--seed", "7", "--count", "3", "--workdir", str(tmp_path), "--json"]
    )
    assert code == 0
    assert calls == [(7, 3, tmp_path / "passing")]
    figures = json.loads(capsys.readouterr().out)
    assert figures["seed"] == 7
    assert figures["passing"]["runs"] == 3


def test_failed_invariant_exits_1_and_names_the_seed(
    fake_scenarios: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["chaos", "passing", "failing", "--seed", "11", "--count", "1"])
    assert code == 1
    captured = capsys.readouterr()
    assert "committed twice" in captured.out
    assert "--seed 11" in captured.err
    assert len(calls) == 1  # the passing one still ran


@pytest.mark.parametrize("argv", [["chaos", "nonsense"], ["chaos", "passing", "--count", "0"]])
def test_bad_arguments_exit_2_without_running(
    fake_scenarios: None, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert calls == []
    assert "myna-edge chaos:" in capsys.readouterr().err
