# SPDX-License-Identifier: Apache-2.0
"""host.channel: 61xx, 6Cxx, chaining, extended length, bounded loops, typed errors.

The layer below is a transport, so the fakes here are small behavioural
cards behind a ``CardTransport`` subclass: each answers like a T=0 card,
a chaining card, and so on, rather than replaying call counts.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host import errors
from host.apdu import CommandApdu
from host.channel import PIN_STATUS_WORDS, ApduChannel
from tests.unit.host.host_fakes import Card, FakeTransport
from tests.unit.host.host_vectors import h


def fixed(*responses: str) -> Card:
    queue = [h(r) for r in responses]
    return lambda _command: queue.pop(0)


class T0Card:
    """Answers every command with 61xx and hands the payload out through GET RESPONSE."""

    def __init__(self, payload: bytes, chunk: int = 256) -> None:
        self.payload = payload
        self.chunk = chunk
        self.pending = b""

    def _more(self) -> bytes:
        if not self.pending:
            return h("90 00")
        return bytes([0x61, min(len(self.pending), self.chunk) & 0xFF])

    def __call__(self, command: bytes) -> bytes:
        if command[1] == 0xC0:  # GET RESPONSE
            le = command[4] or 256
            out, self.pending = self.pending[:le], self.pending[le:]
            return out + self._more()
        self.pending = self.payload
        return self._more()


class WrongLeCard:
    """Answers 6Cxx unless Le equals the payload length (ISO 7816-3 T=0 case 2)."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def __call__(self, command: bytes) -> bytes:
        le = command[4] if len(command) == 5 else -1
        if le != len(self.payload):
            return bytes([0x6C, len(self.payload)])
        return self.payload + h("90 00")


class ChainingCard:
    """Collects command chains (CLA bit 0x10) and answers the total data length."""

    def __init__(self) -> None:
        self.collected = b""
        self.blocks: list[int] = []

    def __call__(self, command: bytes) -> bytes:
        lc = command[4]
        self.blocks.append(lc)
        self.collected += command[5 : 5 + lc]
        if command[0] & 0x10:
            return h("90 00")
        return len(self.collected).to_bytes(2, "big") + h("90 00")


def channel(card: Card, **kwargs: object) -> tuple[ApduChannel, FakeTransport]:
    transport = FakeTransport(card, **kwargs)  # type: ignore[arg-type]
    transport.open()
    return ApduChannel(transport), transport


def test_plain_9000() -> None:
    ch, transport = channel(fixed("01 02 90 00"))
    with transport:
        response = ch.send(CommandApdu(0, 0xB0, 0, 0, le=2))
    assert response.data == h("01 02")
    assert transport.sent == [h("00 B0 00 00 02")]


def test_get_response_loop_collects_everything() -> None:
    payload = bytes(range(256)) * 3 + b"tail"
    ch, transport = channel(T0Card(payload))
    with transport:
        response = ch.send(CommandApdu(0x80, 0x2A, 0, 0x80, b"\x01" * 51, le=256))
    assert response.data == payload
    assert response.sw == 0x9000
    gets = [c for c in transport.sent if c[1] == 0xC0]
    assert gets[0] == h("00 C0 00 00 00")  # CLA keeps only channel bits
    assert gets[-1] == h("00 C0 00 00 04")
    assert len(gets) == 4


def test_get_response_loop_is_capped() -> None:
    ch, transport = channel(lambda _c: h("AA 61 01"))
    with transport, pytest.raises(errors.MalformedResponseError, match="GET RESPONSE"):
        ch.send(CommandApdu(0, 0xB0, 0, 0, le=1))
    assert len(transport.sent) == 1 + 256


def test_wrong_le_is_resent_once() -> None:
    ch, transport = channel(WrongLeCard(h("11 22 33")))
    with transport:
        response = ch.send(CommandApdu(0, 0xCA, 0, 0x42, le=256))
    assert response.data == h("11 22 33")
    assert transport.sent == [h("00 CA 00 42 00"), h("00 CA 00 42 03")]


def test_repeated_6c_becomes_wrong_length() -> None:
    ch, transport = channel(lambda _c: h("6C 05"))
    with transport, pytest.raises(errors.WrongLengthError):
        ch.send(CommandApdu(0, 0xCA, 0, 0x42, le=1))
    assert len(transport.sent) == 2


