# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench link``: the controller link against a bare pty in the same run.

Workloads, defined once and timed both here (quick ratios for operators)
and in tests/bench/test_bench_link.py (pytest-benchmark statistics):

- round trip: one small ECHO command host -> firmware -> host (request
  frame, ACK, RESULT frame, ACK) against a bare pty echo of the same bytes;
- bulk: a burst of ECHO commands with 200-byte payloads, frames per second,
  against the same bytes echoed by the bare pty;
- the wire time of those bytes at 115,200 baud (8N1: 10 bits a byte), the
  floor a real UART sets, which a pty does not.
"""

from __future__ import annotations

import os
import select
import statistics
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from host.peripherals import Controller
from host.peripherals.link import ACK, encode_frame
from hw_sim.devices.controller import SimController
from hw_sim.pty import open_pty

__all__ = [
    "BAUD",
    "BULK_PAYLOAD",
    "SMALL_PAYLOAD",
    "PtyEcho",
    "echo_baseline",
    "echo_round_trip_bytes",
    "firmware_bulk",
    "firmware_round_trip",
    "firmware_session",
    "link_suite",
    "wire_seconds",
]

BAUD = 115_200
BULK_PAYLOAD = 200
SMALL_PAYLOAD = 4


def wire_seconds(n_bytes: int, baud: int = BAUD) -> float:
    """Seconds to clock ``n_bytes`` over a UART at ``baud`` with 8N1 framing."""
    return n_bytes * 10 / baud


def echo_round_trip_bytes(payload: int) -> tuple[int, int]:
    """Bytes of one ECHO exchange: (host -> board, board -> host), ACKs included."""
    request = len(encode_frame(0x15, 1, struct.pack(">I", 1) + bytes(payload)))
    result = len(encode_frame(0x80, 1, struct.pack(">IB", 1, 0) + bytes(payload)))
    ack = len(encode_frame(ACK, 1))
    return request + ack, result + ack


class PtyEcho:
    """The baseline: a pty whose far end writes back whatever it reads."""

    def __init__(self) -> None:
        self.master, self.slave, self.path = open_pty()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                os.write(self.master, os.read(self.master, 65536))

    def round_trip(self, data: bytes) -> Callable[[], None]:
        """A workload: write ``data`` to the slave and read it all back."""

        def work() -> None:
            os.write(self.slave, data)
            got = 0
            while got < len(data):
                select.select([self.slave], [], [], 1.0)
                got += len(os.read(self.slave, 65536))

        return work

    def close(self) -> None:
        """Stop the echo thread and close the pty."""
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self.master)
        os.close(self.slave)


@contextmanager
def echo_baseline() -> Iterator[PtyEcho]:
    """A running :class:`PtyEcho`."""
    echo = PtyEcho()
    try:
        yield echo
    finally:
        echo.close()


@contextmanager
def firmware_session() -> Iterator[Controller]:
    """The real firmware on the unix port, handshaken, no faults."""
    with SimController() as sim, Controller(sim.url) as board:
        yield board


def firmware_round_trip(board: Controller) -> Callable[[], None]:
    """A workload: one small ECHO through the firmware."""
    payload = bytes(SMALL_PAYLOAD)

    def work() -> None:
        board.echo(payload)

    return work


def firmware_bulk(board: Controller, count: int) -> Callable[[], None]:
    """A workload: ``count`` ECHO commands of BULK_PAYLOAD bytes, queued at once."""
    payload = bytes(BULK_PAYLOAD)

    def work() -> None:
        ids = list(range(1, count + 1))
        for request_id in ids:
            board.submit(0x15, request_id, payload)  # type: ignore[arg-type]
        for request_id in ids:
            board.wait_result(request_id)

    return work


def _median(work: Callable[[], None], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def link_suite(rounds: int) -> dict[str, object]:
    """Round trip and bulk figures, each as a ratio to the bare pty echo."""
    bulk_count = 50
    small_up, small_down = echo_round_trip_bytes(SMALL_PAYLOAD)
    bulk_up, bulk_down = echo_round_trip_bytes(BULK_PAYLOAD)
    bulk_bytes = bulk_count * (bulk_up + bulk_down)
    with echo_baseline() as echo, firmware_session() as board:
        pty_small = _median(echo.round_trip(bytes(small_up + small_down)), rounds * 10)
        fw_small = _median(firmware_round_trip(board), rounds * 10)
        pty_bulk = _median(echo.round_trip(bytes(bulk_bytes // 2)), rounds)
        fw_bulk = _median(firmware_bulk(board, bulk_count), rounds)
    small_wire = wire_seconds(small_up) + wire_seconds(small_down)
    bulk_wire = wire_seconds(bulk_bytes)
    return {
        "round_trip": {
            "bytes_both_ways": small_up + small_down,
            "baseline_pty_echo_us": round(pty_small * 1e6, 1),
            "firmware_us": round(fw_small * 1e6, 1),
            "firmware_over_pty_echo": round(fw_small / pty_small, 1),
            "wire_at_115200_us": round(small_wire * 1e6, 1),
            "firmware_over_wire": round(fw_small / small_wire, 2),
        },
        "bulk": {
            "frames": bulk_count,
            "payload_bytes": BULK_PAYLOAD,
            "bytes_both_ways": bulk_bytes,
            "firmware_frames_per_s": round(bulk_count / fw_bulk),
            "pty_echo_frames_per_s": round(bulk_count / pty_bulk),
            "firmware_over_pty_echo": round(fw_bulk / pty_bulk, 1),
            "wire_at_115200_frames_per_s": round(bulk_count / bulk_wire),
            "firmware_over_wire": round(fw_bulk / bulk_wire, 2),
        },
    }
