# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench link``: the serial link's figures and a signed firmware update over it.

Why one suite: issue 17 asks for the update time next to the link it runs
over. The link figures are ``hw_sim.devices.bench.link_suite`` (ratios to a
bare pty echo and to the 115,200-baud wire time); the update figures are
``myna_edge.firmware.bench_suite`` (a whole update of the current firmware,
signed by the TEST key, against the wire time of the same frames, and the
board-side signature check under the MicroPython unix port).
"""

from __future__ import annotations

from hw_sim.devices.bench import link_suite as _serial_link_suite
from myna_edge.firmware import bench_suite as _firmware_update_suite

__all__ = ["FIRMWARE_ROUNDS_MAX", "link_suite"]

#: A whole update takes a fresh board per round; a few rounds give a stable median.
FIRMWARE_ROUNDS_MAX = 3


def link_suite(rounds: int) -> dict[str, object]:
    """The link's round-trip and bulk figures, plus ``firmware_update``."""
    figures = _serial_link_suite(rounds)
    figures["firmware_update"] = _firmware_update_suite(max(1, min(rounds, FIRMWARE_ROUNDS_MAX)))
    return figures
