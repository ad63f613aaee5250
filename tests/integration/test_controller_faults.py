# SPDX-License-Identifier: Apache-2.0
"""Link fault campaign: 1% corrupted and 1% dropped frames, nothing lost or repeated.

Two parts, because 10,000 frames through a pty and MicroPython would take
most of the suite's time budget: (1) the two sans-I/O link ends (the host's
CPython module and the firmware's own link.py, loaded here in CPython)
exchange 10,000 numbered messages each way through a lossy channel on a
virtual clock; (2) the real firmware on the unix port, behind the fault
relay on real ptys, answers 300 numbered echo requests while keys are
pressed, at the same fault rates.
"""

from __future__ import annotations

import importlib.util
import random
import struct
from types import ModuleType

from host.peripherals import Controller, KeyPressed
from host.peripherals import link as host_link
from hw_sim.devices import LinkFaults
from hw_sim.devices.controller import FIRMWARE_DIR
from tests.integration.controller_support import running_sim

MESSAGES = 10_000


def _firmware_link() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fw_link", FIRMWARE_DIR / "myna_fw" / "link.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class LossyWire:
    """Per-frame faults like hw_sim's relay, counted."""

    def __init__(self, rng: random.Random, corrupt: float, drop: float) -> None:
        self.rng, self.corrupt, self.drop = rng, corrupt, drop
        self.frames = self.corrupted = self.dropped = 0

    def carry(self, data: bytes) -> bytes:
        out = bytearray()
        for frame in data.split(b"\x00")[:-1]:
            self.frames += 1
            wire = bytearray(frame + b"\x00")
            if self.rng.random() < self.drop:
                self.dropped += 1
                continue
            if self.rng.random() < self.corrupt:
                self.corrupted += 1
                wire[self.rng.randrange(len(wire))] ^= self.rng.randrange(1, 256)
            out += wire
        return bytes(out)


def test_ten_thousand_messages_each_way_in_process() -> None:
    fw = _firmware_link()
    board = fw.Link(retransmit_ms=20, max_retries=1000)
    host = host_link.Link(retransmit_timeout=0.02, max_retries=1000)
    rng = random.Random(2026)
    up, down = LossyWire(rng, 0.01, 0.01), LossyWire(rng, 0.01, 0.01)
    for i in range(MESSAGES):
        board.send(0x90, struct.pack(">I", i), 0)
        host.send(0x15, struct.pack(">I", i), 0.0)
    at_host: list[int] = []
    at_board: list[int] = []
    now_ms = 0
    while (len(at_host) < MESSAGES or len(at_board) < MESSAGES) and now_ms < 10_000_000:
        now_ms += 1
        for _, payload in host.receive(up.carry(board.take_output()), now_ms / 1000):
            at_host.append(struct.unpack(">I", payload)[0])
        for _, payload in board.receive(down.carry(host.take_output()), now_ms):
            at_board.append(struct.unpack(">I", payload)[0])
        board.poll(now_ms)
        host.poll(now_ms / 1000)
    assert at_host == list(range(MESSAGES))  # none lost, duplicated or reordered
    assert at_board == list(range(MESSAGES))
    assert not board.failed
    assert not host.failed
    assert up.frames + down.frames >= 4 * MESSAGES  # data + ACK both ways
    assert up.dropped > 100
    assert down.corrupted > 100
    assert host.duplicates + board.stats_duplicates > 0  # lost ACKs caused resends


def test_real_firmware_through_faulty_ptys() -> None:
    faults = LinkFaults(corrupt=0.01, drop=0.01, seed=11)
    with (
        running_sim(faults=faults, retransmit_ms=50) as sim,
        Controller(sim.url, retransmit_timeout=0.05, timeout=5.0) as board,
    ):
        keys = "123456789*0#" * 2
        sim.press(*keys, wait=False)
        for i in range(300):
            payload = struct.pack(">I", i) * 8
            assert board.echo(payload) == payload
        events = []
        while len(events) < len(keys):
            event = board.next_event(5.0)
            assert event is not None, f"only {len(events)} key events arrived"
            events.append(event)
        assert events == [KeyPressed(ord(k)) for k in keys]
        assert board.next_event(0.2) is None  # no duplicates trail behind
        stats = sim.relay.stats
        assert stats.frames > 1000
        assert stats.corrupted > 0
        assert stats.dropped > 0
