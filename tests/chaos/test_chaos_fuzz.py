# SPDX-License-Identifier: Apache-2.0
"""Hostile input: the committed corpus replays clean, and a bounded seeded campaign finds nothing.

Why both: the corpus replay (every seed and every crasher ever found, run
in-process through the same harness table) is the regression suite and costs
well under a second per target; the campaign runs libFuzzer (atheris) on
every target with coverage guidance, as ``myna-edge chaos fuzz`` does with
a bigger count, and keeps what it found under the workdir for CI to store.
The tests also prove the oracle can fail: an untyped exception, a status
outside the documented refusals and a refusal that wrote a row are caught,
and a bug planted in a parser of the worker process is reported as a crash.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import grpc
import pytest

from myna_edge.chaos import ChaosInvariantError
from myna_edge.chaos.fuzz import targets as ft
from myna_edge.chaos.fuzz.campaign import (
    CORPUS_DIR,
    all_targets,
    replay_corpus,
    run_scenario,
    run_targets,
)
from myna_edge.chaos.fuzz.grpc_targets import REFUSALS, _judge, _unchanged
from myna_edge.chaos.fuzz.seeds import write_seeds
from tests.prerequisites import missing_prerequisite

#: Executions per target in CI, after each target's committed corpus is replayed
#: (about 80 targets; `myna-edge chaos fuzz --count N` runs any size).
CI_COUNT = 500
CI_SEED = 20261127
TARGETS = all_targets()


def _need_atheris() -> None:
    if importlib.util.find_spec("atheris") is None:
        missing_prerequisite("atheris is not installed (pip install atheris)")


def test_every_target_has_a_committed_corpus() -> None:
    folders = {p.name for p in CORPUS_DIR.iterdir() if p.is_dir()}
    assert folders == set(TARGETS)
    empty = [name for name in TARGETS if not any((CORPUS_DIR / name).iterdir())]
    assert not empty


def test_the_seed_recorder_covers_every_target(tmp_path: Path) -> None:
    assert write_seeds(tmp_path) >= len(TARGETS)
    assert {p.name for p in tmp_path.iterdir()} == set(TARGETS)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_committed_corpus_replays_clean(name: str, tmp_path: Path) -> None:
    assert replay_corpus(TARGETS[name], CORPUS_DIR / name, tmp_path) >= 1


def test_crashers_found_so_far_are_kept_as_regressions() -> None:
    crashers = sorted(p.name for p in CORPUS_DIR.glob("*/*crash-*"))
    # The undecodable-request finding (UNKNOWN instead of INVALID_ARGUMENT), one per server.
    assert any(c.startswith("verifier_") for c in crashers)
    assert any(c.startswith("terminal_") for c in crashers)


def test_an_untyped_exception_in_a_parser_is_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(raw: bytes) -> object:
        raise KeyError("planted")

    monkeypatch.setattr(ft, "parse_basic_four", broken)
    target = TARGETS["host_card_files"]
    with pytest.raises(ChaosInvariantError, match="raised KeyError"):
        replay_corpus(target, CORPUS_DIR / target.name, tmp_path)


def test_statuses_outside_the_refusals_are_crashes() -> None:
    request = object()
    for code in REFUSALS:
        _judge("M", request, code, "")  # type: ignore[arg-type]
    for code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL):
        with pytest.raises(ChaosInvariantError, match=code.name):
            _judge("M", request, code, "")  # type: ignore[arg-type]
    with pytest.raises(ChaosInvariantError, match="undecodable"):
        _judge("M", None, grpc.StatusCode.UNKNOWN, "")


def test_a_refusal_that_writes_a_row_is_a_crash() -> None:
    rows = {"sessions": 1, "idempotency": 0, "transfers": 0, "identity_verifications": 0,
            "reservations": 0}  # fmt: skip
    remembered = {**rows, "idempotency": 1}
    _unchanged("M", grpc.StatusCode.NOT_FOUND, rows, remembered)
    with pytest.raises(ChaosInvariantError):
        _unchanged("M", grpc.StatusCode.INVALID_ARGUMENT, rows, remembered)
    with pytest.raises(ChaosInvariantError):
        _unchanged("M", grpc.StatusCode.NOT_FOUND, rows, {**rows, "transfers": 1})


_PLANTED_BUG = """
import host.peripherals.escpos as escpos
real = escpos.parse_status

def parse_status(offline, paper):
    if {condition}:
        raise KeyError("planted")
    return real(offline, paper)

escpos.parse_status = parse_status
"""


@pytest.mark.parametrize(
    ("condition", "where"),
    [("True", "replay"), ("offline == 0xAB", "mutation")],  # no corpus input starts AB
)
def test_the_campaign_reports_a_planted_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, condition: str, where: str
) -> None:
    _need_atheris()
    # The worker process imports this before anything else: a parser with a bug.
    plant = tmp_path / "plant" / "sitecustomize.py"
    plant.parent.mkdir()
    plant.write_text(_PLANTED_BUG.replace("{condition}", condition), encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(plant.parent))
    # Two workers side by side; the crash is the printer parser's alone.
    figures = run_targets(
        ["host_printer_status", "host_link_frames"], CI_SEED, 5000, tmp_path / "work", workers=2
    )
    crashes = figures["host_printer_status"]["crashes"]
    assert isinstance(crashes, list)
    assert crashes, "the planted bug was not found"
    assert figures["host_link_frames"]["crashes"] == [], "a crash was blamed on the wrong target"
    if where == "mutation":  # libFuzzer kept the input that crashed
        assert Path(crashes[0]).read_bytes()[0] == 0xAB
    assert "KeyError" in (tmp_path / "work" / "logs" / "host_printer_status.log").read_text()


def test_bounded_campaign_finds_no_crash(tmp_path: Path) -> None:
    _need_atheris()
    # CI points this at a folder it uploads: the new corpus, crashes and logs.
    workdir = Path(os.environ.get("MYNA_EDGE_FUZZ_WORKDIR") or tmp_path)
    figures = run_scenario(CI_SEED, CI_COUNT, workdir)
    per_target = figures["per_target"]
    assert isinstance(per_target, dict)
    assert figures["targets"] == len(TARGETS) == len(per_target)
    assert figures["crashes"] == 0
    assert int(figures["executions"]) >= CI_COUNT * len(TARGETS)  # type: ignore[call-overload]
    blind = [name for name, t in per_target.items() if not t["coverage"]]
    assert not blind, f"no coverage feedback for {blind}"
    (workdir / "figures.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")
