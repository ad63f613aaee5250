# SPDX-License-Identifier: Apache-2.0
"""Command line of ``myna-edge chaos``: pick scenarios, a seed and a count.

Why a separate command from the tests: CI runs each scenario once with a
small count; an operator qualifying a build runs thousands, with a seed that
makes any failure replayable.
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from myna_edge.chaos import SCENARIOS, ChaosInvariantError

__all__ = ["add_parser", "run_chaos"]

Scenario = Callable[[int, int, Path], dict[str, object]]


def add_parser(sub: Any) -> None:
    """Register ``myna-edge chaos``."""
    parser = sub.add_parser(
        "chaos",
        help="run the reliability campaign (crashes, replicas, faults, fuzzing, secrets)",
        description=__doc__,
    )
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help=f"which to run (default: all): {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--count", type=int, default=50, help="size of each scenario (default 50)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep logs and databases here")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(handler=run_chaos)


def _load(name: str) -> Scenario:
    module_name, _, function = SCENARIOS[name].partition(":")
    return cast(Scenario, getattr(importlib.import_module(module_name), function))


def run_chaos(args: argparse.Namespace) -> int:
    """Run the chosen scenarios; exit 1 when any invariant failed."""
    if args.count < 1:
        print("myna-edge chaos: --count must be at least 1", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    names = list(args.scenarios) or list(SCENARIOS)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        print(f"myna-edge chaos: unknown scenario {unknown[0]!r}", file=sys.stderr)
        return 2
    results: dict[str, object] = {"seed": seed, "count": args.count}
    failed = False
    with tempfile.TemporaryDirectory(prefix="myna-chaos-") as scratch:
        root = args.workdir or Path(scratch)
        for name in names:
            workdir = root / name
            workdir.mkdir(parents=True, exist_ok=True)
            started = time.monotonic()
            try:
                figures = _load(name)(seed, args.count, workdir)
            except ChaosInvariantError as exc:
                failed = True
                figures = {"invariant_failed": str(exc)}
            figures["seconds"] = round(time.monotonic() - started, 1)
            results[name] = figures
            if not args.json:
                print(f"{name}: {json.dumps(figures, sort_keys=True)}")
    if args.json:
        print(json.dumps(results, indent=2, sort_keys=True))
    elif failed:
        print(f"myna-edge chaos: invariant failed; replay with --seed {seed}", file=sys.stderr)
    return 1 if failed else 0
