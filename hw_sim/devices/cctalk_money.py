# SPDX-License-Identifier: Apache-2.0
"""The emulated ccTalk payment devices: what each answers, and the money in it.

Each model maps one request (header, data) to reply data, or raises
``Nak`` for a request it refuses, and keeps the state a test inspects:
coins credited, bills stacked or handed back, coins paid out. Time plays no
part (a payout completes at once), so tests need no timed assertions. The
bus that carries the frames is ``hw_sim/devices/cctalk.py``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Final

from host.peripherals.cctalk.codes import (
    ADDR_BILL_VALIDATOR,
    ADDR_COIN_ACCEPTOR,
    CATEGORY_BILL_VALIDATOR,
    CATEGORY_COIN_ACCEPTOR,
    CATEGORY_PAYOUT,
    HOPPER_ENABLE_CODE,
    BillEventCode,
    BillResult,
    CoinErrorCode,
    Header,
    RouteCode,
    RouteError,
)
from host.peripherals.cctalk.messages import EVENT_SLOTS

__all__ = ["Nak", "SimBillValidator", "SimCoinAcceptor", "SimHopper", "SimMoneyDevice"]

#: Coin positions of the emulated acceptor: 10, 50, 100 and 500 yen (1 and 5 are refused).
JP_COINS: Final = {1: ("JP010A", 10), 2: ("JP050A", 50), 3: ("JP100A", 100), 4: ("JP500A", 500)}
#: Bill positions, ids before scaling (x100): 1000, 5000 and 10000 yen.
JP_BILLS: Final = {1: ("JP0010A", 1000), 2: ("JP0050A", 5000), 3: ("JP0100A", 10000)}
_SCALING: Final = 100
_MANUFACTURER: Final = "MYN"


class Nak(Exception):  # noqa: N818 - a NAK answer: a control signal
    """The device answers NAK (a request it does not accept)."""


class SimMoneyDevice:
    """What every emulated device answers: poll, category, manufacturer, an event buffer."""

    category = ""

    def __init__(self, address: int) -> None:
        self.address = address
        self.counter = 0
        self.events: deque[tuple[int, int]] = deque([(0, 0)] * EVENT_SLOTS, maxlen=EVENT_SLOTS)
        self.master_enabled = False
        self.accepted_mask = 0

    def _event(self, a: int, b: int) -> None:
        self.counter = self.counter % 255 + 1  # 1..255, wrapping to 1
        self.events.appendleft((a, b))

    def _buffer(self) -> bytes:
        return bytes((self.counter,)) + bytes(v for pair in self.events for v in pair)

    def accepts(self, position: int) -> bool:
        """Master inhibit off and ``position``'s inhibit bit set."""
        return self.master_enabled and bool(self.accepted_mask >> (position - 1) & 1)

    def answer(self, header: int, data: bytes) -> bytes:
        """Reply data for a request.

        Raises:
            Nak: a header this device does not answer, or bad data.
        """
        if header == Header.SIMPLE_POLL:
            return b""
        if header == Header.REQUEST_EQUIPMENT_CATEGORY_ID:
            return self.category.encode("ascii")
        if header == Header.REQUEST_MANUFACTURER_ID:
            return _MANUFACTURER.encode("ascii")
        if header == Header.MODIFY_INHIBIT_STATUS and len(data) == 2:
            self.accepted_mask = int.from_bytes(data, "little")
            return b""
        if header == Header.MODIFY_MASTER_INHIBIT_STATUS and len(data) == 1:
            self.master_enabled = bool(data[0] & 1)
            return b""
        return self._answer(header, data)

    def _answer(self, header: int, data: bytes) -> bytes:
        raise Nak


class SimCoinAcceptor(SimMoneyDevice):
    """A coin acceptor for 10, 50, 100 and 500 yen; ``cashbox`` holds what it credited."""

    category = CATEGORY_COIN_ACCEPTOR

    def __init__(self, address: int = ADDR_COIN_ACCEPTOR) -> None:
        super().__init__(address)
        self.cashbox: list[int] = []
        self.rejected: list[int] = []

    def insert(self, yen: int) -> bool:
        """A coin goes in: credited (True) or dropped to the return tray (False)."""
        position = next((p for p, (_, v) in JP_COINS.items() if v == yen), 0)
        if not position:
            self._event(0, CoinErrorCode.REJECT_COIN)
        elif not self.accepts(position):
            self._event(0, CoinErrorCode.INHIBITED_COIN)
        else:
            self._event(position, 1)  # credit, sorter path 1 (cashbox)
            self.cashbox.append(yen)
            return True
        self.rejected.append(yen)
        return False

    def jam(self) -> None:
        """A coin sticks at the credit sensor."""
        self._event(0, CoinErrorCode.CREDIT_SENSOR_BLOCKED)

    def _answer(self, header: int, data: bytes) -> bytes:
        if header == Header.READ_BUFFERED_CREDIT:
            return self._buffer()
        if header == Header.REQUEST_COIN_ID and len(data) == 1 and 1 <= data[0] <= 16:
            return JP_COINS.get(data[0], ("......", 0))[0].encode("ascii")
        raise Nak


