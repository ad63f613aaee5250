# SPDX-License-Identifier: Apache-2.0
"""Latency sets: nearest-rank percentiles and ratios to the baseline's own percentiles."""

from __future__ import annotations

import pytest

from myna_edge.bench.latency import PATHS, LatencySet, percentile


def test_percentile_is_nearest_rank() -> None:
    samples = [float(x) for x in range(1, 101)]  # 1..100
    assert percentile(samples, 0.5) == 50.0
    assert percentile(samples, 0.99) == 99.0
    assert percentile(samples, 1.0) == 100.0
    assert percentile([3.0], 0.99) == 3.0


def test_summary_divides_by_the_baseline_series() -> None:
    found = LatencySet("sim", "bare", {"bare": [1.0, 2.0, 3.0], "ours": [2.0, 4.0, 6.0]})
    summary = found.summary()
    assert summary["baseline"] == "bare"
    assert summary["samples_per_series"] == 3
    assert summary["baseline_p50_us"] == 2.0
    assert summary["ours"] == {
        "p50_us": 4.0, "p99_us": 6.0, "p50_over_baseline": 2.0, "p99_over_baseline": 2.0,
    }  # fmt: skip
    assert "bare" not in summary  # the baseline is not its own row


def test_the_sim_path_runs_here() -> None:
    found = PATHS["sim"](1)
    assert found.baseline == "virtual card engine (direct)"
    assert list(found.series) == [
        "virtual card engine (direct)", "sim:// transport", "host APDU stack over sim://",
    ]  # fmt: skip
    assert all(len(samples) == 40 for samples in found.series.values())
    assert all(x > 0 for samples in found.series.values() for x in samples)


@pytest.mark.parametrize("path", ["sim", "pcsc", "libnfc", "link"])
def test_every_path_is_registered(path: str) -> None:
    assert callable(PATHS[path])
