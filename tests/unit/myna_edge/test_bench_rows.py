# SPDX-License-Identifier: Apache-2.0
"""The report's rows: no row without a baseline; missing suites and paths say why."""

from __future__ import annotations

import pytest

from myna_edge.bench.rows import Row, build_rows, flow_split_rows

_READERS = {
    "pcsc": "unavailable: pcscd is not installed",
    "libnfc": {
        "baseline_bare_libnfc_us": 50.0,
        "transport_over_bare_libnfc": 1.1,
        "auth_certificate": {"apdus": 7, "bytes": 1057, "read_binaries": 5},
    },
}


def test_a_row_must_name_its_baseline() -> None:
    with pytest.raises(ValueError, match="names no baseline"):
        Row("card", "per-APDU time", 1.2, "  ", "median")


def test_an_unavailable_path_gives_a_row_that_says_why() -> None:
    rows = build_rows({"readers": _READERS})
    pcsc = [row for row in rows if "pcsc" in row.area]
    assert len(pcsc) == 1
    assert pcsc[0].ratio is None
    assert pcsc[0].measured == "unavailable: pcscd is not installed"
    libnfc = [row for row in rows if "libnfc" in row.area]
    assert [row.ratio for row in libnfc] == [1.1, round(7 / 3, 2)]
    assert libnfc[0].baseline == "bare libnfc transceive loop (50.0 µs)"
    assert libnfc[1].baseline == "protocol minimum (3 APDUs)"


def test_a_failed_suite_is_one_row_and_unknown_suites_none() -> None:
    rows = build_rows({"verifier": "failed: RuntimeError: boom", "nonsense": {"x": 1}})
    assert rows == [Row("verifier", "the whole suite", None, "its own baselines",
                        "failed: RuntimeError: boom")]  # fmt: skip


def test_latency_rows_give_p50_and_p99_against_the_baseline() -> None:
    latency = {
        "sim": {
            "baseline": "engine",
            "samples_per_series": 40,
            "baseline_p50_us": 5.0,
            "baseline_p99_us": 7.0,
            "transport": {
                "p50_us": 9.0,
                "p99_us": 14.0,
                "p50_over_baseline": 1.8,
                "p99_over_baseline": 2.0,
            },
        },
        "link": "unavailable: micropython is not installed",
    }
    rows = build_rows({"latency": latency})
    assert [(r.figure, r.ratio, r.baseline) for r in rows[:2]] == [
        ("transport: p50 per call", 1.8, "engine (5.0 µs)"),
        ("transport: p99 per call", 2.0, "engine (7.0 µs)"),
    ]
    assert rows[2].ratio is None
    assert rows[2].area == "latency distribution: link"


def test_flow_split_rows_skip_entries_without_a_split() -> None:
    flows = {
        "rounds": 3,
        "transfer": {"mean_wall_ms": 15.0, "time_split_share_of_wall": {"card": 0.5}},
        "agent_process": {"rss_mb": 60.0},
    }
    assert flow_split_rows(flows) == [("transfer", 15.0, {"card": 0.5})]
    assert flow_split_rows("failed: boom") == []


def test_counter_rows_name_the_minimum_the_run_measured_against() -> None:
    """Issue 21's rows; a stored report's rows rebuild with that run's own minimum."""
    counter = {
        "software_ms": 6.0,
        "modelled_card_ms": 440.0,
        "software_share_of_total": 0.0135,
        "card_commands": 17,
        "minimum_commands": 14,
        "commands_vs_minimum": 1.21,
    }
    old_transfer = {**counter, "card_commands": 8, "minimum_commands": 8, "commands_vs_minimum": 1}
    rows = build_rows({"flows": {"counter_with_pin": counter, "transfer": old_transfer}})
    by_figure = {row.figure: row for row in rows}
    commands = by_figure["counter_with_pin: card commands"]
    assert (commands.ratio, commands.baseline, commands.measured) == (
        1.21,
        "protocol minimum (14 commands)",
        "17 commands",
    )
    assert (
        by_figure["counter_with_pin: software share of the total (target ≤ 0.05)"].ratio == 0.0135
    )
    assert by_figure["transfer: card commands"].baseline == "protocol minimum (8 commands)"


def test_issuance_rows_name_their_baselines_and_what_dominates() -> None:
    """Issue 14's rows, from a stored figure set: the flow, render + sign, throughput."""
    flow = {
        "software_ms": 600.0,
        "modelled_card_ms": 570.0,
        "software_share_of_total": 0.5128,
        "terminal_software_ms": 20.0,
        "terminal_software_share_of_total": 0.0339,
        "card_commands": 8,
        "minimum_commands": 8,
        "commands_vs_minimum": 1.0,
        "time_split_ms": {"card": 5.0, "link": 0.0, "verifier": 580.0, "host": 15.0},
    }
    document = {"pairs": 6, "unsigned_render_ms": 440.0, "render_and_sign_ms": 452.0,
                "render_and_sign_over_unsigned": 1.027}  # fmt: skip
    run = {
        "issuance": {"per_second": 2.1, "p50_ms": 470.0},
        "verify_card": {"per_second": 700.0},
        "issuance_over_verify_card": 0.003,
        "mean_ms_per_call": {"open_session": 2.0, "prove_card": 3.0,
                             "request_document": 460.0, "confirm_printed": 3.0},
    }  # fmt: skip
    figures = {"issue_flow": flow, "document": document, "throughput": {"blocks": 3, "1": run}}
    by_figure = {row.figure: row for row in build_rows({"issuance": figures})}
    assert by_figure["issue: card commands"].baseline == "protocol minimum (8 commands)"
    share = by_figure["issue: software share of the total (target ≤ 0.05)"]
    assert share.ratio == 0.5128
    assert "payment and printing excluded" in share.baseline
    assert "580.0 ms" in share.measured
    assert by_figure["issue: terminal software share, centre's calls left out"].ratio == 0.0339
    render = by_figure["document render + sign (issue_document)"]
    assert render.ratio == 1.027
    assert render.baseline.startswith("fpdf2 rendering the same page with an unsigned code (440.0")
    one = by_figure["issuance throughput (4 calls per document), 1 in flight"]
    assert one.ratio == 0.003
    assert "(700.0 calls/s)" in one.baseline
    assert "dominant: request_document 460.0 ms/call" in one.measured
    assert len(build_rows({"issuance": {"rounds": 1}})) == 0  # nothing measured, no rows
