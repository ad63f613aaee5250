# SPDX-License-Identifier: Apache-2.0
"""The three ccTalk payment devices on one bus: coin acceptor, bill validator, hopper.

Each class wraps the headers its device answers (``hw_sim/devices/CCTALK.md`` has the
table) and turns replies into values; none keeps money state, which is the
cashier's (``cashier.py``). All block on the bus, so they run in the payment
port's worker thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from host.peripherals.cctalk.bus import CcTalkBus
from host.peripherals.cctalk.codes import (
    ADDR_BILL_VALIDATOR,
    ADDR_COIN_ACCEPTOR,
    ADDR_FIRST_HOPPER,
    HOPPER_ENABLE_CODE,
    Header,
    RouteCode,
    RouteError,
)
from host.peripherals.cctalk.errors import (
    BillError,
    CcTalkError,
    CcTalkFrameError,
    CcTalkNakError,
    CcTalkNoReplyError,
    HopperError,
)
from host.peripherals.cctalk.frame import Frame
from host.peripherals.cctalk.messages import (
    EventBuffer,
    HopperStatus,
    parse_bill_id,
    parse_coin_id,
    parse_event_buffer,
    parse_hopper_status,
    parse_scaling,
)

__all__ = ["BillValidator", "CcTalkDevice", "CoinAcceptor", "Hopper", "mask_bytes"]

_log = logging.getLogger(__name__)

#: Coin and bill positions a 2-byte inhibit mask covers.
POSITIONS = range(1, 17)


def mask_bytes(positions: Iterable[int]) -> bytes:
    """The 231 inhibit mask (bit set = accept), low byte first.

    Raises:
        ValueError: a position outside 1-16.
    """
    mask = 0
    for position in positions:
        if position not in POSITIONS:
            raise ValueError(f"position {position} is outside 1-16")
        mask |= 1 << (position - 1)
    return mask.to_bytes(2, "little")


class CcTalkDevice:
    """One device address on a ``CcTalkBus``: the core commands every device answers."""

    def __init__(self, bus: CcTalkBus, address: int) -> None:
        self.bus = bus
        self.address = address

    def _ask(self, header: Header, data: bytes = b"") -> bytes:
        return self.bus.request(self.address, header, data)

    def _ack(self, header: Header, data: bytes = b"") -> None:
        if self._ask(header, data):
            raise CcTalkFrameError(f"device {self.address} answered {header.name} with data")

    def poll(self) -> None:
        """Simple poll (254): the device is there."""
        self._ack(Header.SIMPLE_POLL)

    def category(self) -> str:
        """The equipment category (245), e.g. ``Coin Acceptor``."""
        return self._ask(Header.REQUEST_EQUIPMENT_CATEGORY_ID).decode("ascii", "replace")

    def manufacturer(self) -> str:
        """The manufacturer id (246)."""
        return self._ask(Header.REQUEST_MANUFACTURER_ID).decode("ascii", "replace")

    def expect(self, category: str) -> None:
        """Check the device at this address is a ``category``.

        Raises:
            CcTalkError: another kind of device answers here.
        """
        found = self.category()
        if found != category:
            raise CcTalkError(f"address {self.address} is a {found!r}, not a {category!r}")


class CoinAcceptor(CcTalkDevice):
    """A coin acceptor: coin table (184), inhibits (231, 228), credit buffer (229)."""

    def __init__(self, bus: CcTalkBus, address: int = ADDR_COIN_ACCEPTOR) -> None:
        super().__init__(bus, address)

    def coin_values(self) -> dict[int, int]:
        """Position -> yen for every programmed JP coin."""
        table = {}
        for position in POSITIONS:
            yen = parse_coin_id(self._ask(Header.REQUEST_COIN_ID, bytes((position,))))
            if yen:
                table[position] = yen
        return table

    def set_inhibits(self, accepted: Iterable[int]) -> None:
        """Accept only the coin positions in ``accepted`` (231)."""
        self._ack(Header.MODIFY_INHIBIT_STATUS, mask_bytes(accepted))

    def set_enabled(self, enabled: bool) -> None:
        """Master inhibit off (accepting) or on (228; bit 0 set = accepting)."""
        self._ack(Header.MODIFY_MASTER_INHIBIT_STATUS, bytes((1 if enabled else 0,)))

    def read_events(self) -> EventBuffer:
        """The credit / error buffer (229)."""
        return parse_event_buffer(self._ask(Header.READ_BUFFERED_CREDIT))


class BillValidator(CcTalkDevice):
    """A bill validator with escrow: bill table (157, 156), events (159), route (154)."""

    def __init__(self, bus: CcTalkBus, address: int = ADDR_BILL_VALIDATOR) -> None:
        super().__init__(bus, address)

    def bill_values(self, country: str = "JP") -> dict[int, int]:
        """Position -> yen for every programmed bill of ``country``, scaled (156)."""
        factor, decimals = parse_scaling(
            self._ask(Header.REQUEST_COUNTRY_SCALING_FACTOR, country.encode("ascii"))
        )
        table = {}
        for position in POSITIONS:
            value = parse_bill_id(self._ask(Header.REQUEST_BILL_ID, bytes((position,))))
            if value:
                table[position] = value * factor // 10**decimals
        return table

    def set_inhibits(self, accepted: Iterable[int]) -> None:
        """Accept only the bill positions in ``accepted`` (231)."""
        self._ack(Header.MODIFY_INHIBIT_STATUS, mask_bytes(accepted))

    def set_enabled(self, enabled: bool) -> None:
        """Master inhibit off (accepting) or on (228)."""
        self._ack(Header.MODIFY_MASTER_INHIBIT_STATUS, bytes((1 if enabled else 0,)))

    def use_escrow(self) -> None:
        """Stacker and escrow on (153: bit 0 stacker, bit 1 escrow)."""
        self._ack(Header.MODIFY_BILL_OPERATING_MODE, b"\x03")

    def read_events(self) -> EventBuffer:
        """The bill event buffer (159)."""
        return parse_event_buffer(self._ask(Header.READ_BUFFERED_BILL_EVENTS))

    def route(self, code: RouteCode) -> None:
        """Stack or return the bill in escrow (154).

        Why a retry may see "escrow empty": when the first reply was lost the
        bill was already routed; only this host routes, so that is success.

        Raises:
            BillError: the validator could not route (``.code`` 254 or 255).
        """
        frame = Frame(self.address, 1, Header.ROUTE_BILL, bytes((code,))).encode()
        sent = False
        last: CcTalkError = CcTalkNoReplyError("the validator did not answer")
        for _ in range(1 + self.bus.retries):
            try:
                reply = self.bus.request_once(frame, self.address)
            except (CcTalkFrameError, CcTalkNoReplyError, CcTalkNakError) as exc:
                sent, last = True, exc
                continue
            if not reply:
                return
            if reply[0] == RouteError.ESCROW_EMPTY and sent:
                _log.info("bill already routed (%s) before a lost reply", code.name)
                return
            raise BillError(f"the validator could not route the bill ({reply[0]})", code=reply[0])
        raise last


class Hopper(CcTalkDevice):
    """A payout hopper of one coin value: enable (164), dispense (167), status (166)."""

    def __init__(self, bus: CcTalkBus, address: int = ADDR_FIRST_HOPPER) -> None:
        super().__init__(bus, address)

    def set_enabled(self, enabled: bool) -> None:
        """Arm the motor for a payout (164 with 165) or disarm it."""
        self._ack(Header.ENABLE_HOPPER, bytes((HOPPER_ENABLE_CODE if enabled else 0,)))

    def status(self) -> HopperStatus:
        """The payout status (166)."""
        return parse_hopper_status(self._ask(Header.REQUEST_HOPPER_STATUS))

    def dispense(self, count: int, *, timeout: float = 10.0) -> int:
        """Pay out ``count`` coins and wait for the payout to end; returns coins paid.

        Why the counter dance: 167 is not safe to repeat (a lost reply would
        pay twice), so a retry first reads the status: a changed event counter
        means the device took the first request.

        Raises:
            ValueError: ``count`` outside 1-255.
            HopperError: fewer coins paid than asked (empty or jammed).
            CcTalkError: the hopper stopped answering.
        """
        if not 1 <= count <= 255:
            raise ValueError("a payout is 1-255 coins")
        before = self.status().counter
        frame = Frame(self.address, 1, Header.DISPENSE_HOPPER_COINS, bytes((count,))).encode()
        for attempt in range(1 + self.bus.retries):
            try:
                self.bus.request_once(frame, self.address)
                break
            except (CcTalkFrameError, CcTalkNoReplyError, CcTalkNakError) as exc:
                if self.status().counter != before:
                    break  # the first request was taken; its reply was lost
                if attempt == self.bus.retries:
                    raise exc from None
        deadline = time.monotonic() + timeout
        status = self.status()
        while status.remaining and time.monotonic() < deadline:
            time.sleep(0.02)
            status = self.status()
        paid = status.paid
        if status.remaining or status.unpaid or paid != count:
            raise HopperError(
                f"hopper {self.address} paid {paid} of {count} coins",
                address=self.address,
                unpaid=count - paid,
            )
        return status.paid
