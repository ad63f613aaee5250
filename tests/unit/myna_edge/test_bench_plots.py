# SPDX-License-Identifier: Apache-2.0
"""The plots from made-up figures: valid PNGs with content, or None without data."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from PIL import Image

from myna_edge.bench.latency import LatencySet
from myna_edge.bench.plots import plot_apdus, plot_flow_split, plot_latency, plot_throughput
from tests.prerequisites import missing_prerequisite


@pytest.fixture(autouse=True)
def _matplotlib() -> None:
    if importlib.util.find_spec("matplotlib") is None:
        missing_prerequisite("the bench extra (matplotlib) is not installed")


def _check_png(path: Path | None) -> None:
    assert path is not None
    with Image.open(path) as image:
        assert image.format == "PNG"
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 16)
        assert colours is not None
        assert len(colours) >= 16


def test_latency_plot(tmp_path: Path) -> None:
    sets: dict[str, LatencySet | str] = {
        "sim": LatencySet("sim", "bare", {"bare": [1.0, 2.0, 3.0] * 10, "ours": [2.0, 3.0] * 15}),
        "pcsc": "unavailable: no pcscd",
    }
    _check_png(plot_latency(sets, tmp_path / "l.png"))
    assert plot_latency({"pcsc": "unavailable"}, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_throughput_plot(tmp_path: Path) -> None:
    runs = {
        f"{kind}_{n}": {"per_second": rate * n}
        for kind, rate in (("echo", 100.0), ("verify_card", 40.0), ("authorize_transfer", 30.0))
        for n in (1, 2, 4)
    }
    _check_png(plot_throughput({"runs": runs}, tmp_path / "t.png"))
    assert plot_throughput({}, tmp_path / "none.png") is None


def test_flow_split_plot(tmp_path: Path) -> None:
    split = {"card": 5.0, "link": 0.5, "verifier": 4.0, "host": 6.0}
    flows = {"rounds": 1, "transfer": {"time_split_ms": split, "modelled_card_ms": 500.0}}
    _check_png(plot_flow_split(flows, tmp_path / "f.png"))
    assert plot_flow_split({"rounds": 1}, tmp_path / "none.png") is None


def test_apdu_plot(tmp_path: Path) -> None:
    _check_png(plot_apdus([("auth cert", 3, 3), ("auth cert, OpenSC", 11, 3)], tmp_path / "a.png"))
    assert plot_apdus([], tmp_path / "none.png") is None
