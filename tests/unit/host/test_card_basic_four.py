# SPDX-License-Identifier: Apache-2.0
"""host.card.basic_four: the §9.3 golden file, DF21 offsets, My Number check digit."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.card.basic_four import (
    BasicFour,
    my_number_check_digit,
    parse_basic_four,
    parse_my_number,
)
from host.errors import DataFormatError
from tests.unit.host.host_vectors import (
    BASIC_FOUR_9_3,
    MY_NUMBER_9_3,
    MY_NUMBER_VALID,
    h,
    my_number_file,
)


def test_golden_9_3() -> None:
    four = parse_basic_four(BASIC_FOUR_9_3)
    assert four.name == "山田\u3000太郎"
    assert four.address == "東京都千代田区霞が関１－１－１"
    assert four.birth_date == dt.date(1980, 1, 1)
    assert four.sex == "1"


def test_filler_after_object_is_ignored() -> None:
    assert parse_basic_four(BASIC_FOUR_9_3 + b"\xff" * 161) == parse_basic_four(BASIC_FOUR_9_3)


def test_repr_is_redacted() -> None:
    four = parse_basic_four(BASIC_FOUR_9_3)
    for text in (repr(four), str(four), repr([four])):
        assert "山田" not in text
        assert "1980" not in text
        assert "<redacted>" in text


def test_leading_zero_long_length_outer() -> None:
    # the same content with the outer length written 82 00 5C: offsets move by 2
    body = bytearray(BASIC_FOUR_9_3[3:])
    offsets = [0x0E + 2, 0x20 + 2, 0x50 + 2, 0x5B + 2]
    body[3:11] = b"".join(o.to_bytes(2, "big") for o in offsets)
    four = parse_basic_four(h("FF 20 82 00 5C") + bytes(body))
    assert four.birth_date == dt.date(1980, 1, 1)


def test_wrong_offsets_are_refused() -> None:
    altered = bytearray(BASIC_FOUR_9_3)
    altered[7] = 0x0F  # DF21's first offset no longer points at DF22
    with pytest.raises(DataFormatError, match="offset"):
        parse_basic_four(bytes(altered))


@pytest.mark.parametrize("cut", [1, 3, 20, 60, 94])
def test_truncations(cut: int) -> None:
    with pytest.raises(DataFormatError):
        parse_basic_four(BASIC_FOUR_9_3[:cut])


def test_wrong_outer_tag() -> None:
    with pytest.raises(DataFormatError, match="FF20"):
        parse_basic_four(h("FF 21") + BASIC_FOUR_9_3[2:])


def test_missing_item() -> None:
    with pytest.raises(DataFormatError, match="lacks"):
        parse_basic_four(h("FF 20 0B DF 21 08 00 0E 00 20 00 50 00 5B"))


@pytest.mark.parametrize(
    ("birth", "sex"),
    [(b"19800231", b"1"), (b"1980010A", b"1"), (b"19800101", b"X")],
)
def test_bad_values(birth: bytes, sex: bytes) -> None:
    altered = BASIC_FOUR_9_3.replace(b"19800101", birth)
    altered = altered.replace(h("DF 25 01 31"), h("DF 25 01") + sex)
    with pytest.raises(DataFormatError):
        parse_basic_four(altered)


def test_bad_utf8_name() -> None:
    altered = BASIC_FOUR_9_3.replace(h("E5 B1 B1"), h("FF FE FD"))
    with pytest.raises(DataFormatError, match="UTF-8"):
        parse_basic_four(altered)


def test_check_digit_algorithm() -> None:
    assert my_number_check_digit("12345678901") == 8
    # r <= 1 gives 0: "00000000000" sums to 0
    assert my_number_check_digit("00000000000") == 0
    with pytest.raises(ValueError, match="11"):
        my_number_check_digit("1234")


def test_my_number_valid() -> None:
    assert parse_my_number(my_number_file(MY_NUMBER_VALID)) == MY_NUMBER_VALID


def test_my_number_golden_9_3_has_a_bad_check_digit() -> None:
    # §9.3 calls its number synthetic; by the check-digit rule it is invalid.
    with pytest.raises(DataFormatError, match="check digit"):
        parse_my_number(MY_NUMBER_9_3)


@pytest.mark.parametrize(
    "raw",
    [
        "FF 10 0B 31 32 33 34 35 36 37 38 39 30 31",  # 11 digits
        "FF 11 0C 31 32 33 34 35 36 37 38 39 30 31 38",  # wrong tag
        "FF 10 0C 31 32 33 34 35 36 37 38 39 30 31 41",  # non-digit
        "FF 10 0C 31 32 33",  # truncated
        "",
    ],
)
def test_my_number_malformed(raw: str) -> None:
    with pytest.raises(DataFormatError):
        parse_my_number(h(raw))


def test_basic_four_equality_is_by_value() -> None:
    a = BasicFour("a", "b", dt.date(2000, 1, 1), "2")
    assert a == BasicFour("a", "b", dt.date(2000, 1, 1), "2")


@given(st.binary(max_size=200))
def test_fuzz_parsers_only_typed_errors(raw: bytes) -> None:
    for parser in (parse_basic_four, parse_my_number):
        with contextlib.suppress(DataFormatError):
            parser(raw)


@given(st.integers(0, len(BASIC_FOUR_9_3) - 1), st.integers(0, 255))
def test_fuzz_single_byte_changes(index: int, value: int) -> None:
    altered = bytearray(BASIC_FOUR_9_3)
    altered[index] = value
    with contextlib.suppress(DataFormatError):
        parse_basic_four(bytes(altered))
