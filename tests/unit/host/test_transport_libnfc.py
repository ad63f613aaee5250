# SPDX-License-Identifier: Apache-2.0
"""host.transport.libnfc: URL grammar, ATR synthesis, error mapping, the 263-byte cap.

The layer below is libnfc through ``nfc_binding``; here a behavioural fake
of its calls (a Type B target, scripted transceive results). The real
libnfc → pty → PN532 emulator path runs in tests/integration.
"""

from __future__ import annotations

import contextlib
import ctypes
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host import errors
from host.transport import nfc_binding as nb
from host.transport import transport_for_url
from host.transport.libnfc import (
    LibnfcTransport,
    fuzz_type_a_atr,
    parse_libnfc_url,
    type_a_atr,
    type_b_atr,
)


@pytest.mark.parametrize(
    ("url", "connstring", "timeout", "wait"),
    [
        ("libnfc://pn532_uart:/dev/ttyUSB0", "pn532_uart:/dev/ttyUSB0", 2.5, 0.0),
        (
            "libnfc://pn532_uart:/dev/ttyS0:115200?timeout=1&wait=3",
            "pn532_uart:/dev/ttyS0:115200",
            1.0,
            3.0,
        ),
        ("libnfc://", "", 2.5, 0.0),
    ],
)
def test_url_grammar(url: str, connstring: str, timeout: float, wait: float) -> None:
    parsed = parse_libnfc_url(url)
    assert (parsed.connstring, parsed.timeout, parsed.wait) == (connstring, timeout, wait)
    assert "LibnfcUrl" in repr(parsed)


@pytest.mark.parametrize(
    "url",
    [
        "pcsc://x",
        "libnfc:pn532",
        "libnfc://x?speed=1",
        "libnfc://x?timeout=0",
        "libnfc://x?timeout=abc",
        "libnfc://x?wait=-1",
        "libnfc://x?timeout=1&timeout=2",
        "libnfc://x?=",
        "libnfc://" + "a" * 1100,
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(errors.InvalidReaderUrlError):
        parse_libnfc_url(url)


def test_type_b_atr_matches_a_real_card_atr() -> None:
    # jpki-card.md §1.2 (PCSCT): 3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F
    atr = type_b_atr(bytes.fromhex("000005E0"), bytes.fromhex("B381A1"))
    assert atr == bytes.fromhex("3B8880010000 05E0B381A1007F")


class Nbi(ctypes.Structure):
    _fields_ = [
        ("abtPupi", ctypes.c_ubyte * 4),
        ("abtApplicationData", ctypes.c_ubyte * 4),
        ("abtProtocolInfo", ctypes.c_ubyte * 3),
        ("ui8CardIdentifier", ctypes.c_ubyte),
    ]


class Nai(ctypes.Structure):
    _pack_ = 1
    _fields_ = [
        ("abtAtqa", ctypes.c_ubyte * 2),
        ("btSak", ctypes.c_ubyte),
        ("szUidLen", ctypes.c_size_t),
        ("abtUid", ctypes.c_ubyte * 10),
        ("szAtsLen", ctypes.c_size_t),
        ("abtAts", ctypes.c_ubyte * 254),
    ]


class Nti(ctypes.Union):
    _fields_ = [("nbi", Nbi), ("nai", Nai), ("raw", ctypes.c_ubyte * 283)]


class Target(ctypes.Structure):
    """libnfc's nfc_target, reduced to what the transport reads."""

    _fields_ = [("nti", Nti), ("nm", ctypes.c_int * 2)]


class FakeNfc:
    """Enough of pynfc.nfc (as fixed by nfc_binding) for LibnfcTransport."""

    NMT_ISO14443A = 1
    NMT_ISO14443B = 3
    NBR_106 = 1
    NP_INFINITE_SELECT = 7

    class nfc_context(ctypes.Structure):  # noqa: N801 - libnfc's name, looked up by the transport
        _fields_ = [("x", ctypes.c_int)]

    def __init__(self) -> None:
        self.select_result = 1
        self.type_a_ats: bytes | None = None  # a Type A target answers (Type B does not)
        self.polled: list[int] = []
        self.open_ok = True
        self.answers: list[bytes | int] = []
        self.sent: list[bytes] = []
        self.closed = 0
        self.exited = 0
        self._context = FakeNfc.nfc_context(1)

    def nfc_init(self, ref: Any) -> None:
        ref._obj.contents = self._context  # byref(POINTER) -> fill the pointer

    def nfc_open(self, context: Any, connstring: bytes | None) -> Any:
        return ctypes.pointer(ctypes.c_int(5)) if self.open_ok else None

    def nfc_initiator_init(self, device: Any) -> int:
        return 0

    def nfc_device_set_property_bool(self, device: Any, prop: int, value: bool) -> int:
        return 0

    def nfc_modulation(self, nmt: int, nbr: int) -> tuple[int, int]:
        return (nmt, nbr)

    def nfc_target(self) -> Any:
        return Target()

    def nfc_initiator_select_passive_target(self, *args: Any) -> int:
        target: Target = args[-1]._obj
        self.polled.append(args[1][0])
        if self.type_a_ats is not None:
            if args[1][0] != self.NMT_ISO14443A:
                return 0
            ats = self.type_a_ats
            target.nti.nai.szAtsLen = len(ats)
            target.nti.nai.abtAts[: len(ats)] = list(ats)
            return 1
        target.nti.nbi.abtApplicationData[:] = [0, 0, 5, 0xE0]
        target.nti.nbi.abtProtocolInfo[:] = [0xB3, 0x81, 0xA1]
        return self.select_result

    def nfc_initiator_transceive_bytes(
        self, device: Any, tx: Any, n: int, rx: Any, size: int, timeout: int
    ) -> int:
        self.sent.append(bytes(tx[:n]))
        answer = self.answers.pop(0) if self.answers else b"\x90\x00"
        if isinstance(answer, int):
            return answer
        rx[: len(answer)] = list(answer)
        return len(answer)

    def nfc_initiator_deselect_target(self, device: Any) -> int:
        return 0

    def nfc_close(self, device: Any) -> None:
        self.closed += 1

    def nfc_exit(self, context: Any) -> None:
        self.exited += 1


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeNfc:
    lib = FakeNfc()
    monkeypatch.setattr(nb, "load", lambda: lib)
    return lib


URL = "libnfc://pn532_uart:/dev/pts/9"


def test_open_select_transmit_close(fake: FakeNfc) -> None:
    with transport_for_url(URL) as transport:
        assert isinstance(transport, LibnfcTransport)
        assert transport.atr == bytes.fromhex("3B88800100000 5E0B381A1007F".replace(" ", ""))
        caps = transport.capabilities
        assert (caps.extended_length, caps.max_response_bytes) == (False, 263)
        assert transport.transmit(b"\x00\xa4\x04\x0c\x01\xa0") == b"\x90\x00"
    assert fake.closed == 1
    assert fake.exited == 1


def test_no_device_no_card(fake: FakeNfc) -> None:
    fake.open_ok = False
    with pytest.raises(errors.ReaderNotFoundError):
        transport_for_url(URL).open()
    fake.open_ok = True
    fake.select_result = 0
    with pytest.raises(errors.NoCardError):
        transport_for_url(URL).open()
    fake.select_result = -1
    with pytest.raises(errors.TransportError, match="libnfc error -1"):
        transport_for_url(URL).open()
    assert fake.exited == 3  # every failed open released libnfc


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (nb.NFC_ETIMEOUT, errors.TransportTimeoutError),
        (nb.NFC_ETGRELEASED, errors.CardRemovedError),
        (nb.NFC_ERFTRANS, errors.CardRemovedError),
        (nb.NFC_ECHIP, errors.TransportError),
        (nb.NFC_EIO, errors.TransportError),
    ],
)
def test_transceive_errors_are_typed_and_final(
    fake: FakeNfc, code: int, cls: type[Exception]
) -> None:
    fake.answers = [code]
    with transport_for_url(URL) as transport:
        with pytest.raises(cls) as info:
            transport.transmit(b"\x00\x20\x00\x80\x04\x31\x32\x33\x34")
        assert type(info.value) is cls
        with pytest.raises(cls, match="new transport"):
            transport.transmit(b"\x00\xa4\x04\x0c\x01\xa0")
    assert len(fake.sent) == 1  # never resent


