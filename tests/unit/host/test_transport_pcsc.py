# SPDX-License-Identifier: Apache-2.0
"""host.transport.pcsc: URL grammar, PC/SC error mapping, reader choice.

The layer below is pyscard's ``smartcard.scard``; here it is a behavioural
fake (readers with or without a card, scripted return codes). The real
pyscard → pcscd → vpcd path runs in tests/integration/test_reader_*.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host import errors
from host.transport import pcsc, transport_for_url
from host.transport.pcsc import PcscTransport, library, parse_pcsc_url, pcsc_error

OK = 0


class FakeScard:
    """Enough of smartcard.scard for PcscTransport."""

    SCARD_SCOPE_USER = 0
    SCARD_SHARE_EXCLUSIVE = 1
    SCARD_SHARE_SHARED = 2
    SCARD_PROTOCOL_T0 = 1
    SCARD_PROTOCOL_T1 = 2
    SCARD_STATE_UNAWARE = 0
    SCARD_STATE_PRESENT = 0x20
    SCARD_LEAVE_CARD = 0
    SCARD_ATTR_MAXINPUT = 0x7A007

    def __init__(self, readers: dict[str, bool]) -> None:
        self.readers = readers
        self.establish_code = OK
        self.connect_code = OK
        self.attrib: tuple[int, list[int]] = (0x80100011, [])
        self.card: Callable[[list[int]], tuple[int, list[int]]] = lambda apdu: (OK, [0x90, 0])
        self.sent: list[list[int]] = []
        self.connected: list[tuple[str, int, int]] = []
        self.released = 0
        self.disconnected = 0
        self.events: list[tuple[str, bool]] = []

    def SCardEstablishContext(self, scope: int) -> tuple[int, int]:
        return self.establish_code, 7

    def SCardReleaseContext(self, context: int) -> int:
        self.released += 1
        return OK

    def SCardListReaders(self, context: int, groups: list[str]) -> tuple[int, list[str]]:
        if not self.readers:
            return 0x8010002E, []
        return OK, list(self.readers)

    SCARD_STATE_CHANGED = 0x2

    def SCardGetStatusChange(self, context: int, timeout: int, states: list[Any]) -> Any:
        if timeout > 0:  # a blocking wait: apply the next scripted event, if any
            if not self.events:
                return 0x8010000A, []
            name, present = self.events.pop(0)
            self.readers[name] = present
        answer = []
        for name, _flags in states:
            flag = self.SCARD_STATE_PRESENT if self.readers.get(name) else 0
            answer.append((name, flag | self.SCARD_STATE_CHANGED, []))
        return OK, answer

    def SCardConnect(self, context: int, reader: str, share: int, protocols: int) -> Any:
        self.connected.append((reader, share, protocols))
        return self.connect_code, 99, self.SCARD_PROTOCOL_T1

    def SCardStatus(self, card: int) -> Any:
        return OK, "r", 0, 2, [0x3B, 0xE0]

    def SCardGetAttrib(self, card: int, attr: int) -> tuple[int, list[int]]:
        return self.attrib

    def SCardTransmit(self, card: int, protocol: int, apdu: list[int]) -> tuple[int, list[int]]:
        self.sent.append(apdu)
        return self.card(apdu)

    def SCardDisconnect(self, card: int, disposition: int) -> int:
        self.disconnected += 1
        return OK


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeScard:
    lib = FakeScard(
        {"ACS ACR1252 00 00": False, "Virtual PCD 00 00": True, "Virtual PCD 00 01": False}
    )
    monkeypatch.setattr(library, "_scard", lib)
    return lib


@pytest.mark.parametrize(
    ("url", "name", "index", "share", "extended"),
    [
        ("pcsc://", "", None, "exclusive", None),
        ("pcsc://1", "1", 1, "exclusive", None),
        ("pcsc://Virtual%20PCD%2000%2000?share=shared", "Virtual PCD 00 00", None, "shared", None),
        ("pcsc://acr?extended=0&wait=2.5&protocol=any", "acr", None, "exclusive", False),
    ],
)
def test_url_grammar(
    url: str, name: str, index: int | None, share: str, extended: bool | None
) -> None:
    parsed = parse_pcsc_url(url)
    assert (parsed.name, parsed.index, parsed.share, parsed.extended) == (
        name,
        index,
        share,
        extended,
    )
    assert "PcscUrl" in repr(parsed)


@pytest.mark.parametrize(
    "url",
    [
        "sim://x",
        "pcsc://r/path",
        "pcsc://?bogus=1",
        "pcsc://?wait=x",
        "pcsc://?wait=-1",
        "pcsc://?share=maybe",
        "pcsc://?protocol=t2",
        "pcsc://?extended=2",
        "pcsc://?wait=1&wait=2",
        "pcsc://?=",
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(errors.InvalidReaderUrlError):
        parse_pcsc_url(url)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (0x8010002E, errors.ReaderNotFoundError),
        (0x80100017, errors.ReaderNotFoundError),
        (0x8010000C, errors.NoCardError),
        (0x80100069, errors.CardRemovedError),
        (0x80100016, errors.CardRemovedError),
        (0x8010000B, errors.ReaderBusyError),
        (0x8010001D, errors.BackendUnavailableError),
        (0x8010001E, errors.BackendUnavailableError),
        (0x8010000A, errors.TransportTimeoutError),
        (-2146435050, errors.CardRemovedError),  # the same code, signed
        (0x80100001, errors.TransportError),
    ],
)
def test_error_mapping(code: int, cls: type[errors.TransportError]) -> None:
    error = pcsc_error(code, "transmit")
    assert type(error) is cls
    assert f"0x{code & 0xFFFFFFFF:08X}" in str(error)


def test_first_reader_with_a_card_and_capabilities(fake: FakeScard) -> None:
    with transport_for_url("pcsc://") as transport:
        assert isinstance(transport, PcscTransport)
        assert transport.reader == "Virtual PCD 00 00"
        assert transport.atr == b"\x3b\xe0"
        assert transport.capabilities.extended_length  # vpcd: known to carry them
        assert transport.transmit(b"\x00\xa4\x04\x0c\x01\xa0") == b"\x90\x00"
    assert fake.connected == [("Virtual PCD 00 00", 1, 2)]
    assert fake.disconnected == 1
    assert fake.released == 1


@pytest.mark.parametrize(
    ("url", "reader"),
    [("pcsc://1", "Virtual PCD 00 00"), ("pcsc://pcd%2000%2000", "Virtual PCD 00 00")],
)
def test_reader_by_index_or_name_part(fake: FakeScard, url: str, reader: str) -> None:
    with transport_for_url(url) as transport:
        assert isinstance(transport, PcscTransport)
        assert transport.reader == reader


def test_no_card_unknown_reader_no_readers(fake: FakeScard) -> None:
    with pytest.raises(errors.NoCardError):
        transport_for_url("pcsc://ACR1252").open()
    with pytest.raises(errors.ReaderNotFoundError):
        transport_for_url("pcsc://Virtual").open()  # ambiguous
    with pytest.raises(errors.ReaderNotFoundError):
        transport_for_url("pcsc://9").open()
    fake.readers = {}
    with pytest.raises(errors.ReaderNotFoundError, match="no PC/SC readers"):
        transport_for_url("pcsc://").open()
    fake.readers = {"X": False}
    with pytest.raises(errors.NoCardError):
        transport_for_url("pcsc://").open()


def test_service_down_and_sharing_violation(fake: FakeScard) -> None:
    fake.establish_code = 0x8010001D
    with pytest.raises(errors.BackendUnavailableError, match="pcscd"):
        transport_for_url("pcsc://").open()
    fake.establish_code = OK
    fake.connect_code = 0x8010000B
    with pytest.raises(errors.ReaderBusyError):
        transport_for_url("pcsc://").open()
    assert fake.released == 1  # the context of the failed connect was released


def test_removed_mid_command_is_not_retried(fake: FakeScard) -> None:
    fake.card = lambda apdu: (0x80100069, [])
    with transport_for_url("pcsc://") as transport:
        with pytest.raises(errors.CardRemovedError):
            transport.transmit(b"\x00\x20\x00\x80\x04\x31\x32\x33\x34")
        fake.card = lambda apdu: (OK, [0x90, 0])
        with pytest.raises(errors.CardRemovedError, match="new transport"):
            transport.transmit(b"\x00\xa4\x04\x0c\x01\xa0")
    assert len(fake.sent) == 1  # the VERIFY went once, nothing after the failure


def test_empty_answer_is_a_removed_card(fake: FakeScard) -> None:
    fake.card = lambda apdu: (OK, [])
    with transport_for_url("pcsc://") as transport, pytest.raises(errors.CardRemovedError):
        transport.transmit(b"\x00\xa4\x04\x0c\x01\xa0")


@pytest.mark.parametrize(
    ("attrib", "url", "extended"),
    [
        ((OK, [0x00, 0x00, 0x01, 0x00]), "pcsc://", True),  # MAXINPUT 65536
        ((OK, [0x05, 0x01, 0x00, 0x00]), "pcsc://", False),  # 261: short only
        ((0x80100011, []), "pcsc://?extended=0", False),
        ((0x80100011, []), "pcsc://ACR?extended=1&wait=0", True),
    ],
)
def test_extended_detection(
    fake: FakeScard, attrib: tuple[int, list[int]], url: str, extended: bool
) -> None:
    fake.attrib = attrib
    fake.readers["ACS ACR1252 00 00"] = True
    with transport_for_url(url) as transport:
        caps = transport.capabilities
    assert caps.extended_length is extended
    assert caps.max_response_bytes == (65538 if extended else 258)


def test_unknown_reader_without_maxinput_is_short(fake: FakeScard) -> None:
    fake.readers = {"ACS ACR1252 00 00": True}
    with transport_for_url("pcsc://") as transport:
        assert not transport.capabilities.extended_length


def test_wait_for_removal(fake: FakeScard) -> None:
    with transport_for_url("pcsc://") as transport:
        assert isinstance(transport, PcscTransport)
        assert not transport.wait_for_removal(0.05)
        fake.readers["Virtual PCD 00 00"] = False
        assert transport.wait_for_removal(1)


def test_list_readers(fake: FakeScard) -> None:
    assert ("Virtual PCD 00 00", True) in pcsc.list_readers()
    assert fake.released == 1


def test_missing_pyscard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(library, "_scard", None)
    transport = transport_for_url("pcsc://")
    with pytest.raises(errors.BackendUnavailableError, match="pyscard"):
        transport.open()
    transport.close()


def test_card_events_report_changes_only(fake: FakeScard) -> None:
    fake.events = [("ACS ACR1252 00 00", True), ("Virtual PCD 00 00", False)]
    with pcsc.card_events(timeout=5) as events:
        assert list(events) == [("ACS ACR1252 00 00", True), ("Virtual PCD 00 00", False)]
    assert fake.released == 1
    events.close()  # twice is harmless
    assert fake.released == 1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_urls_parse_or_raise_typed(tail: str) -> None:
    with contextlib.suppress(errors.InvalidReaderUrlError):
        parse_pcsc_url("pcsc://" + tail)
