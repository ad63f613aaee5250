# SPDX-License-Identifier: Apache-2.0
"""The machine description: read from /proc and the installed distributions."""

from __future__ import annotations

import importlib.metadata
import os
import platform

from myna_edge.bench.machine import PYTHON_PACKAGES, load_average, machine_info


def test_machine_info_describes_this_machine() -> None:
    info = machine_info()
    assert info["cores"] == os.cpu_count()
    assert 1 <= info["cores_usable"] <= info["cores"]  # type: ignore[operator]
    assert isinstance(info["ram_gib"], float)
    assert info["ram_gib"] > 0
    assert info["kernel"] == f"{platform.system()} {platform.release()}"
    assert info["python"].endswith(platform.python_version())  # type: ignore[union-attr]
    versions = info["versions"]
    assert isinstance(versions, dict)
    assert set(PYTHON_PACKAGES) <= set(versions)
    assert versions["grpcio"] == importlib.metadata.version("grpcio")
    assert versions["cryptography"] == importlib.metadata.version("cryptography")


def test_load_average_has_three_figures() -> None:
    figures = load_average()
    assert len(figures) == 3
    assert all(x >= 0 for x in figures)