def test_long_commands_are_refused_before_libnfc(fake: FakeNfc) -> None:
    with transport_for_url(URL) as transport, pytest.raises(errors.TransportError, match="262"):
        transport.transmit(b"\x00\xd6\x00\x00\xff" + bytes(258))
    assert fake.sent == []


def test_backend_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> Any:
        raise ImportError("no pynfc")

    monkeypatch.setattr(nb, "load", missing)
    with pytest.raises(errors.BackendUnavailableError, match="pynfc"):
        transport_for_url(URL).open()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_urls_parse_or_raise_typed(tail: str) -> None:
    with contextlib.suppress(errors.InvalidReaderUrlError):
        parse_libnfc_url("libnfc://" + tail)


def test_type_b_is_polled_first_and_a_card_never_sees_type_a(fake: FakeNfc) -> None:
    with transport_for_url(URL):
        pass
    assert fake.polled == [FakeNfc.NMT_ISO14443B]


def test_a_type_a_phone_is_found_after_type_b(fake: FakeNfc) -> None:
    fake.type_a_ats = bytes.fromhex("78807002") + b"JPKI-IOS"  # T0 TA TB TC + historical
    with transport_for_url(URL) as transport:
        assert transport.atr == type_a_atr(fake.type_a_ats)
        assert transport.atr[4:-1] == b"JPKI-IOS"
        assert transport.transmit(b"\x00\xa4\x04\x0c\x01\xa0") == b"\x90\x00"
    assert fake.polled == [FakeNfc.NMT_ISO14443B, FakeNfc.NMT_ISO14443A]


@pytest.mark.parametrize(
    ("ats", "atr"),
    [
        (b"", "3B 80 80 01 01"),
        (bytes.fromhex("F0 01"), "3B 80 80 01 01"),  # T0 bit 8 reserved
        (bytes.fromhex("70 80"), "3B 80 80 01 01"),  # TB, TC announced, missing
        (bytes.fromhex("00 41 42"), "3B 82 80 01 41 42 00"),
    ],
)
def test_type_a_atr_edge_cases(ats: bytes, atr: str) -> None:
    assert type_a_atr(ats) == bytes.fromhex(atr)


@settings(max_examples=300)
@given(st.binary(max_size=60))
def test_fuzz_type_a_atr(data: bytes) -> None:
    fuzz_type_a_atr(data)
