# SPDX-License-Identifier: Apache-2.0
"""The report writer on the quick card suite: a failed suite, no matplotlib, the files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from myna_edge import bench
from myna_edge.bench import report as bench_report
from myna_edge.bench.report import apdu_counts, write_report


def _failing_suite(rounds: int) -> dict[str, object]:
    raise RuntimeError("the rig would not start")


def test_a_failed_suite_is_reported_and_the_rest_still_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert bench.SUITES["verifier"] == "myna_edge.bench.tracing:verifier_suite_with_tracing"
    monkeypatch.setattr("myna_edge.bench.verifier.verifier_suite", _failing_suite)
    report = write_report(tmp_path / "out", ["card", "verifier"], 1)
    assert report.failures == {"verifier": "failed: RuntimeError: the rig would not start"}
    assert [row.figure for row in report.rows if row.ratio is None] == ["the whole suite"]
    assert sum(1 for row in report.rows if row.area.startswith("card layer")) == 5
    markdown = report.markdown.read_text(encoding="utf-8")
    assert "| verifier | the whole suite | n/a | its own baselines |" in markdown
    assert "- suite verifier: failed: RuntimeError: the rig would not start" in markdown
    stored = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert stored["figures"]["verifier"] == report.failures["verifier"]


def test_without_matplotlib_the_table_is_still_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        bench_report.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else real(name, *a),
    )
    out = tmp_path / "out"
    out.mkdir()
    (out / "latency.png").write_bytes(b"stale")  # from an older run: must not survive
    report = write_report(out, ["card"], 1)
    assert report.plots == {}
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "report.json"]
    assert "Plots skipped: matplotlib is not installed" in report.markdown.read_text("utf-8")


def test_apdu_counts_come_from_the_exact_counts() -> None:
    figures: dict[str, object] = {
        "card": {"auth_certificate": {"extended": {"apdus": 3}, "chunked_256": {"apdus": 7}}},
        "readers": {"pcsc": "unavailable", "libnfc": {"auth_certificate": {"apdus": 7}}},
        "flows": {"transfer": {"card_commands": 8, "minimum_commands": 8}},
        "issuance": {"issue_flow": {"card_commands": 9, "minimum_commands": 8}},
    }
    assert apdu_counts(figures) == [
        ("auth cert, sim:// extended", 3, 3),
        ("auth cert, 256-B chunks", 7, 3),
        ("auth cert, libnfc://", 7, 3),
        ("transfer flow", 8, 8),
        ("issue flow", 9, 8),
    ]
    assert apdu_counts({"issuance": "failed: RuntimeError: boom"}) == []


def test_bench_with_no_suite_named_writes_the_default_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from myna_edge.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(bench, "SUITES", {"card": bench.SUITES["card"]})
    assert main(["bench", "--rounds", "1"]) == 0
    folder = tmp_path / bench.DEFAULT_REPORT_DIR
    assert (folder / "README.md").read_text(encoding="utf-8") in capsys.readouterr().out
    stored = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert list(stored["figures"]) == ["card"]
    assert len(stored["rows"]) == 5
