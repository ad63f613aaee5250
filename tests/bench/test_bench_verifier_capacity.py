# SPDX-License-Identifier: Apache-2.0
"""The capacity model: its arithmetic, and a smoke run of its bounded load test.

The model is checked for what it must be whatever the assumptions: each
RPC's peak is the sum over flows of the flow's rate times the RPC's count
in it. The load test is run with the smallest size so it cannot rot; its
p99 against the SLO is a figure in the report, never asserted here.
"""

from __future__ import annotations

import pytest

from myna_edge.bench.capacity import FLOWS, SLO_P99_MS, capacity_suite, national_peak


def test_each_rpc_peak_is_the_sum_of_its_flows() -> None:
    peak = national_peak()
    flows, calls = peak["flows_per_s"], peak["calls_per_s"]
    assert set(flows) == set(FLOWS)
    for rpc, rate in calls.items():
        expected = sum(flows[flow] * FLOWS[flow].get(rpc, 0) for flow in FLOWS)
        assert rate == pytest.approx(expected, abs=0.05)
    assert calls["OpenSession"] > calls["AuthorizeTransfer"] > 0


def test_the_suite_offers_the_scaled_peak_and_reports_each_rpc() -> None:
    report = capacity_suite(1)
    test = report["load_test"]
    assert isinstance(test, dict)
    assert set(test["rpcs"]) == {"OpenSession", "VerifyCard", "AuthorizeTransfer", "CommitTransfer"}
    assert report["failures"] == 0
    assert test["calls"] == sum(run["calls"] for run in test["rpcs"].values()) > 0
    assert test["server_cpu_us_per_call"] > 0
    assert 0 < report["scale_of_national_peak"] <= 1  # type: ignore[operator]
    assert report["cores_needed"] > 0  # type: ignore[operator]
    assert report["slo_p99_ms"] == SLO_P99_MS
    assert test["store"] in {"postgresql", "sqlite"}
