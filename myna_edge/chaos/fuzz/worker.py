# SPDX-License-Identifier: Apache-2.0
"""libFuzzer (atheris) runs of the fuzz targets, one forked child per target.

Why a fork per target: libFuzzer's ``Fuzz()`` runs once per process and
ends it with ``exit()``, and importing the project under atheris' coverage
instrumentation costs seconds. This worker imports (and instruments) once,
then forks a child per target: the child points its stdout/stderr at the
target's log, builds the harness (servers included) and fuzzes; the parent
waits for it with a deadline and kills it by PID when it overruns. The
project's packages are instrumented, so mutations are guided by the
branches of our parsers, not only by chance.

Usage: ``python -m myna_edge.chaos.fuzz.worker PLAN.json`` where the plan is
a list of ``{"target", "workdir", "args", "log", "seconds"}``; each target's
``[exit code, seconds]`` goes to ``PLAN.json.results``.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from contextlib import ExitStack
from pathlib import Path
from typing import Any

__all__ = ["main"]

#: Packages whose branches guide the fuzzer.
INSTRUMENTED = ["host", "hw_sim", "verifier", "municipal"]


def _child(item: dict[str, Any], targets: dict[str, Any], atheris: Any) -> None:
    log = os.open(item["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    stack = ExitStack()  # resources live until libFuzzer ends the process
    harness = targets[item["target"]].build(stack, Path(item["workdir"]))
    atheris.Setup([sys.argv[0], *item["args"]], harness)
    atheris.Fuzz()


def _wait(pid: int, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return -int(signal.SIGKILL)


def main(argv: list[str]) -> int:
    """Fuzz every target of the plan ``argv[1]``; write the exit codes beside it."""
    # Optional (the test extra): only the campaign needs it; untyped, hence Any.
    atheris: Any = importlib.import_module("atheris")

    plan_path = Path(argv[1])
    plan: list[dict[str, Any]] = json.loads(plan_path.read_text(encoding="utf-8"))
    with atheris.instrument_imports(include=INSTRUMENTED):
        # Lazily, and from the campaign (which never imports this worker): inside the
        # instrumentation, so the project's modules are imported instrumented.
        from myna_edge.chaos.fuzz.campaign import HARNESS_FAILED, all_targets

        targets = all_targets()  # imports the gRPC servers too, instrumented
    results: dict[str, list[float]] = {}
    for item in plan:
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child ends in libFuzzer's exit()
            try:
                _child(item, targets, atheris)
            except SystemExit:
                # atheris turns a crash into SystemExit; a normal exit lets
                # libFuzzer's exit handler write the crashing input.
                raise
            except BaseException:  # noqa: BLE001 - the harness could not be built
                traceback.print_exc()
                sys.stderr.flush()
                os._exit(HARNESS_FAILED)
            os._exit(HARNESS_FAILED)
        started = time.monotonic()
        code = _wait(pid, float(item["seconds"]))
        results[item["target"]] = [code, round(time.monotonic() - started, 2)]
    Path(f"{plan_path}.results").write_text(json.dumps(results), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
