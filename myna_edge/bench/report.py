# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench`` with no suite named: every suite, then ``bench-report/``.

Why one command: the figures only mean something side by side with their
baselines and the machine they came from, so a single run measures every
suite (``myna_edge.bench.SUITES``) and writes, into one folder:

- ``README.md``: the machine, one table row per ratio (each naming the
  baseline measured in the same run), the flows' time split, the plots;
- ``report.json``: every suite's raw figures, the machine, the rows;
- PNG plots (``myna_edge.bench.plots``): latency distributions, verifier
  throughput against concurrency, each flow's time split, APDU counts
  against the protocol minimum. Without matplotlib (the ``bench`` extra)
  the table is still written and the report says the plots were skipped.

A suite that fails is reported in its rows (and the command exits 1); the
others still run, so one missing service does not cost the whole report.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from host.card.constants import MINIMUM_APDUS_PER_FILE
from hw_sim.card.timing import default_link
from myna_edge import bench
from myna_edge.bench import plots as bench_plots
from myna_edge.bench.latency import LatencySet, collect_latency
from myna_edge.bench.machine import load_average, machine_info
from myna_edge.bench.rows import Row, build_rows, flow_split_rows

__all__ = ["Report", "apdu_counts", "render_markdown", "write_report"]

_log = logging.getLogger(__name__)


@dataclass
class Report:
    """What one report run produced."""

    folder: Path
    rounds: int
    figures: dict[str, object] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    plots: dict[str, str] = field(default_factory=dict)  # file name -> caption
    failures: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    machine: dict[str, object] = field(default_factory=dict)
    run: dict[str, object] = field(default_factory=dict)

    @property
    def markdown(self) -> Path:
        """The report's table."""
        return self.folder / "README.md"


