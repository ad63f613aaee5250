# SPDX-License-Identifier: Apache-2.0
"""hw_sim.readers.pn532: the PN532 command set with the virtual card in the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hw_sim.card import VirtualCard, open_card
from hw_sim.readers.pn532 import ATQB, ATTRIB_RES, FIRMWARE, MAX_DATA_IN, AutoPollType, Pn532


def hx(text: str) -> bytes:
    return bytes.fromhex(text)


SELECT_JPKI = hx("00A4040C0AD392F000260100000001")
SELECT_AUTH_CERT = hx("00A4020C02000A")


@pytest.fixture
def chip(sim_home_dir: Path) -> Pn532:
    card = open_card("default", home=sim_home_dir, persist=False)
    yield Pn532(card)  # type: ignore[misc]
    card.close()


def activate(chip: Pn532) -> bytes:
    answer = chip.handle(hx("4A 01 03 00"))
    assert answer is not None
    return answer


def test_open_sequence(chip: Pn532) -> None:
    assert chip.handle(hx("14 01")) == hx("15")
    assert chip.handle(hx("00 00 6C 69 62 6E 66 63")) == hx("01 00 6C 69 62 6E 66 63")
    assert chip.handle(hx("02")) == b"\x03" + FIRMWARE
    assert chip.handle(hx("12 14")) == hx("13")
    assert chip.handle(hx("32 01 01")) == hx("33")


def test_register_file(chip: Pn532) -> None:
    assert chip.handle(hx("06 63 02 63 03")) == hx("07 00 00")
    assert chip.handle(hx("08 63 02 80 63 03 80")) == hx("09")
    assert chip.handle(hx("06 63 02 63 03 63 05")) == hx("07 80 80 00")
    assert chip.handle(hx("06 63")) is None  # half an address
    assert chip.handle(hx("08 63 02")) is None


def test_type_b_listing_and_other_types(chip: Pn532) -> None:
    assert chip.handle(hx("4A 01 00")) == hx("4B 00")  # type A: nothing
    answer = activate(chip)
    assert answer == hx("4B 01 01") + ATQB + bytes([len(ATTRIB_RES)]) + ATTRIB_RES
    assert chip.target_active
    assert activate(chip) == answer  # stable PUPI: the listing loop ends
    assert chip.handle(hx("4A")) is None


def test_data_exchange_select(chip: Pn532) -> None:
    activate(chip)
    assert chip.handle(hx("40 01") + SELECT_JPKI) == hx("41 00 90 00")
    assert chip.exchanges == 1


def test_long_answers_are_chained_with_mi(chip: Pn532) -> None:
    activate(chip)
    chip.handle(hx("40 01") + SELECT_JPKI)
    chip.handle(hx("40 01") + SELECT_AUTH_CERT)
    first = chip.handle(hx("40 01 00 B0 00 00 00 00 00"))  # extended READ BINARY
    assert first is not None
    assert first[:2] == hx("41 40")
    assert len(first) == 2 + MAX_DATA_IN
    pieces = [first[2:]]
    while True:
        more = chip.handle(hx("40 01"))
        assert more is not None
        pieces.append(more[2:])
        if more[1] == 0x00:
            break
        assert more[1] == 0x40
    whole = b"".join(pieces)
    assert whole[-2:] == hx("90 00")
    assert whole[:2] == hx("30 82")
    assert chip.handle(hx("40 01")) == hx("41 01")  # nothing pending


def test_new_command_drops_pending_pieces(chip: Pn532) -> None:
    activate(chip)
    chip.handle(hx("40 01") + SELECT_JPKI)
    chip.handle(hx("40 01") + SELECT_AUTH_CERT)
    chip.handle(hx("40 01 00 B0 00 00 00 00 00"))
    assert chip.handle(hx("40 01") + SELECT_JPKI) == hx("41 00 90 00")


def test_no_target_and_card_gone(chip: Pn532) -> None:
    assert chip.handle(hx("40 01") + SELECT_JPKI) == hx("41 29")  # released
    activate(chip)
    card = chip.card
    assert isinstance(card, VirtualCard)
    card.power_off()  # the card left the field
    assert chip.handle(hx("40 01") + SELECT_JPKI) == hx("41 2B")
    assert chip.handle(hx("40")) is None


def test_presence_check_and_probes(chip: Pn532) -> None:
    assert chip.handle(hx("42 06 00")) == hx("43 01")  # SRx probe: nothing there
    assert chip.handle(hx("42 BA 01")) == hx("43 01")  # no target yet
    activate(chip)
    assert chip.handle(hx("42 BA 01")) == hx("43 00 AA 01")


def test_release_deselect_power_down(chip: Pn532) -> None:
    activate(chip)
    assert chip.handle(hx("44 00")) == hx("45 00")
    assert not chip.target_active
    activate(chip)
    assert chip.handle(hx("52 00")) == hx("53 00")
    assert chip.handle(hx("16 F0")) == hx("17 00")
    card = chip.card
    assert card is not None
    assert not card.powered


def test_empty_field_and_place(chip: Pn532, sim_home_dir: Path) -> None:
    card = chip.card
    activate(chip)
    chip.place(None)
    assert chip.handle(hx("4A 01 03 00")) == hx("4B 00")
    assert chip.handle(hx("60 14 02 03")) == hx("61 00")
    chip.place(card)
    answer = chip.handle(hx("60 14 02 20 10 03"))
    assert answer is not None
    assert answer[:3] == hx("61 01 03")
    assert answer[4:] == b"\x01" + ATQB + b"\x01" + ATTRIB_RES


def test_unknown_and_empty_commands(chip: Pn532) -> None:
    assert chip.handle(b"") is None
    assert chip.handle(hx("04")) is None  # GetGeneralStatus: not used by libnfc
    assert chip.handle(hx("FE")) is None


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_fuzz_commands_only_answer_or_refuse(chip: Pn532, payloads: list[bytes]) -> None:
    for payload in payloads:
        answer = chip.handle(payload)
        assert answer is None or answer[0] == payload[0] + 1


@pytest.mark.parametrize(
    ("profile", "types", "reported"),
    [
        ("iphone-default", "20 10 03 11 12 04", AutoPollType.ISO14443_4A_106),  # nfc-poll's list
        ("iphone-default", "10 03", AutoPollType.MIFARE),
        ("iphone-default", "03 23", None),  # an iPhone is Type A only
        ("android-default", "20 10 03", AutoPollType.ISO14443_4A_106),
        ("android-default", "03 20", AutoPollType.ISO14443_4B_106),  # first type in the list
        ("android-default", "23", AutoPollType.ISO14443_4B_TCL_106),
        ("default", "20 10 03", AutoPollType.ISO14443_4B_106),  # the card: Type B only
        ("default", "00 10 20", None),
    ],
)
def test_auto_poll_reports_the_target_type(
    sim_home_dir: Path, profile: str, types: str, reported: AutoPollType | None
) -> None:
    card = open_card(profile, home=sim_home_dir, persist=False)
    try:
        chip = Pn532(card)
        answer = chip.handle(hx("60 01 02" + types))
        assert answer is not None
        if reported is None:
            assert answer == hx("61 00")
            assert not chip.target_active
            return
        assert answer[:3] == bytes([0x61, 0x01, reported])
        data = answer[4:]
        assert answer[3] == len(data)
        assert chip.target_active
        contactless = card.contactless
        if reported in (AutoPollType.ISO14443_4B_106, AutoPollType.ISO14443_4B_TCL_106):
            atqb = ATQB if contactless is None else contactless.type_b.atqb  # type: ignore[union-attr]
            assert data[:13] == b"\x01" + atqb
        else:
            assert contactless is not None
            type_a = contactless.type_a
            assert type_a is not None
            head = b"\x01" + type_a.atqa + bytes([type_a.sak, len(type_a.uid)]) + type_a.uid
            with_ats = reported is AutoPollType.ISO14443_4A_106
            assert data == head + (type_a.ats if with_ats else b"")  # RATS only for 4A
        assert chip.handle(hx("40 01") + SELECT_JPKI) == hx("41 00 90 00")
    finally:
        card.close()


def test_auto_poll_without_types_is_a_syntax_error(chip: Pn532) -> None:
    assert chip.handle(hx("60 14 02")) is None
