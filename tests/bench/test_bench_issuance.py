# SPDX-License-Identifier: Apache-2.0
"""The issuance bench suite (issue 14): the issue flow, render + sign, throughput vs VerifyCard.

No timing is asserted: the figures must be there, add up, and count exactly
what the suite says it ran (card commands, documents, VerifyCard calls).
The suite at one round is also the bench's own check that it cannot rot.
"""

from __future__ import annotations

from typing import Any

import pytest

from myna_edge.bench.issuance import ISSUE_MINIMUM_COMMANDS, issuance_suite
from myna_edge.bench.issuance_rows import issuance_rows

pytestmark = pytest.mark.bench


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return issuance_suite(1)


def test_the_issue_flow_is_at_the_protocol_minimum_and_split(report: dict[str, Any]) -> None:
    flow = report["issue_flow"]
    assert flow["minimum_commands"] == ISSUE_MINIMUM_COMMANDS == 8
    assert flow["card_commands"] == 8  # the proof's 8: a driver change shows here
    assert flow["commands_vs_minimum"] == 1
    assert 0 < flow["terminal_software_share_of_total"] < flow["software_share_of_total"] < 1
    split = flow["time_split_ms"]
    assert split["card"] > 0
    assert split["verifier"] > 0  # the centre's calls (and the municipality's rendering)
    assert split["link"] == 0  # payment and printing are instant ports, excluded
    assert abs(sum(split.values()) - flow["mean_wall_ms"]) < 0.01  # rounding only
    assert "excluded" in flow["payment_and_printing"]


def test_render_and_sign_against_the_unsigned_page(report: dict[str, Any]) -> None:
    document = report["document"]
    assert document["pairs"] == 1
    assert document["unsigned_render_ms"] > 0
    assert document["render_and_sign_ms"] > 0
    ratio = document["render_and_sign_ms"] / document["unsigned_render_ms"]
    assert abs(document["render_and_sign_over_unsigned"] - ratio) < 0.01


def test_throughput_counts_what_it_ran_at_one_and_a_few_in_flight(report: dict[str, Any]) -> None:
    throughput = report["throughput"]
    assert throughput["blocks"] == 1
    for level in (1, 4):
        run = throughput[str(level)]
        assert run["issuance"]["calls"] == level  # one document per caller at one round
        assert run["verify_card"]["calls"] == 40 * level
        ratio = run["issuance"]["per_second"] / run["verify_card"]["per_second"]
        assert run["issuance_over_verify_card"] == pytest.approx(ratio, rel=0.05)
        steps = run["mean_ms_per_call"]
        assert set(steps) == {"open_session", "prove_card", "request_document", "confirm_printed"}
        assert all(value > 0 for value in steps.values())


def test_every_row_of_the_run_names_its_baseline(report: dict[str, Any]) -> None:
    rows = list(issuance_rows(report))
    assert len(rows) == 3 + 1 + 2
    assert all(row.ratio is not None and row.baseline for row in rows)