def _git(*argv: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(  # noqa: S603 - fixed git subcommands
            ["git", *argv],  # noqa: S607 - read-only plumbing, on PATH
            capture_output=True, text=True, timeout=10, check=False,
            cwd=Path(__file__).resolve().parent,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None


def _commit() -> str:
    """The checked-out commit, marked when tracked files differ from it (never writes the index)."""
    head = _git("rev-parse", "--short", "HEAD")
    if head is None or head.returncode != 0 or not head.stdout.strip():
        return "unknown"
    dirty = _git("diff-index", "--quiet", "HEAD", "--")
    changed = dirty is not None and dirty.returncode == 1
    return head.stdout.strip() + (" + uncommitted changes" if changed else "")


def apdu_counts(figures: dict[str, object]) -> list[tuple[str, int, int]]:
    """(operation, our card commands, protocol minimum) from the suites' exact counts."""
    out: list[tuple[str, int, int]] = []
    card, readers, flows = figures.get("card"), figures.get("readers"), figures.get("flows")
    minimum = MINIMUM_APDUS_PER_FILE  # each read below is one EF
    if isinstance(card, dict):
        cert = card["auth_certificate"]
        out.append(("auth cert, sim:// extended", cert["extended"]["apdus"], minimum))
        out.append(("auth cert, 256-B chunks", cert["chunked_256"]["apdus"], minimum))
    if isinstance(readers, dict):
        for path in ("pcsc", "libnfc"):
            found = readers.get(path)
            if isinstance(found, dict):
                out.append((f"auth cert, {path}://", found["auth_certificate"]["apdus"], minimum))
        pcsc = readers.get("pcsc")
        if isinstance(pcsc, dict) and isinstance(pcsc.get("opensc_auth_certificate"), dict):
            opensc = pcsc["opensc_auth_certificate"]
            out.append(
                ("auth cert, OpenSC (after probing)", opensc["apdus_after_probing"], minimum)
            )
    if isinstance(flows, dict):
        for kind in (
            "transfer",
            "transfer_android",
            "transfer_iphone",
            "reading",
            "counter",
            "counter_with_pin",
        ):
            found = flows.get(kind)
            if isinstance(found, dict):
                label = f"{kind.replace('_', ' ')} flow"
                out.append((label, found["card_commands"], found["minimum_commands"]))
    issue = _issue_flow(figures)
    if issue is not None:
        out.append(("issue flow", issue["card_commands"], issue["minimum_commands"]))
    return out


def _issue_flow(figures: dict[str, object]) -> dict[str, Any] | None:
    """The issue flow's figures (``bench.issuance``), shaped as a ``flows`` kind."""
    issuance = figures.get("issuance")
    found = issuance.get("issue_flow") if isinstance(issuance, dict) else None
    return found if isinstance(found, dict) else None


def _split_flows(figures: dict[str, object]) -> object:
    """The flows tabulated by time split: ``flows``' and the issue flow."""
    flows, issue = figures.get("flows"), _issue_flow(figures)
    if issue is None:
        return flows
    return {**(flows if isinstance(flows, dict) else {}), "issue": issue}


def _run_suites(names: Sequence[str], rounds: int, report: Report) -> dict[str, LatencySet | str]:
    latency: dict[str, LatencySet | str] = {}
    for name in names:
        print(f"myna-edge bench: {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            if name == "latency":  # the samples are kept for the plot
                latency = collect_latency(rounds)
                report.figures[name] = {
                    path: found if isinstance(found, str) else found.summary()
                    for path, found in latency.items()
                }
            else:
                module_name, _, function = bench.SUITES[name].partition(":")
                suite: Callable[[int], dict[str, object]] = getattr(
                    importlib.import_module(module_name), function
                )
                report.figures[name] = suite(rounds)
        except Exception as error:  # noqa: BLE001 - one failed suite must not cost the report
            _log.exception("suite %s failed", name)
            report.failures[name] = f"failed: {type(error).__name__}: {error}"
            report.figures[name] = report.failures[name]
        report.run.setdefault("suite_seconds", {})[name] = round(  # type: ignore[index]
            time.perf_counter() - started, 1
        )
    return latency


def _draw(report: Report, latency: dict[str, LatencySet | str]) -> None:
    if importlib.util.find_spec("matplotlib") is None:
        report.notes.append(
            "Plots skipped: matplotlib is not installed (pip install 'myna-edge[bench]')."
        )
        return
    figures = report.figures
    jobs: list[tuple[str, Callable[[Path], Path | None]]] = [
        ("latency.png", lambda p: bench_plots.plot_latency(latency, p)),
        (
            "throughput.png",
            lambda p: _maybe(figures.get("verifier"), bench_plots.plot_throughput, p),
        ),
        # the issue flow only in the table: its ~0.5 s centre call would flatten the others' bars
        ("flow_split.png", lambda p: _maybe(figures.get("flows"), bench_plots.plot_flow_split, p)),
        ("apdus.png", lambda p: bench_plots.plot_apdus(apdu_counts(figures), p)),
    ]
    for name, draw in jobs:
        if draw(report.folder / name) is not None:
            report.plots[name] = bench_plots.PLOTS[name]
        else:
            report.notes.append(f"{name} not drawn: its suite did not run or had no data.")


def _maybe(data: object, draw: Callable[[Any, Path], Path | None], out: Path) -> Path | None:
    return draw(data, out) if isinstance(data, dict) else None


def write_report(folder: Path, names: Sequence[str], rounds: int) -> Report:
    """Run the suites ``names`` with ``rounds`` and write the report into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    report = Report(folder=folder, rounds=rounds)
    started = time.perf_counter()
    report.run = {
        "started_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _commit(),
        "rounds": rounds,
        "load_average_before": load_average(),
        # Modelled card times come from this model (bench --timing FILE swaps it).
        "card_timing_model": (
            "built-in constants (UNCONFIRMED), 106 kbit/s"
            if default_link().byte_s is None
            else "a measured calibration profile (--timing)"
        ),
    }
    latency = _run_suites(names, rounds, report)
    report.run["load_average_after"] = load_average()
    report.run["seconds"] = round(time.perf_counter() - started, 1)
    report.machine = machine_info()
    report.rows = build_rows(report.figures)
    for stale in (*bench_plots.PLOTS, "report.json"):
        (folder / stale).unlink(missing_ok=True)
    _draw(report, latency)
    (folder / "report.json").write_text(
        json.dumps(
            {
                "run": report.run,
                "machine": report.machine,
                "rows": [asdict(row) for row in report.rows],
                "figures": report.figures,
            },
            indent=1,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    report.markdown.write_text(render_markdown(report), encoding="utf-8")
    return report


#: One line per suite: what is timed against what (the modules' docstrings say more).
_HOW = (
    "card layer: SELECT through the `sim://` transport and the host APDU stack against the "
    "virtual card's engine called directly; certificate reads counted in the card's APDU log.",
    "reader paths: the `pcsc://` transport (pcscd + vpcd) against a bare pyscard "
    "`SCardTransmit` loop, `libnfc://` (libnfc's pn532_uart on a pty) against bare libnfc "
    "transceive, rounds interleaved on the same card; OpenSC's own APDUs for the same read.",
    "latency distributions: the same paths call by call, baseline and ours taking turns in "
    "blocks of 40 calls; p50 and p99 of each against the baseline's own.",
    "serial link: the controller firmware (MicroPython unix port on a pty) against a bare pty "
    "echo of the same bytes, and the computed wire time at 115200 baud.",
    "verifier: VerifyCard and AuthorizeTransfer (SQLite, fsync, group commit) against a bare "
    "gRPC echo server on the same mTLS settings, driven from a separate client process at "
    "1 to 32 calls in flight, targets taking turns in blocks; proof checks against raw "
    "`cryptography` calls.",
    "flows: the transfer, reading and counter-check flows end to end against an in-process "
    "verifier, card "
    "commands against the protocol minimum, the time split by hooks at the card, printer and "
    "verifier ports; the `myna-edge agent` process against the issue's targets.",
    "issuance: the MFP's issue flow against the centre and the reference municipality "
    "(payment and printing instant ports, excluded), `issue_document` against fpdf2 rendering "
    "the same page unsigned, documents per second through the centre (open, prove, request, "
    "confirm printed) against VerifyCard on the same centre, blocks taking turns.",
)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report) -> str:
    """The report's README: machine, table of ratios, flow split, plots."""
    run, machine = report.run, report.machine
    versions = machine.get("versions", {})
    assert isinstance(versions, dict)
    lines = [
        "# myna-edge benchmark report",
        "",
        f"Written by `myna-edge bench` on {run['started_utc']} at commit `{run['commit']}`, "
        f"{run['rounds']} rounds, in {run['seconds']} s. Every ratio is ours ÷ a baseline "
        "measured in the same run on the same machine (or a stated protocol minimum, "
        "computed floor or target): below 1 is faster or fewer, above 1 slower or more; "
        "for throughput, 1 would equal the bare ceiling. Absolute figures are given only "
        "to make the ratios checkable.",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        f"| CPU | {machine['cpu']}, {machine['cores']} cores ({machine['cores_usable']} usable) |",
        f"| RAM | {machine['ram_gib']} GiB |",
        f"| OS, kernel | {machine['os']}, {machine['kernel']} |",
        f"| Python | {machine['python']} |",
        *(f"| {name} | {version} |" for name, version in versions.items()),
        f"| load average before / after (1, 5, 15 min) | {run['load_average_before']} / "
        f"{run['load_average_after']} |",
        f"| modelled card times | {run.get('card_timing_model', 'built-in constants')} |",
        "",
        "A shared machine is noisy: the baselines are measured in the same run, "
        "interleaved with the measured layers where the workloads allow, so noise hits both.",
        "",
        "## How measured",
        "",
        *(f"- {line}" for line in _HOW),
        "",
        "## Figures",
        "",
        "| Area | Figure | Ratio | Baseline (same run) | Measured |",
        "| --- | --- | ---: | --- | --- |",
    ]
    for row in report.rows:
        # every digit the suite kept (":g" cut 4440.922 to 4440.92)
        ratio = "n/a" if row.ratio is None else f"{row.ratio:.12g}"
        cells = (row.area, row.figure, ratio, row.baseline, row.measured)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    split = flow_split_rows(_split_flows(report.figures))
    if split:
        lines += [
            "",
            "## Where a flow's time goes (share of the mean wall time, simulated card)",
            "",
            "| Flow | Mean wall ms | Card | Serial link | Verifier RPCs | Host |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for kind, wall, shares in split:
            parts = " | ".join(f"{shares[p]:.1%}" for p in ("card", "link", "verifier", "host"))
            lines.append(f"| {kind.replace('_', ' ')} | {wall:g} | {parts} |")
        lines += [
            "",
            "Card: inside the transport's transmit (the simulator's engine, RSA included). "
            "Serial link: the receipt printer's serial I/O. Verifier: awaiting its RPCs "
            "(mTLS round trip, server work). Host: the rest (flow machine, journal fsyncs).",
        ]
    if report.plots:
        lines += ["", "## Plots", ""]
        for name, caption in report.plots.items():
            lines += [f"![{caption}]({name})", "", f"*{caption}.*", ""]
    if report.notes or report.failures:
        lines += ["", "## Notes", ""]
        lines += [f"- {note}" for note in report.notes]
        lines += [f"- suite {name}: {why}" for name, why in report.failures.items()]
    seconds = run.get("suite_seconds", {})
    assert isinstance(seconds, dict)
    lines += [
        "",
        "Suite times (s): " + ", ".join(f"{k} {v}" for k, v in seconds.items()) + ". "
        "Raw figures: [report.json](report.json).",
        "",
    ]
    return "\n".join(lines)
