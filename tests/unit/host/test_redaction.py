# SPDX-License-Identifier: Apache-2.0
"""ApduRedactor: PIN bodies and personal file contents never reach logs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from host.redaction import ApduRedactor

SELECT_JPKI = bytes.fromhex("00A4040C0A D392F000260100000001".replace(" ", ""))
SELECT_TEXT = bytes.fromhex("00A4040C0AD3921000310001010408")
SELECT_TEXT_PREFIX = bytes.fromhex("00A4040C08D392100031000101")
VERIFY_1234 = bytes.fromhex("0020008004") + b"1234"


def test_verify_body_is_removed_and_header_kept() -> None:
    shown = ApduRedactor().command(VERIFY_1234)
    assert shown.redacted
    assert shown.data == bytes.fromhex("0020008004")
    assert shown.length == 9
    assert "31 32 33 34" not in shown.hex()
    assert "<4 bytes redacted>" in shown.hex()


def test_change_reference_data_extended_lc_is_removed() -> None:
    command = bytes.fromhex("0024018000000A") + b"NEWPASS123"
    shown = ApduRedactor().command(command)
    assert shown.data == bytes.fromhex("0024018000000A")


def test_empty_verify_query_is_shown_whole() -> None:
    shown = ApduRedactor().command(bytes.fromhex("00200080"))
    assert not shown.redacted


def test_read_binary_is_redacted_only_in_personal_data_applications() -> None:
    redactor = ApduRedactor()
    redactor.command(SELECT_JPKI)
    redactor.command(bytes.fromhex("00B0000004"))
    assert not redactor.response(bytes.fromhex("3082062B9000")).redacted

    redactor.command(SELECT_TEXT)
    redactor.command(bytes.fromhex("00B0000011"))
    shown = redactor.response(b"\xff\x10\x0c123456789012\xff\xff\x90\x00")
    assert shown.redacted
    assert shown.data == b"\x90\x00"
    assert "31 32 33" not in shown.hex()


def test_selecting_by_aid_prefix_counts_as_the_personal_application() -> None:
    redactor = ApduRedactor()
    redactor.command(SELECT_TEXT_PREFIX)
    redactor.command(bytes.fromhex("00B0000007"))
    assert redactor.response(bytes.fromhex("FF205CDF2108009000")).redacted


def test_reset_forgets_the_selection() -> None:
    redactor = ApduRedactor()
    redactor.command(SELECT_TEXT)
    redactor.reset()
    redactor.command(bytes.fromhex("00B0000004"))
    assert not redactor.response(bytes.fromhex("001122339000")).redacted


@given(st.binary(max_size=300), st.binary(max_size=300))
def test_any_bytes_are_handled_and_never_grow(command: bytes, response: bytes) -> None:
    redactor = ApduRedactor()
    shown = redactor.command(command)
    assert len(shown.data) <= len(command) == shown.length
    answer = redactor.response(response)
    assert len(answer.data) <= len(response) == answer.length


def test_signing_certificate_reads_are_redacted_in_the_jpki_application() -> None:
    redactor = ApduRedactor()
    redactor.command(SELECT_JPKI)
    redactor.command(bytes.fromhex("00A4020C020001"))
    redactor.command(bytes.fromhex("00B0000004"))
    assert redactor.response(bytes.fromhex("308206AB9000")).redacted
    redactor.command(bytes.fromhex("00A4020C02000A"))
    redactor.command(bytes.fromhex("00B0000004"))
    assert not redactor.response(bytes.fromhex("3082062B9000")).redacted
    redactor.command(bytes.fromhex("00B0810000"))  # EF 0001 by short EF id
    assert redactor.response(bytes.fromhex("308206AB9000")).redacted
