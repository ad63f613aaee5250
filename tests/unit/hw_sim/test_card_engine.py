# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.card.engine``: class checks, dispatch, snapshots (§1.1, §4.3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hw_sim.card import VirtualCard, open_card
from hw_sim.card.engine import CardEngine
from hw_sim.card.filesystem import CardImage
from hw_sim.card.pins import PinStore
from tests.unit.hw_sim.card_helpers import SELECT_JPKI, sw


@pytest.fixture
def card(card: VirtualCard) -> VirtualCard:
    """The powered default card in the JPKI AP, EF 000A current."""
    card.transmit(bytes.fromhex(SELECT_JPKI))
    card.transmit(bytes.fromhex("00 A4 02 0C 02 00 0A"))
    return card


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("", 0x6700),
        ("00", 0x6700),
        ("00 B0 00", 0x6700),
        # logical channels (§1.1: only channel 0)
        ("01 B0 00 00 04", 0x6881),
        ("03 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01", 0x6881),
        ("81 2A 00 80 01 00 00", 0x6881),
        ("40 B0 00 00 04", 0x6881),  # further interindustry: channels 4-19
        ("7F B0 00 00 04", 0x6881),
        # secure messaging: 69FC on READ BINARY and VERIFY, 6882 elsewhere (SOL)
        ("0C B0 00 00 04", 0x69FC),
        ("08 B0 00 00 04", 0x69FC),
        ("04 20 00 80", 0x69FC),
        ("0C 20 00 80 04 31 32 33 34", 0x69FC),
        ("0C A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01", 0x6882),
        ("08 A4 02 0C 02 00 0A", 0x6882),
        ("8C 2A 00 80 01 00 00", 0x6882),
        # command chaining
        ("10 B0 00 00 04", 0x6884),
        ("90 2A 00 80 01 00 00", 0x6884),
        # unknown classes
        ("FF B0 00 00 04", 0x6E00),
        ("A0 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01", 0x6E00),
        ("20 B0 00 00 04", 0x6E00),
        ("E0 B0 00 00 04", 0x6E00),
        # unknown instructions
        ("00 00 00 00", 0x6D00),
        ("00 B1 00 00 04", 0x6D00),  # odd READ BINARY: not supported
        ("00 88 00 80 08 01 02 03 04 05 06 07 08 00", 0x6D00),  # INTERNAL AUTHENTICATE
        ("80 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01", 0x6D00),  # SELECT in class 80
        ("80 B0 00 00 04", 0x6D00),
        ("00 2A 9E 9A 01 00 00", 0x6D00),  # ISO PSO: JPKI uses 80 2A
        ("80 FC 00 00", 0x6D00),
        # framing after a valid class and instruction
        ("00 B0 00 00 05 00", 0x6700),
    ],
)
def test_class_instruction_and_framing(card: VirtualCard, command: str, expected: int) -> None:
    before = card.state_snapshot()
    assert sw(card, command) == expected
    assert card.state_snapshot() == before


def test_snapshot(card: VirtualCard) -> None:
    snapshot = card.state_snapshot()
    assert snapshot.application == bytes.fromhex("D392F000260100000001")
    assert snapshot.current_ef == 0x0A
    assert snapshot.verified == frozenset()
    names = [name for name, _, _ in snapshot.pins]
    assert names == sorted(names)
    assert len(names) == 9
    sw(card, "00 20 00 98 04 31 32 33 34")
    assert card.state_snapshot().verified == frozenset({0x18})


def test_engine_is_usable_alone(sim_home_dir: Path) -> None:
    with open_card("default", home=sim_home_dir, persist=False) as card:
        image: CardImage = card._engine.image
        pins: PinStore = card._engine.pins
    engine = CardEngine(image, pins, random_bytes=lambda n: b"\x5a" * n)
    assert engine.process(bytes.fromhex("00 84 00 00 04")).to_bytes() == bytes.fromhex(
        "5A 5A 5A 5A 90 00"
    )
    assert engine.process(bytes.fromhex(SELECT_JPKI)).sw == 0x9000
    assert repr(engine) == "CardEngine(application='jpki')"
    engine.reset()
    assert engine.state_snapshot().application is None
