# SPDX-License-Identifier: Apache-2.0
"""hw_sim.card.contactless: ATS parsing, PC/SC part 3 ATRs, Type A/B answers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hw_sim.card.contactless import (
    AtsError,
    Contactless,
    TypeA,
    TypeB,
    fuzz_parse_ats,
    parse_ats,
    pcsc_atr,
)


def hx(text: str) -> bytes:
    return bytes.fromhex(text)


def test_parse_ats_fields() -> None:
    parsed = parse_ats(hx("0A 78 80 70 02 4A 50 4B 49 2D"))
    assert (parsed.fsci, parsed.ta, parsed.tb, parsed.tc) == (8, 0x80, 0x70, 0x02)
    assert parsed.historical == b"JPKI-"
    only_tb = parse_ats(hx("04 25 81 AA"))
    assert (only_tb.ta, only_tb.tb, only_tb.tc, only_tb.historical) == (None, 0x81, None, b"\xaa")


@pytest.mark.parametrize("ats", ["", "01", "05 78 80 70", "03 78 80", "02 F8", "06 78 80 70 02"])
def test_parse_ats_refuses_malformed(ats: str) -> None:
    with pytest.raises(AtsError):
        parse_ats(hx(ats))


def test_pcsc_atr_vectors() -> None:
    # A card ATR from jpki-card.md §1.2 rebuilt from its Type B fields.
    assert pcsc_atr(hx("00 00 05 E0 B3 81 A1 00")) == hx("3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F")
    assert pcsc_atr(b"") == hx("3B 80 80 01 01")
    with pytest.raises(ValueError, match="15"):
        pcsc_atr(bytes(16))


def test_type_b_pcsc_atr_matches_the_card_atr_table() -> None:
    target = TypeB(hx("50 4D594E41 000005E0 B381A1"), hx("01"))
    assert target.pcsc_atr == hx("3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F")
    assert target.pn532_target() == hx("50 4D594E41 000005E0 B381A1 01 01")


def test_type_a_target_layout() -> None:
    target = TypeA(hx("0004"), 0x20, hx("08 11 22 33"), hx("05 78 80 70 02"))
    assert target.pn532_target() == hx("00 04 20 04 08112233 05 78 80 70 02")
    assert target.historical == b""
    with pytest.raises(ValueError, match="SAK"):
        TypeA(hx("0004"), 0x08, hx("08 11 22 33"), hx("05 78 80 70 02"))
    with pytest.raises(ValueError, match="UID"):
        TypeA(hx("0004"), 0x20, hx("08 11 22"), hx("05 78 80 70 02"))
    with pytest.raises(ValueError, match="Type A or Type B"):
        Contactless()


@given(st.binary(max_size=40))
def test_fuzz_parse_ats_never_raises_anything_else(data: bytes) -> None:
    fuzz_parse_ats(data)
