# SPDX-License-Identifier: Apache-2.0
"""The one interface every card reader backend implements.

``CardTransport`` exchanges raw APDUs with one card. Its public methods do
what every backend needs the same way (open/closed state, redaction, wire
logging at TRACE level, observers, response sanity); a backend fills only the
protected hooks ``_open``, ``_transmit`` and ``_close``, as pyscard's
``transmit`` over ``doTransmit`` and python-can's ``recv`` over
``_recv_internal`` do.
"""

from __future__ import annotations

import logging
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import ClassVar

from host.errors import MalformedResponseError, TransportClosedError
from host.redaction import ApduRedactor, RedactedApdu
from host.trace import TRACE  # re-exported: the level's home is host.trace

__all__ = [
    "TRACE",
    "ApduEvent",
    "CardTransport",
    "Direction",
    "Observer",
    "TransportCapabilities",
    "open_transports",
]

_log = logging.getLogger(__name__)

_OPEN: weakref.WeakSet[CardTransport] = weakref.WeakSet()


def open_transports() -> list[CardTransport]:
    """Transports opened and not yet closed (tests use it to catch leaks)."""
    return [t for t in _OPEN if t.is_open]


class Direction(StrEnum):
    """Which way an APDU travelled."""

    COMMAND = ">"
    RESPONSE = "<"


@dataclass(frozen=True)
class ApduEvent:
    """One APDU as observers see it: already redacted.

    Attributes:
        direction: command or response.
        apdu: the redacted bytes and the true length.
        elapsed_s: for a response, the time since its command was sent.
    """

    direction: Direction
    apdu: RedactedApdu
    elapsed_s: float | None = None


Observer = Callable[[ApduEvent], None]


@dataclass(frozen=True)
class TransportCapabilities:
    """What the reader path can carry.

    Attributes:
        extended_length: extended Lc/Le APDUs pass end to end.
        max_response_bytes: the largest response (data + SW) the path delivers;
            libnfc caps it at 263 bytes (pynfc-notes.md), PC/SC readers vary.
    """

    extended_length: bool = True
    max_response_bytes: int = 65538


class CardTransport(ABC):
    """A connection to one card through one reader.

    Subclasses set ``scheme`` and implement the hooks. Use as a context
    manager; ``close()`` twice is harmless.
    """

    scheme: ClassVar[str] = ""

    def __init__(self, url: str) -> None:
        self._url = url
        self._is_open = False
        self._closed = False
        self._observers: list[Observer] = []
        self._redactor = ApduRedactor()

    # --- public API ---------------------------------------------------------

    @property
    def url(self) -> str:
        """The reader URL this transport was opened with."""
        return self._url

    @property
    def is_open(self) -> bool:
        """Whether the card session is open."""
        return self._is_open

    @property
    @abstractmethod
    def atr(self) -> bytes:
        """The card's answer to reset (do not identify the card by it: §1.2)."""

    @property
    def capabilities(self) -> TransportCapabilities:
        """What this reader path can carry."""
        return TransportCapabilities()

    def open(self) -> CardTransport:
        """Connect to the card.

        Raises:
            TransportError: a subclass saying why (no reader, no card, backend missing).
        """
        if self._closed:
            raise TransportClosedError(f"transport {self._url} was closed")
        if not self._is_open:
            self._open()
            self._is_open = True
            self._redactor.reset()
            _OPEN.add(self)
            _log.debug("opened %s", self._url)
        return self

    def transmit(self, command: bytes) -> bytes:
        """Send one command APDU and return the response APDU (data + SW1 SW2).

        Status words are not checked here: that is the APDU layer's job.

        Raises:
            TransportClosedError: the transport is not open.
            MalformedResponseError: the response is shorter than a status word.
            TransportError: the backend's translation of a reader failure.
        """
        if not self._is_open:
            raise TransportClosedError(f"transport {self._url} is not open")
        shown = self._redactor.command(command)
        self._notify(ApduEvent(Direction.COMMAND, shown))
        started = time.perf_counter()
        response = self._transmit(bytes(command))
        elapsed = time.perf_counter() - started
        if len(response) < 2:
            raise MalformedResponseError(f"response of {len(response)} bytes has no status word")
        self._notify(ApduEvent(Direction.RESPONSE, self._redactor.response(response), elapsed))
        return response

    def add_observer(self, observer: Observer) -> None:
        """Call ``observer`` with every (redacted) APDU from now on."""
        self._observers.append(observer)

    def remove_observer(self, observer: Observer) -> None:
        """Stop calling ``observer``; unknown observers are ignored."""
        if observer in self._observers:
            self._observers.remove(observer)

    def close(self) -> None:
        """Release the card; closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        if self._is_open:
            self._is_open = False
            _OPEN.discard(self)
            self._close()
            _log.debug("closed %s", self._url)

    def __enter__(self) -> CardTransport:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self._is_open else "closed" if self._closed else "new"
        return f"<{type(self).__name__} {self._url} {state}>"

    # --- hooks for backends -------------------------------------------------

    @abstractmethod
    def _open(self) -> None:
        """Connect to the reader and power the card."""

    @abstractmethod
    def _transmit(self, command: bytes) -> bytes:
        """Exchange one APDU; translate backend errors to ``TransportError``s."""

    @abstractmethod
    def _close(self) -> None:
        """Release the card and the reader."""

    # --- internals ----------------------------------------------------------

    def _notify(self, event: ApduEvent) -> None:
        if _log.isEnabledFor(TRACE):
            _log.log(TRACE, "%s %s", event.direction.value, event.apdu.hex())
        for observer in list(self._observers):
            observer(event)
