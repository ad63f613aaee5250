# SPDX-License-Identifier: Apache-2.0
"""The firmware type-checks against micropython-rp2-stubs (firmware/mypy.ini).

The same command belongs in ``make lint``; running it here too means a
firmware change that breaks the RP2040 API contract fails the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from tests.prerequisites import missing_prerequisite

ROOT = Path(__file__).resolve().parents[3]


def test_firmware_passes_mypy_against_rp2_stubs(tmp_path: Path) -> None:
    try:
        metadata.distribution("micropython-rp2-stubs")
        metadata.distribution("micropython-stdlib-stubs")
    except metadata.PackageNotFoundError:
        missing_prerequisite("micropython-rp2-stubs and micropython-stdlib-stubs not installed")
    typings = subprocess.run(
        [sys.executable, "firmware/tools/stub_path.py", str(tmp_path / "typings")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert (Path(typings) / "machine.pyi").exists()
    assert (Path(typings) / "stdlib" / "builtins.pyi").exists()
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "firmware/mypy.ini", "firmware"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "MYPY_MP_TYPINGS": typings},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success" in done.stdout
