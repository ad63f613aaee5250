# SPDX-License-Identifier: Apache-2.0
"""Where a flow's wall time goes: the instrumentation of ``myna-edge bench flows``.

Why a module of its own: the split needs hooks at the boundaries of the
flow's ports, and those hooks must not live in the flows themselves (they
would cost every production run a timer). Each hook wraps one boundary and
charges the time spent behind it to a part: ``card`` (the transport's
``transmit``; on the simulator the virtual card's engine, RSA included),
``link`` (the receipt printer's serial I/O: status requests and the ESC/POS
bytes), ``verifier`` (awaiting the verifier client's RPCs: mTLS round trip
and the server's work). Whatever the wall time has left is ``host``: the
flow machine, journal fsyncs, thread hand-offs, the event loop.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any, Final

from host.client import VerifierClient
from host.flows import ThreadedCard
from host.flows.printer_port import ThreadedPrinter
from host.peripherals.escpos import Receipt
from host.transport.sim import SimTransport
from hw_sim.card.apdu_log import ApduLogEntry

__all__ = [
    "SPLIT_PARTS",
    "ApduRecorder",
    "RecordingCard",
    "Run",
    "Spent",
    "TimedClient",
    "TimedPrinter",
    "split",
]

#: One measured run: wall seconds, the card's APDU log, seconds per part.
Run = tuple[float, list[ApduLogEntry], dict[str, float]]

#: Where a flow's wall time goes (see the module docstring); ``host`` is the rest.
SPLIT_PARTS: Final = ("card", "link", "verifier", "host")
#: The verifier client's calls a flow awaits.
_RPCS: Final = (
    "open_session", "verify_card", "authorize_transfer", "commit_transfer", "reverse_transfer",
)  # fmt: skip


class Spent:
    """Seconds spent per part of one run; each part is written by one thread at a time."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(SPLIT_PARTS[:-1], 0.0)

    def reset(self) -> None:
        """Start a new run."""
        self.seconds = dict.fromkeys(self.seconds, 0.0)

    def timed(self, part: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` (sync) charging its time to ``part``."""

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[part] += time.perf_counter() - started

        return wrapper

    def timed_async(self, part: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` (a coroutine function) charging its time to ``part``."""

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.seconds[part] += time.perf_counter() - started

        return wrapper


class ApduRecorder(ThreadedCard):
    """The recording hooks, for any ``ThreadedCard`` subclass: call ``_record_into`` first.

    Why a base of its own: the counter check's card (``ThreadedCounterCard``)
    needs the same hooks as the plain one, with another constructor.
    """

    entries: list[ApduLogEntry]
    _spent: Spent
    _timed: object

    def _record_into(self, spent: Spent) -> None:
        self.entries, self._spent, self._timed = [], spent, None

    def _open(self) -> None:
        super()._open()
        transport = self._transport
        if transport is not None and transport is not self._timed:
            self._timed = transport
            transport.transmit = self._spent.timed("card", transport.transmit)  # type: ignore[method-assign]

    def _close(self) -> None:
        transport = self._transport
        if isinstance(transport, SimTransport):
            self.entries.extend(transport.virtual_card.apdu_log.entries)
        super()._close()


class RecordingCard(ApduRecorder):
    """Keeps the virtual card's APDU log of the session; times ``transmit``."""

    def __init__(self, url: str, spent: Spent) -> None:
        super().__init__(url)
        self._record_into(spent)


class TimedPrinter(ThreadedPrinter):
    """Charges the receipt's serial I/O (status requests, ESC/POS bytes) to ``link``."""

    def __init__(self, url: str, spent: Spent) -> None:
        super().__init__(url)
        self._spent = spent

    def _print(self, receipt: Receipt) -> None:
        self._spent.timed("link", super()._print)(receipt)


class TimedClient:
    """The verifier client with its RPCs charged to ``verifier``; the rest passes through."""

    def __init__(self, client: VerifierClient, spent: Spent) -> None:
        self._client, self._spent = client, spent

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        return self._spent.timed_async("verifier", attribute) if name in _RPCS else attribute


def split(runs: list[Run]) -> dict[str, object]:
    """Mean milliseconds per part (means add up to the mean wall time) and shares."""
    means = {part: statistics.fmean(r[2][part] for r in runs) for part in SPLIT_PARTS}
    wall = statistics.fmean(r[0] for r in runs)
    return {
        "time_split_ms": {part: round(value * 1000, 3) for part, value in means.items()},
        "mean_wall_ms": round(wall * 1000, 3),
        "time_split_share_of_wall": {part: round(v / wall, 4) for part, v in means.items()},
    }
