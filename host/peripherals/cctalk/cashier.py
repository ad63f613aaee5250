# SPDX-License-Identifier: Apache-2.0
"""The money logic over the ccTalk devices, blocking: collect, take, refund.

Why a separate layer: the devices module speaks ccTalk, this one keeps the
rules a kiosk cashier keeps, and ``host.peripherals.payment`` adds the
worker thread and idempotency. The rules:

* Collect enables only what is needed: every coin, and the bills whose change
  stays within ``max_change_yen``; it inhibits both again when the fee is
  reached, on timeout, on cancel or on a fault, and reads the coin buffer
  once more after inhibiting (a coin already in the acceptor still credits).
* A bill is held in escrow. If the fee still is not reached, it is stacked so
  the next bill can enter (a validator holds one); a stacked bill can only be
  refunded in coins.
* Money returned on timeout, cancel or fault: the escrowed bill goes back
  out of the validator, everything else is paid by the hoppers, largest coin
  first. A hopper that runs short makes the rest come from smaller ones;
  what no hopper can pay raises ``PayoutShortError`` with the amount owed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from host.errors import PaymentCancelledError, PaymentTimeoutError
from host.peripherals.cctalk.bus import CcTalkBus
from host.peripherals.cctalk.codes import (
    ADDR_BILL_VALIDATOR,
    ADDR_COIN_ACCEPTOR,
    ADDR_FIRST_HOPPER,
    CATEGORY_BILL_VALIDATOR,
    CATEGORY_COIN_ACCEPTOR,
    CATEGORY_PAYOUT,
    BillEventCode,
    BillResult,
    CoinErrorCode,
    RouteCode,
)
from host.peripherals.cctalk.devices import BillValidator, CoinAcceptor, Hopper
from host.peripherals.cctalk.errors import (
    BillError,
    CcTalkError,
    CoinJamError,
    HopperError,
    PayoutShortError,
)
from host.peripherals.cctalk.messages import EventTracker

__all__ = ["DEFAULT_HOPPERS", "Cashier", "Held"]

_log = logging.getLogger(__name__)

#: Hopper address -> the yen coin it pays (one coin value per hopper).
DEFAULT_HOPPERS: Final[Mapping[int, int]] = {
    ADDR_FIRST_HOPPER: 500,
    ADDR_FIRST_HOPPER + 1: 100,
    ADDR_FIRST_HOPPER + 2: 50,
    ADDR_FIRST_HOPPER + 3: 10,
}
#: Bill events that mean the validator cannot go on.
_BILL_FAULTS: Final = frozenset(
    {
        BillEventCode.JAMMED_IN_TRANSPORT_UNSAFE,
        BillEventCode.JAMMED_IN_STACKER,
        BillEventCode.BILL_TAMPER,
        BillEventCode.STACKER_FAULTY,
        BillEventCode.STACKER_FULL,
        BillEventCode.STACKER_JAMMED,
        BillEventCode.JAMMED_IN_TRANSPORT_SAFE,
    }
)


@dataclass
class Held:
    """What the devices hold for one payment, in yen."""

    coins_yen: int = 0
    stacked_yen: int = 0  # bills stacked during collect: refunded in coins
    escrow_yen: int = 0  # the bill held in escrow: refunded as itself

    @property
    def total_yen(self) -> int:
        """Everything inserted."""
        return self.coins_yen + self.stacked_yen + self.escrow_yen


class Cashier:
    """Collect, take and refund over an open ``CcTalkBus``; blocking, one payment at a time.

    Args:
        bus: the open bus.
        hoppers: hopper address -> yen of its coin.
        bill_validator: True when a bill validator is on the bus.
        max_change_yen: accept a bill only if its change stays within this.
        poll_interval: seconds between credit polls while collecting.
    """

    def __init__(
        self,
        bus: CcTalkBus,
        *,
        hoppers: Mapping[int, int] = DEFAULT_HOPPERS,
        bill_validator: bool = True,
        max_change_yen: int = 1000,
        poll_interval: float = 0.05,
    ) -> None:
        self.coins = CoinAcceptor(bus, ADDR_COIN_ACCEPTOR)
        self.bills = BillValidator(bus, ADDR_BILL_VALIDATOR) if bill_validator else None
        self.hoppers = sorted(
            ((value, Hopper(bus, address)) for address, value in hoppers.items()),
            key=lambda item: -item[0],
        )
        self.max_change_yen = max_change_yen
        self.poll_interval = poll_interval
        self._coin_table: dict[int, int] = {}
        self._bill_table: dict[int, int] = {}
        self._coin_events = EventTracker()
        self._bill_events = EventTracker()
        self._stacking = 0  # bills this host stacked whose "stacked" event is still to come
        self._returning = 0  # likewise for "returned from escrow"
        #: Yen paid by the last ``pay_out``, also when it failed part-way (resuming a payout).
        self.last_paid_yen = 0

    def start(self) -> None:
        """Check every device is what it should be, read its tables, inhibit acceptance.

        Raises:
            CcTalkError: a device is missing, of another kind, or answers badly.
        """
        self.coins.expect(CATEGORY_COIN_ACCEPTOR)
        self._coin_table = self.coins.coin_values()
        self.coins.set_enabled(False)
        self._coin_events.sync(self.coins.read_events())
        if self.bills is not None:
            self.bills.expect(CATEGORY_BILL_VALIDATOR)
            self._bill_table = self.bills.bill_values()
            self.bills.set_enabled(False)
            self.bills.use_escrow()
            self._bill_events.sync(self.bills.read_events())
        for _, hopper in self.hoppers:
            hopper.expect(CATEGORY_PAYOUT)
            hopper.set_enabled(False)
        _log.info("ccTalk payment ready: coins %s, bills %s", self._coin_table, self._bill_table)

    def collect(
        self,
        fee_yen: int,
        *,
        timeout: float,
        cancelled: threading.Event,
        on_credit: Callable[[int], None] | None = None,
    ) -> Held:
        """Accept money until ``fee_yen`` is held; then inhibit and return what is held.

        ``on_credit(total_yen)`` is called (in this thread) after each poll
        that found new money, so a screen can show what is in.

        Raises:
            ValueError: a fee that is not positive.
            PaymentTimeoutError: not paid in time (money returned first).
            PaymentCancelledError: ``cancelled`` was set (money returned first).
            CcTalkError: a device failed; what could be returned was returned.
        """
        if fee_yen <= 0:
            raise ValueError("a fee is a positive number of yen")
        held = Held()
        deadline = time.monotonic() + timeout
        try:
            self._enable(fee_yen)
            while held.total_yen < fee_yen:
                if cancelled.is_set() or time.monotonic() >= deadline:
                    break
                time.sleep(self.poll_interval)
                self._poll_and_report(held, fee_yen, on_credit)
            self._inhibit()
            # credit that arrived while inhibiting
            self._poll_and_report(held, fee_yen, on_credit)
        except CcTalkError:
            self._return_after_fault(held)
            raise
        if held.total_yen >= fee_yen and not cancelled.is_set():
            return held
        returned = self.refund(held)
        if cancelled.is_set():
            raise PaymentCancelledError(f"payment cancelled; {returned} yen returned")
        raise PaymentTimeoutError(f"the fee was not paid in time; {returned} yen returned")

    def _poll_and_report(
        self, held: Held, fee_yen: int, on_credit: Callable[[int], None] | None
    ) -> None:
        before = held.total_yen
        self._poll(held, fee_yen)
        if on_credit is not None and held.total_yen != before:
            on_credit(held.total_yen)

    def take(self, held: Held, fee_yen: int) -> int:
        """Keep the fee: stack the escrowed bill and pay the change; returns the change.

        Raises:
            BillError: the bill could not be stacked.
            PayoutShortError: the change was not paid in full.
        """
        self.route_escrow(held, RouteCode.STACK)
        return self.pay_out(held.total_yen - fee_yen)

    def refund(self, held: Held) -> int:
        """Give back everything held: the escrowed bill itself, the rest in coins.

        Raises:
            BillError: the bill could not be returned.
            PayoutShortError: the coins were not paid in full.
        """
        self.route_escrow(held, RouteCode.RETURN)
        return held.escrow_yen + self.pay_out(held.coins_yen + held.stacked_yen)

    def route_escrow(self, held: Held, code: RouteCode) -> None:
        """Stack or return the bill ``held`` has in escrow (nothing without one).

        Raises:
            BillError: the validator could not route it.
        """
        if not held.escrow_yen or self.bills is None:
            return
        self.bills.route(code)
        if code == RouteCode.STACK:
            self._stacking += 1
        else:
            self._returning += 1

    def pay_out(self, amount_yen: int) -> int:
        """Pay ``amount_yen`` from the hoppers, largest coin first; returns yen paid.

        Raises:
            PayoutShortError: the hoppers could not pay all of it.
        """
        left = amount_yen
        self.last_paid_yen = 0
        for value, hopper in self.hoppers:
            while left >= value:
                count = min(left // value, 255)
                try:
                    hopper.set_enabled(True)
                    paid = hopper.dispense(count)
                except HopperError as exc:
                    paid = count - exc.unpaid
                    left -= paid * value
                    self.last_paid_yen += paid * value
                    _log.warning("hopper %d (%d yen) ran short: %s", hopper.address, value, exc)
                    break
                finally:
                    hopper.set_enabled(False)
                left -= paid * value
                self.last_paid_yen += paid * value
        if left:
            raise PayoutShortError(
                f"{amount_yen - left} of {amount_yen} yen paid out; {left} yen owed",
                paid_yen=amount_yen - left,
                unpaid_yen=left,
            )
        return amount_yen

    def _enable(self, fee_yen: int) -> None:
        # Bills first, coins last: a coin acceptor that accepts means all is ready.
        if self.bills is not None:
            fits = [p for p, v in self._bill_table.items() if v - fee_yen <= self.max_change_yen]
            self.bills.set_inhibits(fits)
            self.bills.set_enabled(bool(fits))
        self.coins.set_inhibits(self._coin_table)
        self.coins.set_enabled(True)

    def _inhibit(self) -> None:
        self.coins.set_enabled(False)
        if self.bills is not None:
            self.bills.set_enabled(False)

    def _poll(self, held: Held, fee_yen: int) -> None:
        for position, code in self._coin_events.advance(self.coins.read_events()):
            if position:
                held.coins_yen += self._coin_table.get(position, 0)
            elif code == CoinErrorCode.CREDIT_SENSOR_BLOCKED:
                raise CoinJamError("the coin acceptor is jammed", code=code)
            elif code:
                _log.info("coin rejected (code %d)", code)
        if self.bills is not None:
            for position, code in self._bill_events.advance(self.bills.read_events()):
                self._bill_event(held, fee_yen, position, code)

    def _bill_event(self, held: Held, fee_yen: int, position: int, code: int) -> None:
        bills = self.bills
        if bills is None:
            return
        value = self._bill_table.get(position, 0)
        if position and code == BillResult.ESCROW:
            held.escrow_yen = value
            if held.total_yen < fee_yen:  # not enough yet: make room for the next bill
                bills.route(RouteCode.STACK)
                self._stacking += 1
                held.escrow_yen, held.stacked_yen = 0, held.stacked_yen + value
        elif position and code == BillResult.STACKED:
            if self._stacking:  # the event of a bill this host stacked: counted already
                self._stacking -= 1
            else:  # a validator without escrow
                held.stacked_yen += value
        elif not position and code == BillEventCode.RETURNED_FROM_ESCROW:
            if self._returning:
                self._returning -= 1
            else:  # the validator gave it back by itself (its escrow hold timed out)
                held.escrow_yen = 0
        elif not position and code in _BILL_FAULTS:
            raise BillError(f"bill validator fault: {BillEventCode(code).name}", code=code)
        elif code:
            _log.info("bill event %d/%d", position, code)

    def _return_after_fault(self, held: Held) -> None:
        """Best effort after a device fault: inhibit and give back what can be given."""
        try:
            self._inhibit()
        except CcTalkError as exc:
            _log.warning("could not inhibit after a fault: %s", exc)
        try:
            returned = self.refund(held)
        except CcTalkError as exc:
            _log.error(
                "after a fault, %d yen held could not all be returned: %s", held.total_yen, exc
            )
            return
        if returned:
            _log.warning("after a fault, %d yen returned", returned)
