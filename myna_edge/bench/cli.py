# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench``: the command over the suites of ``myna_edge.bench``.

``myna-edge bench`` alone runs every suite and writes the report folder
(``bench-report/``, or ``--out DIR``: table, plots, raw JSON; see
``myna_edge.bench.report``), because the issue asks for one command that
measures everything. Naming suites keeps the quick check: their figures are
printed (``--json`` for JSON) and nothing is written unless ``--out`` is given.

Real devices (``--reader``, ``--controller``, ``--printer``), ``bench
calibrate`` and ``--timing FILE`` are ``myna_edge.bench.hil.cli``'s.

Why apart from the workloads: the report imports the workloads (through
``bench.latency``), so the command that writes the report sits above both;
in one module, workloads and report imported each other.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from hw_sim.card.timing_profile import TimingProfileError
from myna_edge import bench

__all__ = ["add_parser", "run_bench"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``bench``."""
    parser = sub.add_parser("bench", help="measure the stack (ratios against same-run baselines)")
    parser.add_argument(
        "suites",
        nargs="*",
        metavar="SUITE",
        help=f"suites to run (default: all, and write the report): {', '.join(bench.SUITES)}",
    )
    parser.add_argument("--rounds", type=int, default=30, help="timing rounds (default 30)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help=f"write the report (table, plots, JSON) here; default {bench.DEFAULT_REPORT_DIR}/ "
        "when no suite is named, none otherwise",
    )
    from myna_edge.bench.hil.cli import add_arguments  # imported when used, as before

    add_arguments(parser)
    parser.set_defaults(handler=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    """Run the chosen suites and print their figures."""
    if args.rounds < 1:
        print("myna-edge bench: --rounds must be at least 1", file=sys.stderr)
        return 2
    from myna_edge.bench.hil.cli import hil_requested, run_hil_command, timing_context

    if hil_requested(args):
        return run_hil_command(args)
    try:
        with timing_context(args):
            return _run_sim_suites(args)
    except TimingProfileError as exc:
        print(f"myna-edge bench: --timing: {exc}", file=sys.stderr)
        return 2


def _run_sim_suites(args: argparse.Namespace) -> int:
    unknown = [name for name in args.suites if name not in bench.SUITES]
    if unknown:
        print(f"myna-edge bench: unknown suite(s) {', '.join(unknown)}", file=sys.stderr)
        return 2
    if args.out is not None or not args.suites:
        return _write_report(args)
    report: dict[str, object] = {}
    for name in args.suites:
        module_name, _, function = bench.SUITES[name].partition(":")
        suite = getattr(importlib.import_module(module_name), function)
        report[name] = suite(args.rounds)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        _print_tree(report, indent=0)
    return 0


def _write_report(args: argparse.Namespace) -> int:
    from myna_edge.bench.report import write_report

    folder: Path = args.out if args.out is not None else bench.DEFAULT_REPORT_DIR
    report = write_report(folder, args.suites or list(bench.SUITES), args.rounds)
    if args.json:
        print(json.dumps(report.figures, indent=2, ensure_ascii=False))
    else:
        print(report.markdown.read_text(encoding="utf-8"))
    print(
        f"myna-edge bench: wrote {report.markdown} ({len(report.rows)} rows, "
        f"{len(report.plots)} plots)",
        file=sys.stderr,
    )
    for name, why in report.failures.items():
        print(f"myna-edge bench: suite {name} {why}", file=sys.stderr)
    return 1 if report.failures else 0


def _print_tree(node: object, indent: int) -> None:
    assert isinstance(node, dict)
    for key, value in node.items():
        label = " " * indent + str(key).replace("_", " ")
        if isinstance(value, dict):
            print(f"{label}:")
            _print_tree(value, indent + 2)
        else:
            print(f"{label}: {value}")