class SimBillValidator(SimMoneyDevice):
    """A bill validator with a one-bill escrow; ``stacked`` and ``returned`` hold bills."""

    category = CATEGORY_BILL_VALIDATOR

    def __init__(self, address: int = ADDR_BILL_VALIDATOR) -> None:
        super().__init__(address)
        self.escrow_mode = False
        self.escrow: int | None = None  # the position in escrow
        self.stacked: list[int] = []
        self.returned: list[int] = []

    def insert(self, yen: int) -> bool:
        """A bill goes in: held or stacked (True), or pushed back out (False)."""
        position = next((p for p, (_, v) in JP_BILLS.items() if v == yen), 0)
        if self.escrow is not None:
            self.returned.append(yen)  # the path is busy: the bill is refused at the mouth
            return False
        if not position or not self.accepts(position):
            self._event(0, BillEventCode.INHIBITED_BILL_SERIAL)
            self.returned.append(yen)
            return False
        if self.escrow_mode:
            self.escrow = position
            self._event(position, BillResult.ESCROW)
        else:
            self.stacked.append(yen)
            self._event(position, BillResult.STACKED)
        return True

    def jam(self) -> None:
        """A bill jams in the transport."""
        self._event(0, BillEventCode.JAMMED_IN_TRANSPORT_UNSAFE)

    def _answer(self, header: int, data: bytes) -> bytes:
        if header == Header.READ_BUFFERED_BILL_EVENTS:
            return self._buffer()
        if header == Header.REQUEST_BILL_ID and len(data) == 1 and 1 <= data[0] <= 16:
            return JP_BILLS.get(data[0], (".......", 0))[0].encode("ascii")
        if header == Header.REQUEST_COUNTRY_SCALING_FACTOR and len(data) == 2:
            factor = _SCALING if data == b"JP" else 0
            return factor.to_bytes(2, "little") + b"\x00"
        if header == Header.MODIFY_BILL_OPERATING_MODE and len(data) == 1:
            self.escrow_mode = bool(data[0] & 2)
            return b""
        if header == Header.ROUTE_BILL and len(data) == 1:
            return self._route(data[0])
        raise Nak

    def _route(self, code: int) -> bytes:
        if self.escrow is None:
            return bytes((RouteError.ESCROW_EMPTY,))
        yen = JP_BILLS[self.escrow][1]
        if code == RouteCode.STACK:
            self.stacked.append(yen)
            self._event(self.escrow, BillResult.STACKED)
        elif code == RouteCode.RETURN:
            self.returned.append(yen)
            self._event(0, BillEventCode.RETURNED_FROM_ESCROW)
        elif code == RouteCode.EXTEND_ESCROW:
            return b""
        else:
            raise Nak
        self.escrow = None
        return b""


class SimHopper(SimMoneyDevice):
    """A payout hopper of one coin value; ``paid_out`` holds the coins it gave."""

    category = CATEGORY_PAYOUT

    def __init__(self, address: int, coin_yen: int, stock: int = 100) -> None:
        super().__init__(address)
        self.coin_yen = coin_yen
        self.stock = stock
        self.enabled = False
        self.paid = self.unpaid = 0
        self.paid_out: list[int] = []

    def _answer(self, header: int, data: bytes) -> bytes:
        if header == Header.ENABLE_HOPPER and len(data) == 1:
            self.enabled = data[0] == HOPPER_ENABLE_CODE
            return b""
        if header == Header.REQUEST_HOPPER_STATUS:
            return bytes((self.counter, 0, self.paid, self.unpaid))
        if header == Header.DISPENSE_HOPPER_COINS and len(data) == 1 and self.enabled:
            self._dispense(data[0])
            return bytes((self.counter,))
        raise Nak

    def _dispense(self, count: int) -> None:
        self.counter = self.counter % 255 + 1
        self.paid = min(count, self.stock)
        self.unpaid = count - self.paid
        self.stock -= self.paid
        self.paid_out += [self.coin_yen] * self.paid


def hoppers_from(values: Mapping[int, int], stock: int) -> dict[int, SimHopper]:
    """Hopper address -> a ``SimHopper`` of that coin with ``stock`` coins."""
    return {address: SimHopper(address, yen, stock) for address, yen in values.items()}
