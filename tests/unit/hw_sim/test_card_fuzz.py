# SPDX-License-Identifier: Apache-2.0
"""Property tests: the card answers anything with a known SW, and refusals change nothing.

Two generators: raw random bytes, and well-framed APDUs with random CLA,
INS, P1, P2, data and Le (biased towards the card's own instructions, AIDs,
file ids and PINs so that the interesting paths are reached). Each example
runs a short sequence on a fresh card, so that commands meet cards in many
states (application selected, PIN verified, PIN blocked, ...).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hw_sim.card import VirtualCard, open_card
from hw_sim.card.constants import KNOWN_SWS

AIDS = [
    bytes.fromhex("D392F000260100000001"),
    bytes.fromhex("D3921000310001010408"),
    bytes.fromhex("D3921000310001010402"),
    bytes.fromhex("D392100031000101"),
    bytes.fromhex("A00000000101"),
]
FIDS = [bytes([0, fid]) for fid in (0x01, 0x02, 0x06, 0x0A, 0x11, 0x14, 0x15, 0x17, 0x18, 0x1B)]
PINS = [b"1234", b"ABCD1234", b"123456789018", b"55010120352285", b"550101", b"9999", b"12a4"]
DIGEST_INFO = bytes.fromhex("3031300D060960864801650304020105000420") + b"\x11" * 32

classes = st.one_of(st.sampled_from([0x00, 0x80, 0x0C, 0x01, 0x10, 0x84]), st.integers(0, 255))
instructions = st.one_of(
    st.sampled_from([0xA4, 0xB0, 0xB2, 0x20, 0x24, 0x2A, 0x84, 0xCA]), st.integers(0, 255)
)
parameters = st.one_of(
    st.sampled_from([0x00, 0x01, 0x02, 0x04, 0x0C, 0x80, 0x8A, 0x91, 0x97, 0x98, 0x9B, 0x5F]),
    st.integers(0, 255),
)
data_fields = st.one_of(
    st.just(b""),
    st.sampled_from(AIDS + FIDS + PINS + [DIGEST_INFO]),
    st.binary(max_size=300),
)
expected_lengths = st.one_of(st.none(), st.integers(1, 65536))


@st.composite
def framed_commands(draw: st.DrawFn) -> bytes:
    header = bytes([draw(classes), draw(instructions), draw(parameters), draw(parameters)])
    data, le = draw(data_fields), draw(expected_lengths)
    extended = draw(st.booleans()) or len(data) > 255 or (le is not None and le > 256)
    if extended:
        body = b"" if not data else b"\x00" + len(data).to_bytes(2, "big") + data
        if le is not None:
            le_bytes = (le % 65536).to_bytes(2, "big")
            body += le_bytes if data else b"\x00" + le_bytes
        return header + body
    body = b"" if not data else bytes([len(data)]) + data
    if le is not None:
        body += bytes([le % 256])
    return header + body


commands = st.one_of(st.binary(max_size=300), framed_commands())
SETUPS = [
    [],
    ["00A4040C0AD392F000260100000001"],
    ["00A4040C0AD392F000260100000001", "00A4020C020018", "002000800431323334"],
    ["00A4040C0AD3921000310001010408", "002000910431323334"],
    ["00A4040C0AD392F000260100000001", "00A4020C02001B"],
]


@pytest.fixture(scope="module")
def warm(sim_home_dir: Path) -> Path:
    with open_card("default", home=sim_home_dir, persist=False):
        pass  # build the card image once, outside the timed examples
    return sim_home_dir


def check(card: VirtualCard, command: bytes) -> None:
    before = card.state_snapshot()
    response = card.transmit(command)
    assert len(response) >= 2
    sw = int.from_bytes(response[-2:], "big")
    assert sw in KNOWN_SWS, f"{command.hex()} -> {sw:04X}"
    if sw != 0x9000 and sw & 0xFFF0 != 0x63C0:
        assert card.state_snapshot() == before, f"{command.hex()} -> {sw:04X} changed state"
    if sw != 0x9000:
        assert len(response) == 2  # errors carry no data


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(setup=st.sampled_from(SETUPS), sequence=st.lists(commands, min_size=1, max_size=8))
def test_any_bytes_get_a_status_word_and_refusals_change_nothing(
    warm: Path, setup: list[str], sequence: list[bytes]
) -> None:
    with open_card("default", home=warm, persist=False) as card:
        card.power_on()
        for command in setup:
            card.transmit(bytes.fromhex(command))
        for command in sequence:
            check(card, command)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(min_size=0, max_size=600))
def test_random_bytes_never_raise(warm: Path, raw: bytes) -> None:
    with open_card("default", home=warm, persist=False) as card:
        card.power_on()
        card.transmit(bytes.fromhex(SETUPS[2][0]))
        check(card, raw)
