# SPDX-License-Identifier: Apache-2.0
"""host.tlv: multi-byte tags, long lengths with leading zeros, filler, truncation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.errors import DataFormatError
from host.tlv import parse_all, parse_header, parse_one
from tests.unit.host.host_vectors import BASIC_FOUR_9_3, MY_NUMBER_9_3, h


def test_golden_basic_four_structure() -> None:
    outer = parse_one(BASIC_FOUR_9_3 + b"\xff" * 40)
    assert outer.tag == 0xFF20
    assert outer.constructed
    assert outer.header_length == 3
    assert outer.end == 95
    children = outer.children()
    assert [c.tag for c in children] == [0xDF21, 0xDF22, 0xDF23, 0xDF24, 0xDF25]
    assert [c.offset for c in children] == [3, 0x0E, 0x20, 0x50, 0x5B]
    assert outer.child(0xDF24).value == b"19800101"
    assert not outer.child(0xDF25).constructed


def test_my_number_nonminimal_tag() -> None:
    item = parse_one(MY_NUMBER_9_3)
    assert item.tag == 0xFF10
    assert item.value == b"123456789012"
    assert item.end == 15  # FF FF filler after it is ignored


@pytest.mark.parametrize(
    ("raw", "length", "header"),
    [
        ("FF 40 82 00 9F", 0x9F, 5),  # MYNA's test: leading zero in a long length
        ("30 82 06 2B", 0x062B, 4),  # certificate header
        ("DF 33 81 05", 5, 4),
        ("04 84 00 00 00 02", 2, 6),
        ("04 00", 0, 2),
    ],
)
def test_header_lengths(raw: str, length: int, header: int) -> None:
    parsed = parse_header(h(raw))
    assert (parsed.length, parsed.header_length) == (length, header)
    assert parsed.total_length == length + header


def test_leading_zero_length_object() -> None:
    body = b"\x01" * 0x9F
    item = parse_one(h("FF 40 82 00 9F") + body + b"\xff\xff")
    assert item.value == body


@pytest.mark.parametrize(
    "raw",
    [
        "",  # no tag
        "DF",  # tag truncated
        "DF 21",  # no length
        "DF 21 82 00",  # length truncated
        "DF 21 05 01 02",  # value truncated
        "04 80",  # indefinite
        "04 85 00 00 00 00 01",  # 5 length octets
        "1F FF FF FF FF 01 00",  # tag too long
        "FF 20 05 DF 21 08 00",  # child truncated inside parent value
    ],
)
def test_malformed_raises_data_format_error(raw: str) -> None:
    def parse_deep(data: bytes) -> None:
        parse_one(data).children()

    with pytest.raises(DataFormatError):
        parse_deep(h(raw))


def test_parse_all_stops_at_filler() -> None:
    items = parse_all(h("01 01 AA 02 00 FF FF FF"))
    assert [(i.tag, i.value) for i in items] == [(1, h("AA")), (2, b"")]
    assert parse_all(h("FF FF")) == []


def test_child_missing() -> None:
    outer = parse_one(h("FF 20 03 DF 22 00"))
    with pytest.raises(DataFormatError, match="DF23"):
        outer.child(0xDF23)


def test_repr_hides_values() -> None:
    item = parse_one(h("DF 22 03 41 42 43"))
    assert "414243" not in repr(item).replace(" ", "")
    assert "ABC" not in repr(item)


@given(st.binary(max_size=200))
def test_fuzz_only_data_format_error(raw: bytes) -> None:
    try:
        for item in parse_all(raw):
            if item.constructed:
                item.children()
        parse_header(raw)
    except DataFormatError:
        pass
