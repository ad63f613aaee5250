# SPDX-License-Identifier: Apache-2.0
"""``PcscTransport``: the ``pcsc://`` backend's transport (see ``host.transport.pcsc``).

Why apart: the hooks (open, transmit, close) over pyscard, with reader
choice and extended-length detection; URL parsing and the error table live
in their own modules.
"""

from __future__ import annotations

import logging
import time
from typing import Final

from host.errors import CardRemovedError, NoCardError, ReaderNotFoundError, TransportError
from host.transport.base import CardTransport, TransportCapabilities
from host.transport.pcsc.library import (
    S_OK,
    card_present,
    establish,
    lib,
    pcsc_error,
    reader_names,
)
from host.transport.pcsc.url import parse_pcsc_url

__all__ = ["PcscTransport"]

_log = logging.getLogger(__name__)

_SHORT_MAX_RESPONSE: Final = 258
_EXTENDED_MAX_RESPONSE: Final = 65538
#: Reader names (prefixes) known to carry extended APDUs when they do not
#: report SCARD_ATTR_MAXINPUT: vpcd forwards up to 64 KiB (toolchain.md).
_EXTENDED_READERS: Final = ("Virtual PCD",)
_POLL_MS: Final = 100


class PcscTransport(CardTransport):
    """A card in a PC/SC reader (URL grammar and errors: ``host.transport.pcsc``)."""

    scheme = "pcsc"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._parsed = parse_pcsc_url(url)
        self._context: int | None = None
        self._card: int | None = None
        self._protocol = 0
        self._reader = ""
        self._atr = b""
        self._extended = False
        self._failed: TransportError | None = None

    @property
    def atr(self) -> bytes:
        """The ATR pcscd reported (empty before open)."""
        return self._atr

    @property
    def reader(self) -> str:
        """The PC/SC name of the reader in use (empty before open)."""
        return self._reader

    @property
    def capabilities(self) -> TransportCapabilities:
        """Extended length as the reader allows (see ``extended=``)."""
        if self._extended:
            return TransportCapabilities(True, _EXTENDED_MAX_RESPONSE)
        return TransportCapabilities(False, _SHORT_MAX_RESPONSE)

    def wait_for_removal(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the card to leave; return whether it did."""
        if self._context is None:
            return True
        deadline = time.monotonic() + timeout
        while True:
            if not card_present(self._context, self._reader):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_MS / 1000)

    def _open(self) -> None:
        scard = lib()
        self._context = establish()
        try:
            self._reader = self._choose_reader()
            share = (
                scard.SCARD_SHARE_EXCLUSIVE
                if self._parsed.share == "exclusive"
                else scard.SCARD_SHARE_SHARED
            )
            wanted = {
                "t0": scard.SCARD_PROTOCOL_T0,
                "t1": scard.SCARD_PROTOCOL_T1,
                "any": scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
            }[self._parsed.protocol]
            code, card, protocol = scard.SCardConnect(self._context, self._reader, share, wanted)
            if code != S_OK:
                raise pcsc_error(code, f"connect to the card in {self._reader!r}")
            self._card, self._protocol = card, protocol
            self._atr = self._read_atr()
            self._extended = self._detect_extended()
        except BaseException:
            self._close()
            raise
        _log.debug("pcsc: %s, protocol %d, extended %s", self._reader, protocol, self._extended)

    def _choose_reader(self) -> str:
        assert self._context is not None
        deadline = time.monotonic() + self._parsed.wait
        while True:
            readers = reader_names(self._context)
            chosen = self._match(readers)
            if chosen is not None and card_present(self._context, chosen):
                return chosen
            if time.monotonic() >= deadline:
                if not readers:
                    raise ReaderNotFoundError("no PC/SC readers")
                if chosen is None and (self._parsed.name or self._parsed.index is not None):
                    raise ReaderNotFoundError(f"no PC/SC reader matches {self._parsed.name!r}")
                raise NoCardError(f"no card in {chosen or 'any PC/SC reader'}")
            time.sleep(_POLL_MS / 1000)

    def _match(self, readers: list[str]) -> str | None:
        wanted = self._parsed
        if wanted.index is not None:
            return readers[wanted.index] if wanted.index < len(readers) else None
        if not wanted.name:
            assert self._context is not None
            return next((r for r in readers if card_present(self._context, r)), None)
        if wanted.name in readers:
            return wanted.name
        hits = [r for r in readers if wanted.name.lower() in r.lower()]
        return hits[0] if len(hits) == 1 else None

    def _read_atr(self) -> bytes:
        code, _name, _state, _protocol, atr = lib().SCardStatus(self._card)
        if code != S_OK:
            raise pcsc_error(code, "read the ATR")
        return bytes(atr)

    def _detect_extended(self) -> bool:
        if self._parsed.extended is not None:
            return self._parsed.extended
        scard = lib()
        code, value = scard.SCardGetAttrib(self._card, scard.SCARD_ATTR_MAXINPUT)
        if code == S_OK and len(value) >= 4:
            return int.from_bytes(bytes(value[:4]), "little") > 261
        return self._reader.startswith(_EXTENDED_READERS)

    def _transmit(self, command: bytes) -> bytes:
        if self._failed is not None:
            raise type(self._failed)(f"{self._failed} (open a new transport)")
        if self._card is None:
            raise CardRemovedError("no card session")
        code, response = lib().SCardTransmit(self._card, self._protocol, list(command))
        if code != S_OK:
            self._failed = pcsc_error(code, "transmit")
            raise self._failed
        if not response:
            # vpcd (and some readers) report a card gone mid-command this way.
            self._failed = CardRemovedError("the card gave no answer (removed mid-command?)")
            raise self._failed
        return bytes(response)

    def _close(self) -> None:
        card, self._card = self._card, None
        context, self._context = self._context, None
        if card is None and context is None:
            return
        scard = lib()
        if card is not None:
            scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
        if context is not None:
            scard.SCardReleaseContext(context)
