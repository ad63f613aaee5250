# SPDX-License-Identifier: Apache-2.0
"""``myna-edge firmware bench``: the update figures exist and hang together (no timing bounds)."""

from __future__ import annotations

from hw_sim.devices.controller import FIRMWARE_DIR
from myna_edge.firmware import bench_suite
from tests.integration.controller_support import require_micropython


def test_bench_suite_reports_update_wire_and_board_check_figures() -> None:
    require_micropython()
    report = bench_suite(1)
    image_bytes = report["image_bytes"]
    wire_bytes = report["wire_bytes_both_ways"]
    assert isinstance(image_bytes, int)
    assert isinstance(wire_bytes, int)
    assert image_bytes > 10_000  # the whole myna_fw package
    package = FIRMWARE_DIR / "myna_fw"
    assert report["image_files"] == len(list(package.rglob("*.py")))
    # Every image byte crosses the wire once, plus framing, results and ACKs.
    assert image_bytes < wire_bytes < image_bytes * 1.5
    assert report["wire_at_115200_s"] == round(wire_bytes * 10 / 115_200, 3)
    for name in ("update_total_s", "transfer_s", "board_signature_check_ms"):
        value = report[name]
        assert isinstance(value, float)
        assert value > 0, name
