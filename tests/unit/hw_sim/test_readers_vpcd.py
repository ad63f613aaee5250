# SPDX-License-Identifier: Apache-2.0
"""hw_sim.readers.vpcd: the vpcd protocol (sans-I/O) and the dialling bridge.

The bridge is driven by a small vpcd stand-in: a TCP server on 127.0.0.1
speaking vpcd's framing (the layer below the bridge); the real vpcd is in
the integration tests.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hw_sim.card import VirtualCard, open_card
from hw_sim.readers.vpcd import VpcdBridge, VpcdProtocol

SELECT_JPKI = bytes.fromhex("00A4040C0AD392F000260100000001")
ATR = bytes.fromhex("3BE000FF8131FE4514")


def msg(body: bytes) -> bytes:
    return struct.pack(">H", len(body)) + body


def test_get_atr_power_and_apdu(card: VirtualCard) -> None:
    proto = VpcdProtocol(card)
    assert proto.receive(msg(b"\x04")) == msg(ATR)
    assert proto.receive(msg(b"\x01")) == b""  # power on: no reply
    assert proto.receive(msg(SELECT_JPKI)) == msg(b"\x90\x00")
    assert proto.commands == 1


def test_split_length_and_body_and_two_messages(card: VirtualCard) -> None:
    proto = VpcdProtocol(card)
    wire = msg(b"\x01") + msg(SELECT_JPKI) + msg(b"\x04")
    out = b"".join(proto.receive(wire[i : i + 1]) for i in range(len(wire)))
    assert out == msg(b"\x90\x00") + msg(ATR)


def test_unpowered_card_gives_an_empty_answer(card: VirtualCard) -> None:
    proto = VpcdProtocol(card)
    proto.receive(msg(b"\x00"))  # power off
    assert not card.powered
    assert proto.receive(msg(SELECT_JPKI)) == msg(b"")
    proto.receive(msg(b"\x02"))  # reset of an unpowered card powers it
    assert card.powered
    proto.receive(msg(b"\x02"))  # warm reset keeps power
    assert proto.receive(msg(b"\x09")) == b""  # unknown control: ignored
    assert proto.receive(msg(SELECT_JPKI)) == msg(b"\x90\x00")


def test_empty_slot_and_closed_card(sim_home_dir: Path) -> None:
    assert VpcdProtocol(None).receive(msg(b"\x04") + msg(SELECT_JPKI)) == msg(b"") + msg(b"")
    card = open_card("default", home=sim_home_dir, persist=False)
    card.close()
    proto = VpcdProtocol(card)
    assert proto.receive(msg(b"\x04")) == msg(b"")
    assert proto.receive(msg(b"\x01")) == b""


class FakeVpcd:
    """vpcd's side: listens on 127.0.0.1, accepts the card, sends messages."""

    def __init__(self, port: int = 0) -> None:
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", port))
        self.server.listen(1)
        self.server.settimeout(5)
        self.port = self.server.getsockname()[1]
        self.conn: socket.socket | None = None

    def accept(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn, _ = self.server.accept()
        self.conn.settimeout(5)

    def send(self, body: bytes) -> None:
        assert self.conn is not None
        self.conn.sendall(msg(body))

    def ask(self, body: bytes) -> bytes | None:
        assert self.conn is not None
        self.conn.sendall(msg(body))
        head = self.conn.recv(2, socket.MSG_WAITALL)
        if len(head) < 2:
            return None
        (length,) = struct.unpack(">H", head)
        return self.conn.recv(length, socket.MSG_WAITALL) if length else b""

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.server.close()


@pytest.fixture
def vpcd() -> Iterator[FakeVpcd]:
    fake = FakeVpcd()
    yield fake
    fake.close()


def test_bridge_serves_then_removal_and_insertion(card: VirtualCard, vpcd: FakeVpcd) -> None:
    with VpcdBridge(card, port=vpcd.port, backoff_initial_s=0.01) as bridge:
        vpcd.accept()
        assert bridge.wait_connected(5)
        assert vpcd.ask(b"\x04") == ATR
        vpcd.send(b"\x01")  # power on: no answer
        assert vpcd.ask(SELECT_JPKI) == b"\x90\x00"
        bridge.remove()
        assert vpcd.ask(b"\x04") is None  # hung up: vpcd sees no card
        assert not bridge.inserted
        bridge.insert()
        vpcd.accept()
        assert vpcd.ask(b"\x04") == ATR
        assert bridge.connections == 2
        assert "inserted" in repr(bridge)


def test_bridge_redials_with_backoff(card: VirtualCard) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with VpcdBridge(card, port=port, backoff_initial_s=0.01, backoff_max_s=0.05) as bridge:
        deadline = time.monotonic() + 5
        while bridge.dial_failures < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert bridge.dial_failures >= 3
        vpcd = FakeVpcd(port)  # "pcscd restarted"
        try:
            vpcd.accept()
            assert vpcd.ask(b"\x04") == ATR
        finally:
            vpcd.close()


def test_fail_next_command_pulls_the_card_mid_apdu(card: VirtualCard, vpcd: FakeVpcd) -> None:
    with VpcdBridge(card, port=vpcd.port) as bridge:
        vpcd.accept()
        bridge.fail_next_command()
        assert vpcd.ask(b"\x04") == ATR  # control messages are not the fault
        before = len(card.apdu_log)
        assert vpcd.ask(SELECT_JPKI) is None
        assert len(card.apdu_log) == before  # the card never saw it
        assert not bridge.inserted


def test_swap_card_and_empty_start(card: VirtualCard, vpcd: FakeVpcd) -> None:
    with VpcdBridge(None, port=vpcd.port) as bridge:
        assert bridge.card is None
        with pytest.raises(ValueError, match="no card"):
            bridge.insert()
        bridge.swap_card(card)
        vpcd.accept()
        assert vpcd.ask(b"\x04") == ATR
        assert bridge.card is card
    bridge.stop()  # twice is harmless


@pytest.mark.parametrize(
    "kwargs", [{"port": 0}, {"port": 70000}, {"backoff_initial_s": 0}, {"backoff_max_s": 0.001}]
)
def test_bad_arguments(card: VirtualCard, kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"port|backoff"):
        VpcdBridge(card, **kwargs)  # type: ignore[arg-type]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=400))
def test_fuzz_any_stream_gives_framed_replies(card: VirtualCard, data: bytes) -> None:
    proto = VpcdProtocol(card)
    out = proto.receive(data)
    while out:  # every reply is a whole length-prefixed message
        (length,) = struct.unpack_from(">H", out)
        assert len(out) >= 2 + length
        out = out[2 + length :]
