# SPDX-License-Identifier: Apache-2.0
"""``libnfc://``: a card on an NFC controller driven by libnfc, through pynfc.

Device: a PN532-class controller on a UART (``pn532_uart``) or any other
libnfc driver. Polling order: ISO 14443-4 **Type B** at 106 kbps first (the
My Number card, jpki-card.md §1.1), then ISO 14443-4 **Type A** at 106 kbps
(a smartphone: an iPhone answers Type A only; an Android answers both and is
found on B). Why B first: the card's path stays byte for byte what it was
(the same single ``InListPassiveTarget 4A 01 03 00`` on open, pn532.md §6),
and the Type A poll costs one more command only when no Type B target
answered. With libnfc's default ``NP_AUTO_ISO14443_4`` the PN532 sends RATS
itself, so a Type A target is ISO-DEP activated like a Type B one. APDUs go
through ``nfc_initiator_transceive_bytes`` (the PN532 does the ISO-DEP
block protocol). pynfc's declarations are fixed in
``host.transport.nfc_binding``.

URL grammar::

    libnfc://CONNSTRING[?timeout=SECONDS&wait=SECONDS]

    CONNSTRING  a libnfc connection string: pn532_uart:/dev/ttyUSB0,
                pn532_uart:/dev/ttyS0:115200, ...; empty = libnfc's default
                device (LIBNFC_DEFAULT_DEVICE / libnfc.conf)
    timeout     per-APDU timeout (default 2.5 s: FWI 13 cards answer in 2.5 s)
    wait        seconds to poll for a card on open (default 0: poll once)

Capabilities:

    ===================  =====  ===========================================
    extended length      no     libnfc receives into a 264-byte buffer
    max response bytes   263    R-APDU incl. SW (pynfc-notes.md; pn532.md §4.3)
    ATR                  yes    PC/SC part 3 style: Type B ``3B 88 80 01 <AppData
                                ProtoInfo> 00 TCK``; Type A ``3B 8n 80 01 <ATS
                                historical bytes> TCK``
    card removal         yes    ``CardRemovedError`` (target released/gone)
    ===================  =====  ===========================================

So the driver reads in 256-byte chunks here. Errors: the device cannot be
opened → ``ReaderNotFoundError``; no Type B or Type A target →
``NoCardError``;
target released/gone or RF transmission error → ``CardRemovedError``;
timeout → ``TransportTimeoutError``; anything else → ``TransportError``
with libnfc's code. A failed command is never resent.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from typing import Any, Final
from urllib.parse import parse_qs, unquote

from host.errors import (
    BackendUnavailableError,
    CardRemovedError,
    InvalidReaderUrlError,
    NoCardError,
    ReaderNotFoundError,
    TransportError,
    TransportTimeoutError,
)
from host.transport import nfc_binding as nb
from host.transport.base import CardTransport, TransportCapabilities

__all__ = [
    "MAX_RESPONSE_BYTES",
    "LibnfcTransport",
    "LibnfcUrl",
    "fuzz_type_a_atr",
    "parse_libnfc_url",
    "type_a_atr",
    "type_b_atr",
]

_log = logging.getLogger(__name__)

#: libnfc's 264-byte receive buffer minus the PN532 status byte.
MAX_RESPONSE_BYTES: Final = 263
_QUERY_KEYS: Final = frozenset({"timeout", "wait"})
_POLL_S: Final = 0.1
#: ATS T0 (ISO/IEC 14443-4 §5.2.3): bits 5-7 announce TA, TB, TC.
_ATS_INTERFACE_BYTES: Final = (0x10, 0x20, 0x40)
#: One nibble of the ATR's T0 counts the historical bytes.
_MAX_HISTORICAL: Final = 15
#: libnfc contexts are not thread-safe to create concurrently.
_INIT_LOCK = threading.Lock()


class LibnfcUrl:
    """A parsed ``libnfc://`` URL."""

    __slots__ = ("connstring", "timeout", "wait")

    def __init__(self, connstring: str, timeout: float, wait: float) -> None:
        self.connstring = connstring
        self.timeout = timeout
        self.wait = wait

    def __repr__(self) -> str:
        return f"LibnfcUrl({self.connstring!r}, timeout={self.timeout})"


