# SPDX-License-Identifier: Apache-2.0
"""The flows bench suite: figures present, ratios in range, exact card-command counts."""

from __future__ import annotations

import os

import pytest

from myna_edge.bench.flows import FOOTPRINT_TARGETS, MINIMUM_COMMANDS, PRESENTED, flows_suite
from myna_edge.bench.report import apdu_counts
from myna_edge.bench.rows import build_rows


@pytest.fixture(scope="module")
def report() -> dict[str, object]:
    return flows_suite(1, idle_seconds=0.3)


def test_suite_reports_shares_and_exact_counts(report: dict[str, object]) -> None:
    for kind in ("transfer", "reading"):
        figures = report[kind]
        assert isinstance(figures, dict)
        assert 0 < figures["software_share_of_total"] < 1
        assert figures["modelled_card_ms"] > 0
        assert figures["minimum_commands"] == MINIMUM_COMMANDS[kind]
    # exact counts: a driver change that adds or saves a command shows here;
    # the transfer is at its minimum (the AP selected once: host.card.selection)
    assert report["transfer"]["card_commands"] == 10  # type: ignore[index]
    assert report["reading"]["card_commands"] == 18  # type: ignore[index]
    assert isinstance(report["agent_start_ms"], float)


def test_phone_transfers_against_their_minimum(report: dict[str, object]) -> None:
    """Issue 15: Android and iPhone transfers, card commands vs minimum and software share."""
    for kind, profile, minimum in (
        ("transfer_android", "android-default", 12),
        ("transfer_iphone", "iphone-default", 11),
    ):
        figures = report[kind]
        assert isinstance(figures, dict)
        assert PRESENTED[kind] == profile
        assert figures["minimum_commands"] == MINIMUM_COMMANDS[kind] == minimum
        assert 0 < figures["software_share_of_total"] < 1
        assert figures["modelled_card_ms"] > 0
        assert figures["time_split_ms"]["card"] > 0
        assert figures["time_split_ms"]["verifier"] > 0  # the phone's signature was checked
    # exact counts: the minimum plus the phone DF names tried before the label (the
    # label/AID cross-check: Android answers the first, an iPhone the second); the
    # JPKI AP, selected last to read the label, is never selected again
    assert report["transfer_android"]["card_commands"] == 13  # type: ignore[index]
    assert report["transfer_iphone"]["card_commands"] == 13  # type: ignore[index]


def test_phone_rows_reach_the_report(report: dict[str, object]) -> None:
    labels = [row.figure for row in build_rows({"flows": report})]
    for kind in ("transfer_android", "transfer_iphone"):
        assert f"{kind}: card commands" in labels
        assert f"{kind}: software share of the total (target ≤ 0.05)" in labels
    counted = {label for label, _, _ in apdu_counts({"flows": report})}
    assert {"transfer android flow", "transfer iphone flow"} <= counted


def test_counter_check_against_its_minimum(report: dict[str, object]) -> None:
    """Issue 21: the counter read's commands and software share, with and without the PIN."""
    for kind, minimum in (("counter", 14), ("counter_with_pin", 22)):
        figures = report[kind]
        assert isinstance(figures, dict)
        assert figures["minimum_commands"] == MINIMUM_COMMANDS[kind] == minimum
        # at the minimum: the tries read before the staff prompt are not read again
        assert figures["card_commands"] == minimum, kind
        assert figures["commands_vs_minimum"] == 1
        assert 0 < figures["software_share_of_total"] < 1
        split = figures["time_split_ms"]
        assert split["card"] > 0
        assert (split["verifier"] > 0) is (kind == "counter_with_pin")  # only the PIN calls it


def test_agent_process_footprint_is_measured_from_proc(report: dict[str, object]) -> None:
    agent = report["agent_process"]
    assert isinstance(agent, dict)
    assert agent["exit_code_on_sigterm"] == 0  # it answered, then stopped cleanly on SIGTERM
    assert agent["ready_ms"] > 0
    assert agent["start_cpu_s"] > 0  # the interpreter's start-up shows in /proc
    assert 0 <= agent["idle_cpu_percent"] <= 100
    assert agent["idle_cpu_resolution_percent"] > 0
    assert 10 < agent["rss_mb"] <= agent["peak_rss_mb"]
    assert abs(agent["rss_over_target"] * FOOTPRINT_TARGETS["rss_mb"] - agent["rss_mb"]) < 0.2
    assert agent["targets"] == FOOTPRINT_TARGETS
    if os.environ.get("CI") == "true":
        assert "controller firmware" in agent["devices"]
