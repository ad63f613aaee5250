# SPDX-License-Identifier: Apache-2.0
"""host.apdu: encodings of ISO 7816-4 cases 1-4, boundaries, status-word table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host import errors
from host.apdu import (
    STATUS_WORDS,
    CommandApdu,
    ResponseApdu,
    check,
    error_for,
)
from tests.unit.host.host_vectors import h

HDR = h("00 B0 00 00")


@pytest.mark.parametrize(
    ("apdu", "short", "extended"),
    [
        # case 1: header only, in both forms
        (CommandApdu(0, 0x20, 0, 0x80), "00 20 00 80", "00 20 00 80"),
        # case 2
        (CommandApdu(0, 0xB0, 0, 0, le=4), "00 B0 00 00 04", "00 B0 00 00 00 00 04"),
        (CommandApdu(0, 0xB0, 0, 0, le=256), "00 B0 00 00 00", "00 B0 00 00 00 01 00"),
        # case 3
        (
            CommandApdu(0, 0xA4, 2, 0x0C, h("00 0A")),
            "00 A4 02 0C 02 00 0A",
            "00 A4 02 0C 00 00 02 00 0A",
        ),
        # case 4
        (
            CommandApdu(0x80, 0x2A, 0, 0x80, h("01 02 03"), le=256),
            "80 2A 00 80 03 01 02 03 00",
            "80 2A 00 80 00 00 03 01 02 03 01 00",
        ),
    ],
)
def test_encode_cases_short_and_extended(apdu: CommandApdu, short: str, extended: str) -> None:
    assert apdu.encode() == h(short)
    assert apdu.encode(extended=False) == h(short)
    assert apdu.encode(extended=True) == h(extended)


def test_golden_9_1_select_and_read() -> None:
    select = CommandApdu(0, 0xA4, 4, 0x0C, h("D3 92 F0 00 26 01 00 00 00 01"))
    assert select.encode() == h("00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01")
    assert CommandApdu(0, 0xB0, 6, 0, le=0x2F).encode() == h("00 B0 06 00 2F")
    # NFCPY's whole-file read: extended Le 65536
    assert CommandApdu(0, 0xB0, 0, 0, le=65536).encode() == h("00 B0 00 00 00 00 00")


def test_lc_boundaries() -> None:
    at_255 = CommandApdu(0, 0xD6, 0, 0, b"\xaa" * 255)
    assert not at_255.needs_extended
    assert at_255.encode()[:5] == h("00 D6 00 00 FF")
    at_256 = CommandApdu(0, 0xD6, 0, 0, b"\xaa" * 256)
    assert at_256.needs_extended
    assert at_256.encode()[:7] == h("00 D6 00 00 00 01 00")
    with pytest.raises(ValueError, match="extended"):
        at_256.encode(extended=False)
    at_max = CommandApdu(0, 0xD6, 0, 0, b"\xaa" * 65535)
    assert at_max.encode()[:7] == h("00 D6 00 00 00 FF FF")


def test_le_boundaries() -> None:
    assert CommandApdu(0, 0xB0, 0, 0, le=256).encode() == HDR + h("00")
    assert CommandApdu(0, 0xB0, 0, 0, le=257).encode() == HDR + h("00 01 01")
    assert CommandApdu(0, 0xB0, 0, 0, le=65536).encode() == HDR + h("00 00 00")
    assert CommandApdu(0, 0xB0, 0, 0, le=1).encode() == HDR + h("01")
    with pytest.raises(ValueError, match="extended"):
        CommandApdu(0, 0xB0, 0, 0, le=257).encode(extended=False)


def test_case_4_extended_with_both_lengths() -> None:
    apdu = CommandApdu(0, 0x2A, 0, 0, b"\x01" * 300, le=65536)
    encoded = apdu.encode()
    assert encoded[:7] == h("00 2A 00 00 00 01 2C")
    assert encoded[-2:] == h("00 00")
    assert len(encoded) == 4 + 3 + 300 + 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cla": 256},
        {"ins": -1},
        {"p1": 0x100},
        {"le": 0},
        {"le": 65537},
        {"data": b"\x00" * 65536},
    ],
)
def test_out_of_range_fields_raise_value_error(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"cla": 0, "ins": 0xB0, "p1": 0, "p2": 0}
    fields.update(kwargs)
    with pytest.raises(ValueError):  # noqa: PT011 (several messages)
        CommandApdu(**fields)  # type: ignore[arg-type]


def test_data_must_be_bytes() -> None:
    with pytest.raises(TypeError):
        CommandApdu(0, 0x20, 0, 0x80, "1234")  # type: ignore[arg-type]


def test_sensitive_repr_hides_data() -> None:
    apdu = CommandApdu(0, 0x20, 0, 0x80, b"1234", name="VERIFY", sensitive=True)
    for text in (repr(apdu), str(apdu)):
        assert "1234" not in text
        assert "31 32 33 34" not in text
        assert "31323334" not in text
        assert "4 bytes redacted" in text
        assert "VERIFY" in text
    plain = CommandApdu(0, 0xA4, 2, 0x0C, h("00 0A"), name="SELECT")
    assert "00 0A" in repr(plain)


def test_response_parse() -> None:
    response = ResponseApdu.parse(h("30 82 06 2B 90 00"))
    assert response.data == h("30 82 06 2B")
    assert (response.sw1, response.sw2, response.sw) == (0x90, 0x00, 0x9000)
    assert response.ok
    assert ResponseApdu.parse(h("63 C2")).sw == 0x63C2
    assert "30 82" not in repr(response)  # data may be personal


@pytest.mark.parametrize("raw", [b"", b"\x90"])
def test_response_parse_too_short(raw: bytes) -> None:
    with pytest.raises(errors.MalformedResponseError):
        ResponseApdu.parse(raw)


@pytest.mark.parametrize(
    ("sw", "cls"),
    [
        (0x63C2, errors.WrongPinError),
        (0x63C1, errors.WrongPinError),
        (0x63C0, errors.PinBlockedError),
        (0x6984, errors.PinBlockedError),
        (0x6982, errors.SecurityStatusError),
        (0x6A82, errors.FileNotFoundOnCardError),
        (0x6700, errors.WrongLengthError),
        (0x6C10, errors.WrongLengthError),
        (0x6A86, errors.WrongParametersError),
        (0x6B00, errors.WrongParametersError),
        (0x6A80, errors.WrongParametersError),
        (0x6D00, errors.InstructionNotSupportedError),
        (0x6E00, errors.InstructionNotSupportedError),
        (0x6985, errors.ConditionsNotSatisfiedError),
        (0x6F00, errors.UnexpectedStatusError),
        (0x6300, errors.UnexpectedStatusError),
        (0x6881, errors.UnexpectedStatusError),
    ],
)
def test_status_word_table(sw: int, cls: type[errors.CardError]) -> None:
    response = ResponseApdu(b"", sw >> 8, sw & 0xFF)
    with pytest.raises(cls) as info:
        check(response, "VERIFY")
    assert type(info.value) is cls
    assert info.value.sw == sw
    assert info.value.command == "VERIFY"
    assert f"{sw:04X}" in str(info.value)


def test_wrong_pin_tries_left_is_a_field() -> None:
    for left in range(1, 16):
        error = error_for(0x63C0 | left, "VERIFY")
        assert isinstance(error, errors.WrongPinError)
        assert error.tries_left == left


def test_check_passes_9000() -> None:
    response = ResponseApdu(b"ok", 0x90, 0x00)
    assert check(response) is response


def test_table_is_data() -> None:
    assert STATUS_WORDS[0x6A82] is errors.FileNotFoundOnCardError
    with pytest.raises(TypeError):
        STATUS_WORDS[0x9000] = errors.CardError  # type: ignore[index]


@given(st.binary(max_size=300))
def test_fuzz_parse_only_typed_errors(raw: bytes) -> None:
    try:
        response = ResponseApdu.parse(raw)
    except errors.MalformedResponseError:
        assert len(raw) < 2
        return
    assert response.data + bytes([response.sw1, response.sw2]) == raw
    if not response.ok:
        with pytest.raises(errors.CardError):
            check(response)


@given(
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(max_size=600),
    st.one_of(st.none(), st.integers(1, 65536)),
)
def test_fuzz_encode_lengths(ins: int, p1: int, data: bytes, le: int | None) -> None:
    apdu = CommandApdu(0, ins, p1, 0, data, le)
    encoded = apdu.encode()
    extra = (1 if data else 0) + (1 if le is not None else 0)
    if apdu.needs_extended:
        assert encoded[4] == 0
        assert len(encoded) == 4 + 1 + 2 * extra + len(data)
    else:
        assert len(encoded) == 4 + extra + len(data)
