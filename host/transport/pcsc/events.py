# SPDX-License-Identifier: Apache-2.0
"""Card insertions and removals in PC/SC readers, as pcscd reports them.

Why: a kiosk waits for the card to be tapped and for it to leave; pcscd
wakes ``SCardGetStatusChange`` when either happens, so nothing here polls.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from host.transport.pcsc.library import S_OK, TIMEOUT, establish, lib, pcsc_error, reader_names

__all__ = ["CardEvents", "card_events"]


class CardEvents:
    """Card insertions and removals in every PC/SC reader, as they happen.

    Iterate for ``(reader, card present)`` pairs; the readers' state when
    the object was made is the starting point (only changes are reported).
    Each step blocks in ``SCardGetStatusChange`` — pcscd wakes it, nothing
    polls — and iteration ends when ``timeout`` seconds have passed in all.
    A context manager; ``close()`` twice is harmless.

    Raises:
        BackendUnavailableError: pyscard missing or pcscd not running.
        TransportError: another PC/SC failure.
    """

    def __init__(self, timeout: float) -> None:
        self._lib = lib()
        self._deadline = time.monotonic() + timeout
        self._pending: list[tuple[str, bool]] = []
        self._context: int | None = establish()
        try:
            readers = reader_names(self._context)
            code, self._states = self._lib.SCardGetStatusChange(
                self._context, 0, [(r, self._lib.SCARD_STATE_UNAWARE) for r in readers]
            )
            if code != S_OK:
                raise pcsc_error(code, "read reader states")
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> CardEvents:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[tuple[str, bool]]:
        return self

    def __next__(self) -> tuple[str, bool]:
        scard = self._lib
        while not self._pending:
            left = self._deadline - time.monotonic()
            if self._context is None or left <= 0 or not self._states:
                raise StopIteration
            waiting = [
                (name, flags & ~scard.SCARD_STATE_CHANGED) for name, flags, _ in self._states
            ]
            code, changed = scard.SCardGetStatusChange(self._context, int(left * 1000), waiting)
            if code & 0xFFFFFFFF == TIMEOUT:
                raise StopIteration
            if code != S_OK:
                raise pcsc_error(code, "wait for a card event")
            for (name, before), (_, after, _atr) in zip(waiting, changed, strict=True):
                now = bool(after & scard.SCARD_STATE_PRESENT)
                if bool(before & scard.SCARD_STATE_PRESENT) != now:
                    self._pending.append((name, now))
            self._states = changed
        return self._pending.pop(0)

    def close(self) -> None:
        """Release the PC/SC context."""
        context, self._context = self._context, None
        if context is not None:
            self._lib.SCardReleaseContext(context)


def card_events(timeout: float) -> CardEvents:
    """Card insertions and removals from now on, for ``timeout`` s (``CardEvents``)."""
    return CardEvents(timeout)
