# SPDX-License-Identifier: Apache-2.0
"""hw_sim.devices.faults: the relay between two ptys drops, corrupts, duplicates, delays."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from hw_sim.devices.faults import LinkFaults, PtyRelay
from hw_sim.pty import open_pty

FRAMES = [bytes([i + 1]) * 5 + b"\x00" for i in range(20)]


@contextmanager
def relay(faults: LinkFaults) -> Iterator[tuple[int, int, PtyRelay]]:
    dev_master, dev_slave, _ = open_pty()
    host_master, host_slave, _ = open_pty()
    wire = PtyRelay(dev_master, host_master, faults)
    wire.start()
    try:
        yield dev_slave, host_slave, wire
    finally:
        wire.stop()
        for fd in (dev_master, dev_slave, host_master, host_slave):
            os.close(fd)


def _read_all(fd: int, quiet: float = 0.2) -> bytes:
    data = b""
    while True:
        ready, _, _ = select.select([fd], [], [], quiet)
        if not ready:
            return data
        data += os.read(fd, 4096)


def test_probabilities_checked() -> None:
    with pytest.raises(ValueError, match="probability"):
        LinkFaults(drop=1.5)
    assert not LinkFaults().active
    assert LinkFaults(delay=0.1).active


def test_clean_link_passes_everything_both_ways() -> None:
    with relay(LinkFaults()) as (device, host, _):
        os.write(device, b"".join(FRAMES))
        assert _read_all(host) == b"".join(FRAMES)
        os.write(host, b"back\x00")
        assert _read_all(device) == b"back\x00"


def test_drop_everything() -> None:
    with relay(LinkFaults(drop=1.0)) as (device, host, wire):
        os.write(device, b"".join(FRAMES))
        assert _read_all(host) == b""
        assert wire.stats.dropped == len(FRAMES)


def test_duplicate_everything() -> None:
    with relay(LinkFaults(duplicate=1.0)) as (device, host, wire):
        for frame in FRAMES[:5]:
            os.write(device, frame)
            time.sleep(0.005)
        assert _read_all(host) == b"".join(f + f for f in FRAMES[:5])
        assert wire.stats.duplicated == 5


def test_corrupt_everything_keeps_length() -> None:
    with relay(LinkFaults(corrupt=1.0, seed=3)) as (device, host, wire):
        os.write(device, b"".join(FRAMES))
        received = _read_all(host)
        assert len(received) == len(b"".join(FRAMES))
        assert received != b"".join(FRAMES)
        assert wire.stats.corrupted == len(FRAMES)


def test_delay_never_reorders() -> None:
    with relay(LinkFaults(delay=0.5, delay_seconds=0.02, seed=1)) as (device, host, wire):
        os.write(device, b"".join(FRAMES))
        assert _read_all(host) == b"".join(FRAMES)
        assert wire.stats.delayed > 0


def test_stream_without_delimiters_is_flushed_when_quiet() -> None:
    with relay(LinkFaults(delay=0.01, seed=2)) as (device, host, _):
        os.write(device, b"\x10\x04\x02")  # an ESC/POS status request: no 0x00
        assert _read_all(host) == b"\x10\x04\x02"
