# SPDX-License-Identifier: Apache-2.0
"""Raw chip access for the device operations: a card session and the secret-bearing check.

Why raw access at all: an XFS4IoT application (``host/xfs4iot``) drives the
card reader itself (``CardReader.ChipIO``, ``ChipPower``), so the agent
passes its APDUs through. Why a guard: the ATM profile takes PINs only
from the secure PIN pad (PCI PIN, docs/terminal-api.md §2), so a command
APDU that would carry a secret through the API (VERIFY with data, CHANGE
REFERENCE DATA, RESET RETRY COUNTER, their odd-INS forms) is refused;
the application presents the PIN the pad collected with PresentPin, which
builds the VERIFY inside the agent. The empty VERIFY (tries left, no
secret) stays allowed.

``ChipSession`` runs every transport call in one worker thread, like
``ThreadedCard`` (DESIGN "Concurrency"), and is closed twice harmlessly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar

from host.transport import open_transport
from host.transport.base import CardTransport

__all__ = ["SECRET_INS", "ChipSession", "command_body", "is_secret_bearing"]

_T = TypeVar("_T")

#: VERIFY (20/21), CHANGE REFERENCE DATA (24/25), RESET RETRY COUNTER (2C/2D).
SECRET_INS: Final = frozenset({0x20, 0x21, 0x24, 0x25, 0x2C, 0x2D})
#: The longest command APDU: extended header (7) + 65535 data + 3 bytes of Le.
_MAX_APDU: Final = 7 + 65535 + 3


def command_body(apdu: bytes) -> bytes:
    """The data field of a command APDU (ISO 7816-4 §5.1, cases 1-4, short or extended).

    Raises:
        ValueError: not a well-formed command APDU (too short or long, Lc
            disagreeing with the length, CLA 0xFF).
    """
    n = len(apdu)
    if n < 4 or n > _MAX_APDU:
        raise ValueError(f"a command APDU has 4 to {_MAX_APDU} bytes, not {n}")
    if apdu[0] == 0xFF:
        raise ValueError("CLA 0xFF is invalid (ISO 7816-4 §5.4.1)")
    if n in (4, 5):  # case 1, case 2 short
        return b""
    if apdu[4] != 0:  # short Lc
        lc = apdu[4]
        if n in (5 + lc, 6 + lc):
            return apdu[5 : 5 + lc]
        raise ValueError("the short Lc disagrees with the APDU's length")
    if n == 7:  # case 2 extended (00 Le Le)
        return b""
    lc = int.from_bytes(apdu[5:7], "big")
    if lc and n in (7 + lc, 9 + lc):
        return apdu[7 : 7 + lc]
    raise ValueError("the extended Lc disagrees with the APDU's length")


def is_secret_bearing(apdu: bytes) -> bool:
    """Whether ``apdu`` would carry a PIN or password to the card.

    Raises:
        ValueError: not a well-formed command APDU.
    """
    body = command_body(apdu)
    return apdu[1] in SECRET_INS and bool(body)


class ChipSession:
    """One card session on a reader URL, opened by ``power`` and ended by ``off``.

    Args:
        url: the agent's reader URL (``sim://``, ``pcsc://``, ``libnfc://``).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chip")
        self._transport: CardTransport | None = None
        self._closed = False

    @property
    def powered(self) -> bool:
        """Whether a card session is open."""
        return self._transport is not None

    async def _run(self, fn: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _open(self, *, reset: bool) -> bytes:
        if reset:
            self._close()
        if self._transport is None:
            transport = open_transport(self.url)
            try:
                transport.open()
            except BaseException:
                transport.close()
                raise
            self._transport = transport
        return self._transport.atr

    def _close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()

    async def power(self, *, reset: bool) -> bytes:
        """Open the session (``reset``: close and reopen it); returns the ATR.

        Raises:
            NoCardError, TransportError: no card, or the reader failed.
        """
        return await self._run(lambda: self._open(reset=reset))

    async def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU, opening the session first if needed.

        A reader failure ends the session (the next call reopens it).

        Raises:
            NoCardError, CardRemovedError, TransportError: as the transport raises.
        """

        def work() -> bytes:
            self._open(reset=False)
            assert self._transport is not None
            try:
                return self._transport.transmit(apdu)
            except Exception:
                self._close()
                raise

        return await self._run(work)

    async def off(self) -> None:
        """End the session; harmless when none is open."""
        await self._run(self._close)

    async def aclose(self) -> None:
        """End the session and stop the worker thread; harmless twice."""
        if not self._closed:
            self._closed = True
            await self.off()
            self._executor.shutdown(wait=True)
