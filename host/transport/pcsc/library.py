# SPDX-License-Identifier: Apache-2.0
"""pyscard's ``smartcard.scard`` for the ``pcsc://`` backend, and its return codes.

Why apart: the PC/SC calls every part of the backend shares (context,
reader list, card presence) and the one table that translates PC/SC return
codes into host errors (STYLE §3: translate once, at the edge). pyscard is
optional and untyped: it is imported here so a missing one fails on use,
never on import.
"""

from __future__ import annotations

import importlib
from typing import Any, Final

from host.errors import (
    BackendUnavailableError,
    CardRemovedError,
    NoCardError,
    ReaderBusyError,
    ReaderNotFoundError,
    TransportError,
    TransportTimeoutError,
)

_scard: Any
try:
    _scard = importlib.import_module("smartcard.scard")
except ImportError:  # pragma: no cover - exercised only without pyscard
    _scard = None

__all__ = [
    "S_OK",
    "TIMEOUT",
    "card_present",
    "establish",
    "lib",
    "list_readers",
    "pcsc_error",
    "reader_names",
]

S_OK: Final = 0x00000000
TIMEOUT: Final = 0x8010000A
_NO_READERS: Final = 0x8010002E
# PC/SC return codes (pcsc-lite pcsclite.h), as unsigned 32-bit values.
_ERRORS: Final[dict[int, tuple[type[TransportError], str]]] = {
    0x8010002E: (ReaderNotFoundError, "no PC/SC readers"),
    0x80100009: (ReaderNotFoundError, "unknown reader"),
    0x80100017: (ReaderNotFoundError, "the reader was removed"),
    0x8010000C: (NoCardError, "no card in the reader"),
    0x80100069: (CardRemovedError, "the card was removed"),
    0x80100068: (CardRemovedError, "the card was reset by another process"),
    0x80100067: (CardRemovedError, "the card is not powered"),
    0x80100066: (CardRemovedError, "the card does not respond"),
    0x80100016: (CardRemovedError, "the card stopped answering mid-command"),
    0x8010000B: (ReaderBusyError, "another process holds the card"),
    0x8010001D: (BackendUnavailableError, "the PC/SC service (pcscd) is not running"),
    0x8010001E: (BackendUnavailableError, "the PC/SC service (pcscd) stopped"),
    0x80100003: (BackendUnavailableError, "the PC/SC session is gone (pcscd restarted?)"),
    0x8010000A: (TransportTimeoutError, "the PC/SC call timed out"),
}


def pcsc_error(code: int, action: str) -> TransportError:
    """Translate a PC/SC return code into the host's error for ``action``."""
    code &= 0xFFFFFFFF
    cls, text = _ERRORS.get(code, (TransportError, "PC/SC error"))
    return cls(f"{action}: {text} (0x{code:08X})")


def lib() -> Any:
    """pyscard's scard module.

    Raises:
        BackendUnavailableError: pyscard is not installed.
    """
    if _scard is None:
        raise BackendUnavailableError(
            "pcsc:// needs pyscard: run `make debs-demo` (as root: swig, libpcsclite-dev)"
            " then `make demo`, or `pip install pyscard` with those packages installed"
        )
    return _scard


def establish() -> int:
    """A new PC/SC context (release it with ``SCardReleaseContext``)."""
    scard = lib()
    code, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if code != S_OK:
        raise pcsc_error(code, "connect to pcscd")
    return int(context)


def reader_names(context: int) -> list[str]:
    """The readers pcscd knows (none is not an error)."""
    code, readers = lib().SCardListReaders(context, [])
    if code & 0xFFFFFFFF == _NO_READERS:
        return []
    if code != S_OK:
        raise pcsc_error(code, "list readers")
    return list(readers)


def card_present(context: int, reader: str) -> bool:
    """Whether ``reader`` holds a card right now."""
    scard = lib()
    code, states = scard.SCardGetStatusChange(context, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
    if code != S_OK:
        raise pcsc_error(code, f"status of {reader!r}")
    return bool(states[0][1] & scard.SCARD_STATE_PRESENT)


def list_readers() -> list[tuple[str, bool]]:
    """Return (reader name, card present) for every PC/SC reader.

    Raises:
        BackendUnavailableError: pyscard missing or pcscd not running.
        TransportError: another PC/SC failure.
    """
    context = establish()
    try:
        return [(reader, card_present(context, reader)) for reader in reader_names(context)]
    finally:
        lib().SCardReleaseContext(context)
