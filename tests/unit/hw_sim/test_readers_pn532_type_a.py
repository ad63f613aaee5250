# SPDX-License-Identifier: Apache-2.0
"""hw_sim.readers.pn532 with a phone in the field: Type A (and Android's Type B).

Frame-level: commands and answers are whole HSU frames, built and parsed by
``pn532_frames`` as libnfc sends and reads them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hw_sim.card import VirtualCard, get_profile, open_card
from hw_sim.readers.pn532 import Pn532
from hw_sim.readers.pn532_frames import Command, FrameParser, build_frame


def hx(text: str) -> bytes:
    return bytes.fromhex(text)


SELECT_JPKI = hx("00A4040C0AD392F000260100000001")


def exchange(chip: Pn532, payload: bytes) -> bytes:
    """Send ``payload`` as a host frame through the parser; return the answer's frame."""
    events = FrameParser().feed(build_frame(payload, 0xD4))
    assert len(events) == 1
    assert isinstance(events[0], Command)
    answer = chip.handle(events[0].payload)
    assert answer is not None
    return build_frame(answer)


@pytest.fixture
def iphone(sim_home_dir: Path) -> Iterator[VirtualCard]:
    with open_card("iphone-default", home=sim_home_dir, persist=False) as card:
        yield card


@pytest.fixture
def android(sim_home_dir: Path) -> Iterator[VirtualCard]:
    with open_card("android-default", home=sim_home_dir, persist=False) as card:
        yield card


def test_iphone_lists_as_type_a_with_ats(iphone: VirtualCard) -> None:
    chip = Pn532(iphone)
    contactless = get_profile("iphone-default").contactless
    assert contactless is not None
    assert contactless.type_a is not None
    uid = contactless.type_a.uid
    # 4B NbTg=01 Tg=01 SENS_RES=00 04 SEL_RES=20 NFCIDLength=04 UID ATS(TL=0D ...)
    expected_payload = hx("D5 4B 01 01 00 04 20 04") + uid + hx("0D 78 80 70 02") + b"JPKI-IOS"
    frame = exchange(chip, hx("4A 01 00"))
    assert frame == build_frame(expected_payload[1:])
    assert frame[:5] == hx("00 00 FF 19 E7")  # LEN = TFI + 24 bytes
    assert chip.target_active
    assert iphone.powered
    assert exchange(chip, hx("4A 01 03 00")) == build_frame(hx("4B 00"))  # no Type B


def test_type_a_init_data_selects_only_our_uid(iphone: VirtualCard) -> None:
    chip = Pn532(iphone)
    contactless = get_profile("iphone-default").contactless
    assert contactless is not None
    assert contactless.type_a is not None
    assert chip.handle(hx("4A 01 00") + contactless.type_a.uid) is not None
    assert chip.handle(hx("4A 01 00 08 00 00 00")) == hx("4B 00")


def test_type_a_apdu_and_presence_check(iphone: VirtualCard) -> None:
    chip = Pn532(iphone)
    chip.handle(hx("4A 01 00"))
    assert chip.handle(hx("40 01") + SELECT_JPKI) == hx("41 00 90 00")
    assert chip.handle(hx("42 B2")) == hx("43 00 A2")  # R(NAK) → R(ACK): present
    assert chip.handle(hx("42 B3")) == hx("43 00 A3")
    chip.place(None)
    assert chip.handle(hx("42 B2")) == hx("43 01")  # gone: timeout


def test_android_answers_both_types(android: VirtualCard) -> None:
    chip = Pn532(android)
    contactless = get_profile("android-default").contactless
    assert contactless is not None
    assert contactless.type_b is not None
    assert contactless.type_a is not None
    assert chip.handle(hx("4A 01 03 00")) == hx("4B 01 01") + contactless.type_b.pn532_target()
    assert chip.handle(hx("4A 01 00")) == hx("4B 01 01") + contactless.type_a.pn532_target()
    assert chip.handle(hx("40 01") + SELECT_JPKI) == hx("41 00 90 00")


def test_the_card_stays_type_b_only(sim_home_dir: Path) -> None:
    with open_card("default", home=sim_home_dir, persist=False) as card:
        chip = Pn532(card)
        assert chip.handle(hx("4A 01 00")) == hx("4B 00")
        assert chip.handle(hx("4A 01 03 00"))[:3] == hx("4B 01 01")  # type: ignore[index]
        assert chip.handle(hx("42 B2")) == hx("43 01")  # no Type A presence answer