def parse_libnfc_url(url: str) -> LibnfcUrl:
    """Parse ``libnfc://CONNSTRING[?timeout=S&wait=S]``.

    Raises:
        InvalidReaderUrlError: another scheme or a bad parameter.
    """
    scheme, sep, rest = url.partition("://")
    if scheme != "libnfc" or not sep:
        raise InvalidReaderUrlError(f"not a libnfc:// URL: {url!r}")
    connstring, _, query_text = rest.partition("?")
    try:
        query = parse_qs(query_text, keep_blank_values=True, strict_parsing=bool(query_text))
    except ValueError as exc:
        raise InvalidReaderUrlError(f"malformed query in {url!r}") from exc
    if set(query) - _QUERY_KEYS or any(len(v) != 1 for v in query.values()):
        raise InvalidReaderUrlError(f"unknown or repeated libnfc:// parameter in {url!r}")
    try:
        timeout = float(query.get("timeout", ["2.5"])[0])
        wait = float(query.get("wait", ["0"])[0])
    except ValueError:
        raise InvalidReaderUrlError(f"timeout and wait are seconds in {url!r}") from None
    if not 0 < timeout <= 60 or not 0 <= wait <= 3600:
        raise InvalidReaderUrlError(f"timeout or wait out of range in {url!r}")
    connstring = unquote(connstring)
    if len(connstring) >= 1024 or "#" in rest:
        raise InvalidReaderUrlError(f"bad connection string in {url!r}")
    return LibnfcUrl(connstring, timeout, wait)


def type_b_atr(application_data: bytes, protocol_info: bytes) -> bytes:
    """The ATR a PC/SC Part 3 reader builds for a Type B card (jpki-card.md §1.2)."""
    body = bytes([0x3B, 0x88, 0x80, 0x01]) + application_data + protocol_info + b"\x00"
    tck = 0
    for byte in body[1:]:
        tck ^= byte
    return body + bytes([tck])


def _pcsc_atr(historical: bytes) -> bytes:
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for byte in body:
        tck ^= byte
    return b"\x3b" + body + bytes([tck])


def type_a_atr(ats: bytes) -> bytes:
    """The ATR a PC/SC part 3 reader builds for a Type A ISO-DEP target.

    ``ats`` is the ATS as libnfc stores it (``nai.abtAts``: T0 first, TL
    stripped). The historical bytes follow T0 and the interface bytes T0
    announces (ISO/IEC 14443-4 §5.2). Total, because the ATR only feeds
    detection hints: a malformed ATS gives the ATR with no historical
    bytes, and more than 15 are cut to 15 (the ATR's T0 nibble;
    UNCONFIRMED what a given PC/SC reader does there).
    """
    if not ats or ats[0] & 0x80:
        return _pcsc_atr(b"")
    position = 1 + sum(1 for flag in _ATS_INTERFACE_BYTES if ats[0] & flag)
    if position > len(ats):
        return _pcsc_atr(b"")
    return _pcsc_atr(ats[position : position + _MAX_HISTORICAL])


def fuzz_type_a_atr(data: bytes) -> None:
    """Fuzz target: ``type_a_atr`` is total and always yields a well-formed ATR."""
    atr = type_a_atr(data)
    tck = 0
    for byte in atr[1:]:
        tck ^= byte
    if atr[0] != 0x3B or tck or len(atr) != 5 + (atr[1] & 0x0F):
        raise AssertionError(f"malformed ATR {atr.hex()} from ATS {data.hex()}")


def _error(code: int, action: str) -> TransportError:
    if code == nb.NFC_ETIMEOUT:
        return TransportTimeoutError(f"{action}: the card or controller did not answer in time")
    if code in (nb.NFC_ETGRELEASED, nb.NFC_ERFTRANS):
        return CardRemovedError(f"{action}: the card left the field (libnfc {code})")
    if code == nb.NFC_ECHIP:
        return TransportError(f"{action}: controller error, or an answer over 263 bytes")
    return TransportError(f"{action}: libnfc error {code}")


