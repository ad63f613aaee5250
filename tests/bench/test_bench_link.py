# SPDX-License-Identifier: Apache-2.0
"""Controller-link benchmarks (pytest-benchmark; ``make bench`` prints the table).

Each group has its in-run baseline, a bare pty echo of the same bytes, so
the table shows the firmware path as a ratio to it: a small command's round
trip host -> MicroPython firmware -> host, and a bulk burst of ECHO frames.
The wire time at 115,200 baud of the same bytes is computed exactly (no
timing) and checked against the protocol's frame sizes. Under
``--benchmark-disable`` each body runs once, so the suite cannot rot.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from host.peripherals import Controller
from hw_sim.devices.bench import (
    BULK_PAYLOAD,
    SMALL_PAYLOAD,
    PtyEcho,
    echo_baseline,
    echo_round_trip_bytes,
    firmware_bulk,
    firmware_round_trip,
    firmware_session,
    link_suite,
    wire_seconds,
)
from tests.integration.controller_support import require_micropython

BULK = 50


@pytest.fixture
def echo() -> Iterator[PtyEcho]:
    with echo_baseline() as baseline:
        yield baseline


@pytest.fixture
def board() -> Iterator[Controller]:
    require_micropython()
    with firmware_session() as controller:
        yield controller


def test_frame_sizes_and_wire_time() -> None:
    up, down = echo_round_trip_bytes(SMALL_PAYLOAD)
    # request: COBS(1) + TYPE SEQ LEN + id(4) + payload + CRC(2) + 00; ACK: 7 bytes
    assert up == 1 + 3 + 4 + SMALL_PAYLOAD + 2 + 1 + 7
    assert down == up + 1  # the RESULT carries a status byte
    assert wire_seconds(11_520) == pytest.approx(1.0)


@pytest.mark.benchmark(group="link-round-trip")
def test_round_trip_baseline_pty_echo(benchmark: Any, echo: PtyEcho) -> None:
    up, down = echo_round_trip_bytes(SMALL_PAYLOAD)
    benchmark(echo.round_trip(bytes(up + down)))


@pytest.mark.benchmark(group="link-round-trip")
def test_round_trip_firmware(benchmark: Any, board: Controller) -> None:
    benchmark(firmware_round_trip(board))
    assert board.link.retransmits == 0


@pytest.mark.benchmark(group="link-bulk")
def test_bulk_baseline_pty_echo(benchmark: Any, echo: PtyEcho) -> None:
    up, down = echo_round_trip_bytes(BULK_PAYLOAD)
    benchmark(echo.round_trip(bytes(BULK * (up + down) // 2)))


@pytest.mark.benchmark(group="link-bulk")
def test_bulk_firmware(benchmark: Any, board: Controller) -> None:
    benchmark(firmware_bulk(board, BULK))
    assert board.link.idle


def test_suite_reports_ratios() -> None:
    require_micropython()
    report = link_suite(1)
    round_trip = report["round_trip"]
    bulk = report["bulk"]
    assert isinstance(round_trip, dict)
    assert isinstance(bulk, dict)
    assert round_trip["firmware_over_pty_echo"] > 0
    assert bulk["frames"] == BULK
    assert bulk["wire_at_115200_frames_per_s"] == round(
        BULK / wire_seconds(bulk["bytes_both_ways"])
    )