def test_chaining_without_extended_length() -> None:
    card = ChainingCard()
    ch, transport = channel(card, extended=False)
    data = bytes(range(256)) * 2 + b"xyz"  # 515 bytes
    with transport:
        response = ch.send(CommandApdu(0, 0xDA, 0, 0, data, le=2))
    assert card.collected == data
    assert card.blocks == [255, 255, 5]
    assert [c[0] for c in transport.sent] == [0x10, 0x10, 0x00]
    assert transport.sent[-1][-1] == 2  # Le only on the last block
    assert response.data == (515).to_bytes(2, "big")


def test_extended_length_when_the_transport_has_it() -> None:
    ch, transport = channel(fixed("90 00"), extended=True)
    with transport:
        ch.send(CommandApdu(0, 0xDA, 0, 0, b"\x00" * 300))
    assert len(transport.sent) == 1  # one APDU, no chaining
    assert transport.sent[0][:7] == h("00 DA 00 00 00 01 2C")


def test_large_le_without_extended_is_capped_to_256() -> None:
    payload = b"\x5a" * 600
    ch, transport = channel(T0Card(payload), extended=False)
    with transport:
        response = ch.send(CommandApdu(0, 0xB0, 0, 0, le=65536))
    assert transport.sent[0] == h("00 B0 00 00 00")
    assert response.data == payload


def test_chain_block_failure_is_typed() -> None:
    ch, transport = channel(fixed("6A 80"), extended=False)
    with transport, pytest.raises(errors.WrongParametersError):
        ch.send(CommandApdu(0, 0xDA, 0, 0, b"\x00" * 300, name="PUT DATA"))
    assert len(transport.sent) == 1


@pytest.mark.parametrize(
    ("sw", "cls"),
    [
        ("6A 82", errors.FileNotFoundOnCardError),
        ("69 82", errors.SecurityStatusError),
        ("63 C1", errors.WrongPinError),
        ("69 84", errors.PinBlockedError),
        ("6F 00", errors.UnexpectedStatusError),
    ],
)
def test_typed_errors_name_the_command(sw: str, cls: type[errors.CardError]) -> None:
    ch, transport = channel(fixed(sw))
    with transport, pytest.raises(cls) as info:
        ch.send(CommandApdu(0, 0xA4, 2, 0x0C, h("00 0A"), name="SELECT"))
    assert info.value.command == "SELECT"


def test_allow_returns_pin_status_instead_of_raising() -> None:
    ch, transport = channel(fixed("63 C2", "69 84", "6A 82"))
    query = CommandApdu(0, 0x20, 0, 0x80, name="VERIFY")
    with transport:
        assert ch.send(query, allow=PIN_STATUS_WORDS).sw == 0x63C2
        assert ch.send(query, allow=PIN_STATUS_WORDS).sw == 0x6984
        with pytest.raises(errors.FileNotFoundOnCardError):
            ch.send(query, allow=PIN_STATUS_WORDS)


def test_short_response_is_malformed() -> None:
    ch, transport = channel(fixed("90"))
    with transport, pytest.raises(errors.MalformedResponseError):
        ch.send(CommandApdu(0, 0xB0, 0, 0, le=1))


def test_invalid_cap() -> None:
    transport = FakeTransport(fixed())
    with pytest.raises(ValueError, match="max_get_response"):
        ApduChannel(transport, max_get_response=0)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.binary(max_size=40), min_size=1, max_size=8),
    st.binary(max_size=300),
    st.one_of(st.none(), st.integers(1, 65536)),
    st.booleans(),
)
def test_fuzz_arbitrary_card_answers_only_typed_errors(
    answers: list[bytes], data: bytes, le: int | None, extended: bool
) -> None:
    queue = list(answers)

    def card(_command: bytes) -> bytes:
        return queue.pop(0) if queue else h("61 10")

    ch, transport = channel(card, extended=extended)
    with transport, contextlib.suppress(errors.MynaEdgeError):
        ch.send(CommandApdu(0, 0xB0, 0, 0, data, le), allow=PIN_STATUS_WORDS)