class LibnfcTransport(CardTransport):
    """A Type B card or a Type A phone through libnfc (see the module docstring)."""

    scheme = "libnfc"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._parsed = parse_libnfc_url(url)
        self._nfc: Any = None
        self._context: Any = None
        self._device: Any = None
        self._atr = b""
        self._failed: TransportError | None = None

    @property
    def atr(self) -> bytes:
        """A PC/SC-style ATR built from the ATQB or the ATS (empty before open)."""
        return self._atr

    @property
    def capabilities(self) -> TransportCapabilities:
        """Short APDUs only; responses up to 263 bytes."""
        return TransportCapabilities(extended_length=False, max_response_bytes=MAX_RESPONSE_BYTES)

    def _open(self) -> None:
        try:
            self._nfc = nb.load()
        except (ImportError, OSError) as exc:
            raise BackendUnavailableError(f"libnfc:// needs pynfc and libnfc: {exc}") from exc
        nfc = self._nfc
        with _INIT_LOCK:
            context = ctypes.POINTER(nfc.nfc_context)()
            nfc.nfc_init(ctypes.byref(context))
        if not context:
            raise BackendUnavailableError("libnfc could not initialise")
        self._context = context
        try:
            self._connect()
        except BaseException:
            self._close()
            raise

    def _connect(self) -> None:
        nfc = self._nfc
        connstring = self._parsed.connstring.encode() or None
        device = nfc.nfc_open(self._context, connstring)
        if not device:
            raise ReaderNotFoundError(
                f"libnfc cannot open {self._parsed.connstring or 'a device'!r}"
            )
        self._device = device
        if nfc.nfc_initiator_init(device) < 0:
            raise TransportError("libnfc could not put the controller in initiator mode")
        nfc.nfc_device_set_property_bool(device, nfc.NP_INFINITE_SELECT, False)
        # Type B first: the card's path is unchanged (module docstring).
        modulations = (
            nfc.nfc_modulation(nfc.NMT_ISO14443B, nfc.NBR_106),
            nfc.nfc_modulation(nfc.NMT_ISO14443A, nfc.NBR_106),
        )
        target = nfc.nfc_target()
        deadline = time.monotonic() + self._parsed.wait
        while True:
            for index, modulation in enumerate(modulations):
                found = nfc.nfc_initiator_select_passive_target(
                    device, modulation, None, 0, ctypes.byref(target)
                )
                if found < 0 and found != nb.NFC_ETIMEOUT:
                    raise _error(found, "poll for a Type B or Type A target")
                if found > 0:
                    self._atr = self._target_atr(target, type_a=index == 1)
                    return
            if time.monotonic() >= deadline:
                raise NoCardError("no ISO 14443-4 Type B or Type A target in the field")
            time.sleep(_POLL_S)

    @staticmethod
    def _target_atr(target: Any, *, type_a: bool) -> bytes:
        if type_a:
            info = target.nti.nai
            length = min(int(info.szAtsLen), len(info.abtAts))
            return type_a_atr(bytes(info.abtAts[:length]))
        info = target.nti.nbi
        return type_b_atr(bytes(info.abtApplicationData), bytes(info.abtProtocolInfo))

    def _transmit(self, command: bytes) -> bytes:
        if self._failed is not None:
            raise type(self._failed)(f"{self._failed} (open a new transport)")
        if len(command) > 262:
            # libnfc would overflow its command buffer (pn532.md §4.3).
            raise TransportError("libnfc carries command APDUs up to 262 bytes")
        result = nb.transceive(self._nfc, self._device, command, int(self._parsed.timeout * 1000))
        if isinstance(result, int):
            self._failed = _error(result, "transmit")
            raise self._failed
        return result

    def _close(self) -> None:
        nfc, device, context = self._nfc, self._device, self._context
        self._device = self._context = None
        if nfc is None:
            return
        if device:
            nfc.nfc_initiator_deselect_target(device)
            nfc.nfc_close(device)
        if context:
            nfc.nfc_exit(context)
