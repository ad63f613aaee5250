# SPDX-License-Identifier: Apache-2.0
"""Hostile input: coverage-guided fuzzing of every parser at a boundary.

Why: every byte that crosses a boundary (card, reader, serial line, network,
config file) is written by someone we do not control. The campaign runs each
target of the harness table (``targets`` for the parsers, ``grpc_targets``
for every RPC of both gRPC services) under libFuzzer through atheris, a
forked process per target, ``count`` executions each, seeded. Each run
first replays the committed corpus (``tests/chaos/corpus/<target>/``: seeds
recorded from the real stack plus every crasher ever found), then mutates,
guided by the branches of ``host``, ``hw_sim`` and ``verifier`` (one worker
process imports them once, instrumented, and forks a child per target). New
interesting inputs are kept in ``<workdir>/corpus/<target>/`` (CI stores that
folder), crashes in ``<workdir>/crashes/``. A crash is any exception other
than the target's documented typed errors, a gRPC status outside the
documented refusals, or a refusal that changed state.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Final

from myna_edge.chaos import ChaosInvariantError
from myna_edge.chaos.fuzz.targets import PARSER_TARGETS, Target

__all__ = [
    "CORPUS_DIR",
    "HARNESS_FAILED",
    "all_targets",
    "replay_corpus",
    "run_scenario",
    "run_targets",
]

_log = logging.getLogger(__name__)

#: Exit code of a worker's child whose harness could not be built (a set-up
#: failure, not a crash). Defined here, where it is read: the worker imports
#: this module anyway (for ``all_targets``), so the two never import each other.
HARNESS_FAILED: Final = 71
#: The committed corpus (seeds and crashers), one folder per target.
CORPUS_DIR: Final = Path(__file__).resolve().parents[3] / "tests" / "chaos" / "corpus"
#: The longest input libFuzzer makes (a certificate transcript is ~4 KiB).
MAX_LEN: Final = 8192
#: Wall-clock cap of one worker, whatever ``count`` says (the loop is bounded).
MAX_SECONDS_PER_TARGET: Final = 300
_STAT = re.compile(r"^stat::(\w+):\s*(\d+)", re.MULTILINE)
_COVERAGE = re.compile(r"cov: (\d+) ft: (\d+)")


def all_targets() -> dict[str, Target]:
    """Every target: the parsers and every RPC of both gRPC services."""
    from myna_edge.chaos.fuzz.grpc_targets import GRPC_TARGETS

    return {**PARSER_TARGETS, **GRPC_TARGETS}


def replay_corpus(target: Target, folder: Path, workdir: Path) -> int:
    """Run every file of ``folder`` through ``target`` in this process; return how many.

    Raises:
        ChaosInvariantError: an input broke the contract (names the file).
    """
    files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    with ExitStack() as stack:
        harness = target.build(stack, workdir)
        for path in files:
            try:
                harness(path.read_bytes())
            except ChaosInvariantError as exc:
                raise ChaosInvariantError(f"{target.name}: {path.name}: {exc}") from exc
            except Exception as exc:
                raise ChaosInvariantError(
                    f"{target.name}: {path.name} raised {type(exc).__name__}: {exc}"
                ) from exc
    return len(files)


def _plan_item(name: str, seed: int, count: int, workdir: Path) -> dict[str, object]:
    corpus = workdir / "corpus" / name
    corpus.mkdir(parents=True, exist_ok=True)
    (workdir / "work" / name).mkdir(parents=True, exist_ok=True)  # workers run side by side
    (workdir / "crashes").mkdir(parents=True, exist_ok=True)
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    committed = CORPUS_DIR / name
    args = [
        f"-runs={count}", f"-seed={seed}", f"-max_len={MAX_LEN}", "-timeout=30",
        f"-max_total_time={MAX_SECONDS_PER_TARGET}", "-print_final_stats=1",
        f"-artifact_prefix={workdir / 'crashes'}/{name}-", str(corpus),
        *([str(committed)] if committed.is_dir() else []),
    ]  # fmt: skip
    return {
        "target": name, "workdir": str(workdir / "work" / name), "args": args,
        "log": str(workdir / "logs" / f"{name}.log"), "seconds": MAX_SECONDS_PER_TARGET + 30,
    }  # fmt: skip


def _figures(name: str, result: list[float], workdir: Path, before: set[Path]) -> dict[str, object]:
    code, seconds = int(result[0]), result[1]
    log = workdir / "logs" / f"{name}.log"
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    stats = {key: int(value) for key, value in _STAT.findall(text)}
    coverage = _COVERAGE.findall(text)
    # libFuzzer names each artifact "<prefix><kind>-<sha1>", and the prefix is
    # "<target>-": attribute a crash to the target that found it, not to all.
    mine = re.compile(rf"^{re.escape(name)}-(crash|timeout|oom|leak|slow-unit)-")
    new = set((workdir / "crashes").iterdir()) - before
    found = sorted(str(p) for p in new if mine.match(p.name))
    if code == HARNESS_FAILED:
        raise ChaosInvariantError(f"the harness of {name} could not be built; see {log}")
    if code != 0 and not found:
        raise ChaosInvariantError(f"fuzz worker for {name} failed ({code}); see {log}")
    committed = CORPUS_DIR / name
    corpus = workdir / "corpus" / name
    return {
        "executions": stats.get("number_of_executed_units", 0),
        "new_inputs": stats.get("new_units_added", 0),
        "corpus_files": sum(1 for p in corpus.iterdir() if p.is_file()),
        "committed_corpus": sum(1 for p in committed.iterdir()) if committed.is_dir() else 0,
        "coverage": int(coverage[-1][0]) if coverage else 0,
        "features": int(coverage[-1][1]) if coverage else 0,
        "seconds": seconds,
        "crashes": found,
    }


def run_targets(
    names: list[str], seed: int, count: int, workdir: Path, *, workers: int = 0
) -> dict[str, dict[str, object]]:
    """Fuzz ``names`` for ``count`` executions each; their figures by name.

    The targets are dealt round-robin to ``workers`` worker processes that run
    side by side (0: one per CPU, at most four). Each worker imports the
    instrumented code once and forks a child per target, so the campaign's
    wall time shrinks with the cores while each target's seed stays the one
    its place in ``names`` gives it.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    # libFuzzer takes seed 0 as "random": derive a non-zero seed per target.
    plan = [
        _plan_item(n, (seed + i) % (2**31 - 1) + 1, count, workdir) for i, n in enumerate(names)
    ]
    shards = max(1, min(workers or min(os.cpu_count() or 1, 4), len(plan)))
    crashes = workdir / "crashes"
    crashes.mkdir(parents=True, exist_ok=True)
    before = set(crashes.iterdir())
    root = str(CORPUS_DIR.parents[2])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    started = time.monotonic()
    codes: dict[str, list[float]] = {}
    with ExitStack() as stack:
        running: list[tuple[subprocess.Popen[bytes], Path, Path]] = []
        for shard in range(shards):
            plan_path = workdir / f"plan-{shard}.json"
            plan_path.write_text(json.dumps(plan[shard::shards]), encoding="utf-8")
            log = workdir / "logs" / f"worker-{shard}.log"
            out = stack.enter_context(log.open("wb"))
            process = subprocess.Popen(  # noqa: S603 - our own worker module
                [sys.executable, "-m", "myna_edge.chaos.fuzz.worker", str(plan_path)],
                stdout=out, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
            stack.callback(_reap, process)
            running.append((process, plan_path, log))
        deadline = time.monotonic() + len(plan[::shards]) * (MAX_SECONDS_PER_TARGET + 60)
        for process, plan_path, log in running:
            try:
                process.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise ChaosInvariantError("a fuzz worker did not stop") from None
            results_path = Path(f"{plan_path}.results")
            if process.returncode != 0 or not results_path.exists():
                raise ChaosInvariantError(
                    f"a fuzz worker failed ({process.returncode}); see {log}: {_tail(log)}"
                )
            codes.update(json.loads(results_path.read_text(encoding="utf-8")))
    figures = {name: _figures(name, codes[name], workdir, before) for name in names}
    _log.info(
        "fuzzed %d targets in %d workers in %.1f s", len(names), shards, time.monotonic() - started
    )
    return figures


def _tail(log: Path, lines: int = 15) -> str:
    """The end of a worker's log, for the error CI shows (tmp folders are reaped)."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _reap(process: subprocess.Popen[bytes]) -> None:
    """Kill a worker still running when the campaign stops early (bounded loop)."""
    if process.poll() is None:
        process.kill()
        process.wait()


def run_scenario(seed: int, count: int, workdir: Path) -> dict[str, object]:
    """Fuzz every target for ``count`` executions; raise when any crashed."""
    started = time.monotonic()
    targets = run_targets(list(all_targets()), seed, count, workdir)
    crashes = [c for t in targets.values() for c in t["crashes"]]  # type: ignore[attr-defined]
    figures: dict[str, object] = {
        "seed": seed,
        "targets": len(targets),
        "executions_per_target": count,
        "executions": sum(int(t["executions"]) for t in targets.values()),  # type: ignore[call-overload]
        "crashes": len(crashes),
        "seconds": round(time.monotonic() - started, 1),
        "corpus": str(workdir / "corpus"),
        "per_target": targets,
    }
    if crashes:
        raise ChaosInvariantError(f"fuzzing found {len(crashes)} crash(es): {crashes}")
    return figures
