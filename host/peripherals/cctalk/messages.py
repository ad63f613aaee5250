# SPDX-License-Identifier: Apache-2.0
"""ccTalk reply payloads, sans-I/O: event buffers, hopper status, coin and bill ids.

Why the event counter matters: a coin acceptor keeps its last five events
with a counter that counts 1..255 and wraps to 1 (0 only after power-up or
reset), so a host that lost a reply reads the same buffer again and credits
nothing twice. ``EventTracker`` turns successive buffers into the new events,
and refuses (typed) when more than five were missed or the device reset,
because credit may then have been lost and the operator must count the
cashbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from host.peripherals.cctalk.errors import CcTalkError, CcTalkFrameError

__all__ = [
    "EVENT_SLOTS",
    "EventBuffer",
    "EventTracker",
    "HopperStatus",
    "parse_bill_id",
    "parse_coin_id",
    "parse_event_buffer",
    "parse_hopper_status",
    "parse_scaling",
]

#: Events one buffer holds (229 and 159 both answer counter + 5 pairs).
EVENT_SLOTS: Final = 5


@dataclass(frozen=True, slots=True)
class EventBuffer:
    """A 229/159 reply: the counter and five (result A, result B) pairs, newest first."""

    counter: int
    events: tuple[tuple[int, int], ...]


def parse_event_buffer(data: bytes) -> EventBuffer:
    """Parse a 229 or 159 reply.

    Raises:
        CcTalkFrameError: not 11 bytes.
    """
    if len(data) != 1 + 2 * EVENT_SLOTS:
        raise CcTalkFrameError(f"an event buffer is 11 bytes, not {len(data)}")
    pairs = tuple((data[i], data[i + 1]) for i in range(1, len(data), 2))
    return EventBuffer(data[0], pairs)


def _distance(previous: int, counter: int) -> int:
    """Events between two counter values on the 1..255 ring (0 is reset only)."""
    if previous == 0:
        return counter
    return (counter - previous) % 255


class EventTracker:
    """Remembers the last counter seen and yields only new events, oldest first."""

    def __init__(self) -> None:
        self.counter: int | None = None

    def sync(self, buffer: EventBuffer) -> None:
        """Take ``buffer`` as the baseline: events already in it are old."""
        self.counter = buffer.counter

    def advance(self, buffer: EventBuffer) -> list[tuple[int, int]]:
        """The events in ``buffer`` newer than the last one seen, oldest first.

        Raises:
            CcTalkError: the device reset (counter back to 0) or more than
                five events happened since the last read (credit may be lost).
        """
        if self.counter is None:
            self.sync(buffer)
            return []
        if buffer.counter == 0 and self.counter != 0:
            raise CcTalkError("the device reset: buffered credit may be lost")
        new = _distance(self.counter, buffer.counter)
        if new > EVENT_SLOTS:
            raise CcTalkError(f"{new} events since the last poll; only {EVENT_SLOTS} are kept")
        self.counter = buffer.counter
        return list(reversed(buffer.events[:new]))


@dataclass(frozen=True, slots=True)
class HopperStatus:
    """A 166 reply: event counter, coins still to pay, and the last payout's paid and unpaid."""

    counter: int
    remaining: int
    paid: int
    unpaid: int


def parse_hopper_status(data: bytes) -> HopperStatus:
    """Parse a 166 reply.

    Raises:
        CcTalkFrameError: not 4 bytes.
    """
    if len(data) != 4:
        raise CcTalkFrameError(f"a hopper status is 4 bytes, not {len(data)}")
    return HopperStatus(data[0], data[1], data[2], data[3])


def _ascii(data: bytes, size: int, what: str) -> str:
    if len(data) != size:
        raise CcTalkFrameError(f"a {what} id is {size} ASCII bytes, not {len(data)}")
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise CcTalkFrameError(f"a {what} id is not ASCII") from None


def parse_coin_id(data: bytes, *, country: str = "JP") -> int | None:
    """A 184 reply (``CCVVVI``: country, value, issue) as yen; None for an empty slot.

    Why yen only: the terminal takes Japanese coins; a slot programmed for
    another country is treated as empty (never credited).

    Raises:
        CcTalkFrameError: not six ASCII bytes, or a JP value that is not digits.
    """
    text = _ascii(data, 6, "coin")
    if text.startswith("..") or text[:2] != country:
        return None
    if not text[2:5].isdigit():
        raise CcTalkFrameError("a yen coin id has a three-digit value")
    return int(text[2:5])


def parse_bill_id(data: bytes, *, country: str = "JP") -> int | None:
    """A 157 reply (``CCVVVVI``) as a value before scaling; None for an empty slot.

    Raises:
        CcTalkFrameError: not seven ASCII bytes, or a value that is not digits.
    """
    text = _ascii(data, 7, "bill")
    if text.startswith("..") or text[:2] != country:
        return None
    if not text[2:6].isdigit():
        raise CcTalkFrameError("a bill id has a four-digit value")
    return int(text[2:6])


def parse_scaling(data: bytes) -> tuple[int, int]:
    """A 156 reply: ``(scaling factor, decimal places)``.

    Raises:
        CcTalkFrameError: not 3 bytes, or a zero factor (country not supported).
    """
    if len(data) != 3:
        raise CcTalkFrameError(f"a scaling reply is 3 bytes, not {len(data)}")
    factor = int.from_bytes(data[:2], "little")
    if factor == 0:
        raise CcTalkFrameError("the validator has no scaling for this country")
    return factor, data[2]
