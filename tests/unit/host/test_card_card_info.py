# SPDX-License-Identifier: Apache-2.0
"""host.card.card_info: one verification, integrity before parsing, redacted reprs."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

import pytest

from host import errors
from host.card import constants as c
from host.card import files
from host.card.basic_four import BasicFour
from host.card.card_info import CardInfo, read_card_info
from host.card.integrity import IntegrityStatus, check_integrity, parse_integrity_record
from host.card.pin_policy import PinKind
from host.channel import ApduChannel
from host.transport import open_transport
from tests.unit.host.host_fakes import FakeTransport, MiniCard, MiniPin, parse_command
from tests.unit.host.host_vectors import (
    BASIC_FOUR_9_3,
    MY_NUMBER_VALID,
    integrity_record,
    my_number_file,
)

MY_NUMBER_EF = my_number_file(MY_NUMBER_VALID)


def mini(basic_four: bytes, record: bytes) -> tuple[ApduChannel, FakeTransport]:
    card = MiniCard(
        {
            c.TEXT_AID: {
                c.FID_TEXT_PIN: MiniPin(b"1234", 3),
                c.FID_MY_NUMBER: MY_NUMBER_EF,
                c.FID_BASIC_FOUR: basic_four + b"\xff" * 64,
                c.FID_INTEGRITY: record,
            }
        }
    )
    transport = FakeTransport(card)
    transport.open()
    return ApduChannel(transport), transport


def test_golden_files_read_and_checked() -> None:
    record = integrity_record(MY_NUMBER_EF, BASIC_FOUR_9_3[0x0E:])
    ch, transport = mini(BASIC_FOUR_9_3, record)
    with transport:
        info = read_card_info(ch, b"1234", include_my_number=True)
    assert info.name == "山田\u3000太郎"
    assert info.birth_date == dt.date(1980, 1, 1)
    assert info.my_number == MY_NUMBER_VALID
    assert info.integrity == IntegrityStatus(True, True, False)
    verifies = [cmd for cmd in transport.sent if cmd[1] == 0x20 and parse_command(cmd)[1]]
    assert len(verifies) == 1


def test_my_number_not_read_unless_asked() -> None:
    record = integrity_record(MY_NUMBER_EF, BASIC_FOUR_9_3[0x0E:])
    ch, transport = mini(BASIC_FOUR_9_3, record)
    with transport:
        info = read_card_info(ch, b"1234")
    assert info.my_number is None
    assert not info.integrity.my_number_checked
    selects = [cmd[-2:] for cmd in transport.sent if cmd[1] == 0xA4 and cmd[2] == 0x02]
    assert c.FID_MY_NUMBER.to_bytes(2, "big") not in selects


def test_mismatch_is_integrity_error() -> None:
    record = integrity_record(MY_NUMBER_EF, b"something else")
    ch, transport = mini(BASIC_FOUR_9_3, record)
    with transport, pytest.raises(errors.IntegrityError):
        read_card_info(ch, b"1234")


def test_wrong_pin_reads_nothing() -> None:
    record = integrity_record(MY_NUMBER_EF, BASIC_FOUR_9_3[0x0E:])
    ch, transport = mini(BASIC_FOUR_9_3, record)
    with transport, pytest.raises(errors.WrongPinError):
        read_card_info(ch, b"9999", include_my_number=True)
    assert not any(cmd[1] == 0xB0 for cmd in transport.sent)


def test_repr_redacts() -> None:
    info = CardInfo(
        BasicFour("山田\u3000太郎", "東京都", dt.date(1980, 1, 1), "1"),
        MY_NUMBER_VALID,
        IntegrityStatus(True, True, True),
    )
    for text in (repr(info), str(info), f"{info}", repr([info])):
        assert "山田" not in text
        assert MY_NUMBER_VALID not in text
        assert "1980" not in text
        assert "<redacted>" in text


def test_altered_real_card_files_fail_integrity(sim_url: Callable[[str], str]) -> None:
    with open_transport(sim_url("default")) as transport:
        ch = ApduChannel(transport)
        from host.card import pins

        pins.verify(ch, PinKind.TEXT, b"1234")
        files.select_file(ch, c.FID_MY_NUMBER)
        my_number_ef = files.read_physical(ch)
        files.select_file(ch, c.FID_BASIC_FOUR)
        basic_four_ef = files.read_object(ch)
        files.select_file(ch, c.FID_INTEGRITY)
        record = parse_integrity_record(files.read_object(ch))
    # as read: everything matches
    check_integrity(record, basic_four_ef=basic_four_ef, my_number_ef=my_number_ef)
    assert hashlib.sha256(my_number_ef).digest() == record.my_number_hash
    # one byte changed in the birth date, in the name, in the My Number filler
    index = basic_four_ef.index(b"19800101")
    altered = basic_four_ef[:index] + b"19810101" + basic_four_ef[index + 8 :]
    with pytest.raises(errors.IntegrityError):
        check_integrity(record, basic_four_ef=altered)
    flipped = bytearray(basic_four_ef)
    flipped[-1] ^= 0x01
    with pytest.raises((errors.IntegrityError, errors.DataFormatError)):
        check_integrity(record, basic_four_ef=bytes(flipped))
    with pytest.raises(errors.IntegrityError):
        check_integrity(record, my_number_ef=my_number_ef[:-1] + b"\x00")
