# SPDX-License-Identifier: Apache-2.0
"""host.card.pins: counters without spending, blocked PINs never sent, change."""

from __future__ import annotations

import pytest

from host import errors
from host.card import constants as c
from host.card import pins
from host.card.pin_policy import PinKind
from host.channel import ApduChannel
from tests.unit.host.host_fakes import FakeTransport, MiniCard, MiniPin, parse_command


def make(pin: MiniPin) -> tuple[ApduChannel, FakeTransport, MiniCard]:
    card = MiniCard({c.JPKI_AID: {c.FID_AUTH_PIN: pin}, c.TEXT_AID: {c.FID_TEXT_PIN: pin}})
    transport = FakeTransport(card)
    transport.open()
    return ApduChannel(transport), transport, card


def verifies_with_data(transport: FakeTransport) -> list[bytes]:
    return [cmd for cmd in transport.sent if cmd[1] == 0x20 and parse_command(cmd)[1]]


@pytest.mark.parametrize(
    ("answer", "tries"),
    [(b"\x63\xc3", 3), (b"\x63\xc1", 1), (b"\x63\xc0", 0), (b"\x69\x84", 0), (b"\x90\x00", 3)],
)
def test_tries_left_mapping(answer: bytes, tries: int) -> None:
    ch, transport, _ = make(MiniPin(b"1234", 3, empty_answer=answer))
    with transport:
        assert pins.tries_left(ch, PinKind.AUTH) == tries
    assert verifies_with_data(transport) == []


def test_tries_left_other_status_raises() -> None:
    ch, transport, _ = make(MiniPin(b"1234", 3, empty_answer=b"\x6a\x88"))
    with transport, pytest.raises(errors.UnexpectedStatusError):
        pins.tries_left(ch, PinKind.AUTH)


def test_tries_left_never_spends() -> None:
    pin = MiniPin(b"1234", 2)
    ch, transport, _ = make(pin)
    with transport:
        for _ in range(5):
            assert pins.tries_left(ch, PinKind.AUTH) == 2
    assert pin.tries == 2


def test_wrong_then_right() -> None:
    pin = MiniPin(b"1234", 3)
    ch, transport, _ = make(pin)
    with transport:
        with pytest.raises(errors.WrongPinError) as info:
            pins.verify(ch, PinKind.AUTH, b"0000")
        assert info.value.tries_left == 2
        assert pins.tries_left(ch, PinKind.AUTH) == 2
        pins.verify(ch, PinKind.AUTH, b"1234")
        assert pins.tries_left(ch, PinKind.AUTH) == 3


def test_blocked_is_never_retried() -> None:
    pin = MiniPin(b"1234", 1)
    ch, transport, _ = make(pin)
    with transport:
        with pytest.raises(errors.PinBlockedError):
            pins.verify(ch, PinKind.AUTH, b"0000")  # 63C0: the try that blocked it
        sent_before = len(verifies_with_data(transport))
        with pytest.raises(errors.PinBlockedError) as info:
            pins.verify(ch, PinKind.AUTH, b"1234")
        assert info.value.command == "VERIFY"
    assert len(verifies_with_data(transport)) == sent_before == 1


def test_change_verifies_first() -> None:
    pin = MiniPin(b"1234", 3)
    ch, transport, _ = make(pin)
    with transport:
        pins.change(ch, PinKind.TEXT, b"1234", b"9999")
        assert pin.value == b"9999"
        with pytest.raises(errors.WrongPinError):
            pins.change(ch, PinKind.TEXT, b"1234", b"5555")
    assert pin.value == b"9999"
    assert transport.sent[-1][1] == 0x20  # no CHANGE after the failed VERIFY
