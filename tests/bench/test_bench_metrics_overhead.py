# SPDX-License-Identifier: Apache-2.0
"""``myna_edge.bench.metrics``: the metrics on/off comparison is smoke-run with tiny sizes.

The figures themselves come from ``myna-edge bench verifier`` (goal: on >=
0.97x off); here only that the run completes and reports what it should,
so it cannot rot.
"""

from __future__ import annotations

from myna_edge.bench.metrics import metrics_overhead


def test_metrics_overhead_reports_both_sides() -> None:
    report = metrics_overhead(1, repeats=1)
    assert report["runs_each"] == 1
    for key in (
        "verify_per_second_metrics_off_at_32",
        "verify_per_second_metrics_on_at_32",
        "verify_metrics_on_vs_off_at_32",
        "verify_metrics_on_vs_off_at_32_vs_echo",
    ):
        value = report[key]
        assert isinstance(value, float)
        assert value > 0
