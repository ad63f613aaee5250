# SPDX-License-Identifier: Apache-2.0
"""``make demo`` sets up what the demo shows on a fresh Debian machine (issue 12.4, 12.5).

The receipts' Japanese needs the font file the renderer loads, and
``myna-edge readers`` (listed in the README after ``make demo``) needs the
reader backends in the demo's venv. ``make -n`` shows the recipe without
running it: the Debian step with the demo's list, and the venv with the
``readers`` extra. The demo's list is a subset of the tests' list, so CI
(which runs ``make test``) has every package it names. A reader build that
fails (not root) leaves the venv unmarked, so the next ``make demo`` retries.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

from hw_sim.devices.escpos_render import CJK_FONT
from tests.prerequisites import missing_prerequisite

ROOT = Path(__file__).resolve().parents[3]
DEMO_LIST = ROOT / "scripts" / "debian-packages-demo.txt"
TEST_LIST = ROOT / "scripts" / "debian-packages.txt"


def _packages(path: Path) -> set[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {line.split()[0] for line in lines if line.strip() and not line.startswith("#")}


def _dry_run(tmp_path: Path) -> str:
    if shutil.which("make") is None:
        missing_prerequisite("make")
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "demo", f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return result.stdout


def test_make_demo_installs_the_demo_packages_and_the_reader_backends(tmp_path: Path) -> None:
    recipe = _dry_run(tmp_path)
    lines = recipe.splitlines()
    debs = lines.index("scripts/install-debian-packages.sh scripts/debian-packages-demo.txt")
    installs = [i for i, line in enumerate(lines) if " install " in line and ".[demo" in line]
    assert installs
    assert debs < installs[0], "the Debian packages come before pip builds pyscard"
    assert any("'.[demo,readers,printing]'" in lines[i] for i in installs)
    assert lines[-1].endswith("myna-edge demo")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    readers = extras["optional-dependencies"]["readers"]
    assert any(r.startswith("pyscard") for r in readers)
    assert any(p.startswith("pycups") for p in extras["optional-dependencies"]["printing"])


def _make_venv_marker(tmp_path: Path, *, readers_build: bool) -> subprocess.CompletedProcess[str]:
    """Run the demo venv's recipe with a stand-in pip whose readers install fails or not."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    (venv / "bin" / "python").touch()  # the venv exists: make does not create it
    pip = tmp_path / "pip"
    pip.write_text(f'#!/bin/sh\ncase "$*" in *readers*) exit {0 if readers_build else 1};; esac\n')
    pip.chmod(0o755)
    return subprocess.run(
        ["make", f"{venv}/.installed", f"VENV={venv}", f"PIP={pip}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip


def test_a_failed_reader_build_is_retried_by_the_next_make_demo(tmp_path: Path) -> None:
    # Not root on a fresh machine: pyscard cannot build. The demo goes on, says
    # what to do, and leaves the venv unmarked so that after `make debs-demo`
    # the next `make demo` installs the reader backends.
    if shutil.which("make") is None:
        missing_prerequisite("make")
    failed = _make_venv_marker(tmp_path, readers_build=False)
    assert "as root: make debs-demo, then make demo" in " ".join(failed.stderr.split())
    assert not (tmp_path / "venv" / ".installed").exists()
    _make_venv_marker(tmp_path, readers_build=True)
    assert (tmp_path / "venv" / ".installed").exists()


def test_the_demo_packages_bring_the_receipt_font_and_are_in_the_test_list() -> None:
    demo = _packages(DEMO_LIST)
    assert demo <= _packages(TEST_LIST)
    assert {"fonts-unifont", "pcscd", "libpcsclite-dev", "swig", "gcc"} <= demo
    if shutil.which("dpkg") is None:
        missing_prerequisite("dpkg (a Debian machine)")
    owner = subprocess.run(
        ["dpkg", "-S", CJK_FONT], capture_output=True, text=True, timeout=30, check=False
    )
    if owner.returncode != 0:
        missing_prerequisite(f"{CJK_FONT} is not installed (install fonts-unifont)")
    package = owner.stdout.split(":", 1)[0]
    assert package in demo, f"the renderer's font comes from {package}"
