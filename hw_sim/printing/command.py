# SPDX-License-Identifier: Apache-2.0
"""The print engine's job-processing program (``ippeveprinter -c``), with faults.

``ippeveprinter`` runs this once per document: ``command.py FILE``, with its
own environment, standard error read line by line. A line ``STATE: +KEYWORD``
or ``STATE: -KEYWORD`` adds or removes a printer-state-reasons keyword (the
CUPS filter convention), and a non-zero exit status aborts the job. Without
a command ``ippeveprinter`` "prints" by sleeping 5–15 s, far too slow.

What to do with the next job is one word in the control folder's
``next-job`` file (``MYNA_PRINT_ENGINE_CONTROL``), consumed by the job that
reads it (``PrintEngine.arm`` writes it):

==================  ==========================================================
``abort``           report ``media-jam`` and fail: the job is aborted mid-print
``hang``            never finish, until ``release`` appears, the engine
                    stops, or ``_HANG_LIMIT`` seconds pass (a bounded wait)
``hold``            like ``hang``, but ``release`` lets the job print (a
                    test or the demo keeps the "printing" screen up)
``state:+K,-K``     set or clear printer-state-reasons ``K`` (control jobs)
==================  ==========================================================
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Final

__all__ = ["CONTROL_ENV", "NEXT_JOB", "RELEASE", "main"]

#: Even a hung job ends: nothing the harness starts may outlive a test run.
_HANG_LIMIT: Final = 60.0
_POLL: Final = 0.05
CONTROL_ENV: Final = "MYNA_PRINT_ENGINE_CONTROL"
NEXT_JOB: Final = "next-job"
RELEASE: Final = "release"


def _take_instruction(control: Path) -> str:
    """Read and remove the instruction for this job (empty: print normally)."""
    path = control / NEXT_JOB
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return ""
    path.unlink(missing_ok=True)
    return text


def _hang(control: Path, *, released_prints: bool = False) -> int:
    parent = os.getppid()
    deadline = time.monotonic() + _HANG_LIMIT
    while time.monotonic() < deadline:
        if (control / RELEASE).exists():
            return 0 if released_prints else 1  # a released hung job did not print
        if os.getppid() != parent:
            break
        time.sleep(_POLL)
    return 1


def main(argv: list[str]) -> int:
    """Process one job; returns the exit status ippeveprinter sees."""
    control = Path(os.environ.get(CONTROL_ENV, "."))
    instruction = _take_instruction(control)
    if instruction == "abort":
        print("STATE: +media-jam", file=sys.stderr, flush=True)
        return 1
    if instruction == "hang":
        return _hang(control)
    if instruction == "hold":
        return _hang(control, released_prints=True)
    if instruction.startswith("state:"):
        for change in instruction.removeprefix("state:").split(","):
            print(f"STATE: {change}", file=sys.stderr, flush=True)
        return 0
    if len(argv) < 2 or not Path(argv[1]).is_file():
        print(f"ERROR: no document in {argv[1:]}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover - run by ippeveprinter
    sys.exit(main(sys.argv))
