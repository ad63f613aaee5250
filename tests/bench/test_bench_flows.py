# SPDX-License-Identifier: Apache-2.0
"""The flows bench suite: figures present, ratios in range, exact card-command counts."""

from __future__ import annotations

from myna_edge.bench_flows import MINIMUM_COMMANDS, flows_suite


def test_suite_reports_shares_and_exact_counts() -> None:
    report = flows_suite(1)
    for kind in ("transfer", "reading"):
        figures = report[kind]
        assert isinstance(figures, dict)
        assert 0 < figures["software_share_of_total"] < 1
        assert figures["modelled_card_ms"] > 0
        assert figures["minimum_commands"] == MINIMUM_COMMANDS[kind]
    # exact counts: a driver change that adds or saves a command shows here
    assert report["transfer"]["card_commands"] == 15  # type: ignore[index]
    assert report["reading"]["card_commands"] == 23  # type: ignore[index]
    assert isinstance(report["agent_start_ms"], float)
