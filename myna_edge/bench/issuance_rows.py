# SPDX-License-Identifier: Apache-2.0
"""The report's rows for ``myna-edge bench issuance`` (issue 14).

Why apart from ``bench.issuance``: ``bench.rows`` imports the row builders
of every suite, and the suite module imports the centre, the municipality
and the MFP flow; a report rebuilt from a stored ``report.json`` needs none
of them. Each row names its same-run baseline (``bench.row.Row``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from myna_edge.bench.row import Row

__all__ = ["issuance_rows"]

_FLOW_AREA = "terminal flows (agent software, sim card)"
_AREA = "certificate issuance (centre + municipality, grpc.aio, mTLS, SQLite)"


def _flow(flow: Mapping[str, Any]) -> Iterator[Row]:
    overlapped = "request_hidden_by_payment_ms" in flow
    excluded = (
        "payment and printing device time excluded (measured at the ports)"
        if overlapped
        else "payment and printing excluded (instant ports)"
    )
    behind = (
        f"; the request ({flow['request_ms']} ms) ran {flow['request_hidden_by_payment_ms']} ms"
        f" of it while the fee went in ({flow['payment_device_ms']} ms modelled)"
        if overlapped
        else ""
    )
    yield Row(
        _FLOW_AREA,
        "issue: card commands",
        flow["commands_vs_minimum"],
        f"protocol minimum ({flow['minimum_commands']} commands)",
        f"{flow['card_commands']} commands",
    )
    yield Row(
        _FLOW_AREA,
        "issue: software share of the total (target ≤ 0.05)",
        flow["software_share_of_total"],
        f"software + card time modelled at 106 kbit/s ({flow['modelled_card_ms']} ms); {excluded}",
        f"software {flow['software_ms']} ms (median), of which awaiting the centre"
        f" {flow['time_split_ms']['verifier']} ms (mean; the municipality renders the PDF)"
        + behind,
    )
    yield Row(
        _FLOW_AREA,
        "issue: terminal software share, centre's calls left out",
        flow["terminal_software_share_of_total"],
        f"the same total without the centre's calls; {excluded}",
        f"terminal software {flow['terminal_software_ms']} ms",
    )


def issuance_rows(f: Mapping[str, Any]) -> Iterator[Row]:
    """The issue flow's rows, render + sign, and issuance throughput against VerifyCard."""
    flow, document, throughput = f.get("issue_flow"), f.get("document"), f.get("throughput")
    if isinstance(flow, dict):
        yield from _flow(flow)
    if isinstance(document, dict):
        yield Row(
            _AREA,
            "document render + sign (issue_document)",
            document["render_and_sign_over_unsigned"],
            f"fpdf2 rendering the same page with an unsigned code ({document['unsigned_render_ms']}"
            " ms), interleaved",
            f"{document['render_and_sign_ms']} ms (median of {document['pairs']})",
        )
    if not isinstance(throughput, dict):
        return
    for level in sorted((k for k in throughput if k.isdigit()), key=int):
        run = throughput[level]
        issuance, verify, steps = run["issuance"], run["verify_card"], run["mean_ms_per_call"]
        slowest = max(steps, key=steps.__getitem__)
        yield Row(
            _AREA,
            f"issuance throughput (4 calls per document), {level} in flight",
            run["issuance_over_verify_card"],
            f"VerifyCard on the same centre, blocks taking turns ({verify['per_second']} calls/s)",
            f"{issuance['per_second']} documents/s, p50 {issuance['p50_ms']} ms; dominant:"
            f" {slowest} {steps[slowest]} ms/call (callers in the servers' process)",
        )
