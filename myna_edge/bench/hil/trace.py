# SPDX-License-Identifier: Apache-2.0
"""The exchanges a real reader carried, as the transport's observers see them.

Why: against hardware there is no virtual card's APDU log to count from,
so hardware-in-the-loop runs count APDUs and bytes, and take each
exchange's path time (the backend's transmit, without the host stack),
from the already redacted observer events. Each exchange also becomes an
``ApduLogEntry`` (header and lengths only, no data), so the simulator's
timing model can price the very same trace: the modelled figure next to
the measured one.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from host.transport.base import ApduEvent, CardTransport, Direction
from hw_sim.card.apdu_log import ApduLogEntry
from hw_sim.card.timing import LinkTiming, modelled_seconds

__all__ = ["Exchange", "ExchangeTrace", "median_ms", "summarize"]

_HEADER = 4


@dataclass(frozen=True)
class Exchange:
    """One command and its answer: header, true lengths, status word, path time."""

    header: bytes
    command_length: int
    response_length: int
    sw: int
    seconds: float

    @property
    def ins(self) -> int:
        """The instruction byte (-1 for a runt command)."""
        return self.header[1] if len(self.header) > 1 else -1

    def log_entry(self) -> ApduLogEntry:
        """The exchange as the virtual card would log it (for the timing model)."""
        return ApduLogEntry(
            self.header, self.command_length, self.response_length, self.sw, 0.0, self.seconds
        )


@dataclass
class ExchangeTrace:
    """An observer that records every exchange on one transport."""

    exchanges: list[Exchange] = field(default_factory=list)
    _pending: tuple[bytes, int] | None = None

    def __call__(self, event: ApduEvent) -> None:
        if event.direction is Direction.COMMAND:
            self._pending = (event.apdu.data[:_HEADER], event.apdu.length)
            return
        if self._pending is None:
            return
        header, length = self._pending
        self._pending = None
        tail = event.apdu.data[-2:]
        sw = int.from_bytes(tail, "big") if len(tail) == 2 else 0
        self.exchanges.append(
            Exchange(header, length, event.apdu.length, sw, event.elapsed_s or 0.0)
        )

    def attach(self, transport: CardTransport) -> ExchangeTrace:
        """Observe ``transport`` from now on; return self."""
        transport.add_observer(self)
        return self

    def mark(self) -> int:
        """A position to measure from (see ``since``)."""
        return len(self.exchanges)

    def since(self, mark: int) -> list[Exchange]:
        """The exchanges recorded after ``mark``."""
        return self.exchanges[mark:]

    def last(self) -> Exchange:
        """The latest complete exchange.

        Raises:
            LookupError: nothing was recorded.
        """
        if not self.exchanges:
            raise LookupError("no exchange recorded")
        return self.exchanges[-1]


def summarize(exchanges: list[Exchange], link: LinkTiming | None = None) -> dict[str, object]:
    """APDUs, bytes, measured path time and the model's time for the same exchanges."""
    return {
        "apdus": len(exchanges),
        "command_bytes": sum(e.command_length for e in exchanges),
        "response_bytes": sum(e.response_length for e in exchanges),
        "path_ms": round(sum(e.seconds for e in exchanges) * 1000, 3),
        "model_ms": round(modelled_seconds([e.log_entry() for e in exchanges], link) * 1000, 3),
    }


def median_ms(values: list[float]) -> float:
    """Median of ``values`` (seconds) in ms, 0 for none."""
    return round(statistics.median(values) * 1000, 3) if values else 0.0
