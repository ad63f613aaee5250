# SPDX-License-Identifier: Apache-2.0
"""The ccTalk bus, devices and cashier over an in-memory bus of emulated devices (no pty).

The fake port is behavioural: each write is echoed, decoded, and answered by
the emulator's device models (``hw_sim.devices.cctalk_money``), with scripted
losses and corruptions, so retries and the hopper's counter check are tested
against the state they protect (coins actually paid), not call counts.
"""

from __future__ import annotations

import threading

import pytest

from host.errors import BoardAbsentError, PaymentCancelledError, PaymentTimeoutError
from host.peripherals.cctalk.bus import CcTalkBus
from host.peripherals.cctalk.cashier import Cashier
from host.peripherals.cctalk.codes import Header, RouteCode
from host.peripherals.cctalk.devices import BillValidator, CoinAcceptor, Hopper, mask_bytes
from host.peripherals.cctalk.errors import (
    BillError,
    CcTalkFrameError,
    CcTalkNakError,
    CcTalkNoReplyError,
    CoinJamError,
    PayoutShortError,
)
from host.peripherals.cctalk.frame import Frame, decode_frame
from hw_sim.devices.cctalk_money import (
    Nak,
    SimBillValidator,
    SimCoinAcceptor,
    SimHopper,
    SimMoneyDevice,
)


class ModelPort:
    """A bus in memory: echo, then the addressed model's reply; scripted faults per write."""

    def __init__(self, *devices: SimMoneyDevice) -> None:
        self.devices = {d.address: d for d in devices}
        self.incoming = bytearray()
        self.timeout: float | None = 0
        self.lose_reply = 0  # the device acts, the reply is lost
        self.corrupt = 0
        self.on_request: list[object] = []

    def write(self, data: bytes) -> int:
        self.incoming += data
        frame = decode_frame(data)
        device = self.devices.get(frame.dest)
        if device is None:
            return len(data)
        try:
            header, reply = 0, device.answer(frame.header, frame.data)
        except Nak:
            header, reply = Header.NAK, b""
        raw = bytearray(Frame(1, device.address, header, reply).encode())
        if self.corrupt:
            self.corrupt -= 1
            raw[-1] ^= 1
        if self.lose_reply:
            self.lose_reply -= 1
            return len(data)
        self.incoming += raw
        return len(data)

    def read(self, n: int = 1) -> bytes:
        out = bytes(self.incoming[:n])
        del self.incoming[:n]
        return out

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def bus_over(*devices: SimMoneyDevice, retries: int = 2) -> tuple[CcTalkBus, ModelPort]:
    bus = CcTalkBus("loop://", timeout=0.0, retries=retries)
    port = ModelPort(*devices)
    bus._port = port  # type: ignore[assignment]
    return bus, port


def test_request_checks_the_echo_and_returns_reply_data() -> None:
    bus, _ = bus_over(SimCoinAcceptor())
    assert bus.request(2, Header.REQUEST_EQUIPMENT_CATEGORY_ID) == b"Coin Acceptor"
    assert bus.attempts == 1


def test_a_corrupted_reply_is_retried_then_raised_typed() -> None:
    bus, port = bus_over(SimCoinAcceptor(), retries=2)
    port.corrupt = 2
    assert bus.request(2, Header.SIMPLE_POLL) == b""
    assert bus.attempts == 3
    port.corrupt = 3
    with pytest.raises(CcTalkFrameError, match="checksum"):
        bus.request(2, Header.SIMPLE_POLL)


def test_no_reply_and_nak_are_typed() -> None:
    bus, _port = bus_over(SimCoinAcceptor(), retries=0)
    with pytest.raises(CcTalkNoReplyError):
        bus.request(9, Header.SIMPLE_POLL)  # nobody at 9
    with pytest.raises(CcTalkNakError) as nak:
        bus.request(2, Header.DISPENSE_HOPPER_COINS, b"\x01")
    assert nak.value.header == Header.NAK
    assert isinstance(CcTalkNoReplyError("x"), TimeoutError)


def test_an_echo_that_differs_is_a_frame_error() -> None:
    bus, port = bus_over(SimCoinAcceptor(), retries=0)
    original = port.write

    def noisy_write(data: bytes) -> int:
        written = original(data)
        port.incoming[0] ^= 0x80  # a collision on the first echoed byte
        return written

    port.write = noisy_write  # type: ignore[method-assign]
    with pytest.raises(CcTalkFrameError, match="echo"):
        bus.request(2, Header.SIMPLE_POLL)


def test_a_closed_bus_is_absent() -> None:
    with pytest.raises(BoardAbsentError):
        CcTalkBus("loop://").request(2, Header.SIMPLE_POLL)


def test_hopper_dispense_with_a_lost_reply_pays_once() -> None:
    hopper = SimHopper(3, 100, stock=10)
    bus, port = bus_over(hopper)
    device = Hopper(bus, 3)
    device.set_enabled(True)
    port.lose_reply = 1  # the 166 before is answered; the 167 acts but its reply is lost
    original = port.write

    def lose_only_dispense(data: bytes) -> int:
        if decode_frame(data).header != Header.DISPENSE_HOPPER_COINS:
            saved, port.lose_reply = port.lose_reply, 0
            result = original(data)
            port.lose_reply = saved
            return result
        return original(data)

    port.write = lose_only_dispense  # type: ignore[method-assign]
    assert device.dispense(3) == 3
    assert hopper.paid_out == [100, 100, 100]  # not six coins


def test_bill_route_after_a_lost_reply_is_not_an_error() -> None:
    validator = SimBillValidator()
    bus, port = bus_over(validator)
    device = BillValidator(bus)
    device.use_escrow()
    device.set_inhibits([1])
    device.set_enabled(True)
    assert validator.insert(1000)
    port.lose_reply = 1
    device.route(RouteCode.STACK)
    assert validator.stacked == [1000]
    with pytest.raises(BillError) as err:
        device.route(RouteCode.RETURN)  # nothing in escrow, no earlier failure
    assert err.value.code == 254


def test_device_tables_and_masks() -> None:
    bus, _ = bus_over(SimCoinAcceptor(), SimBillValidator())
    assert CoinAcceptor(bus).coin_values() == {1: 10, 2: 50, 3: 100, 4: 500}
    assert BillValidator(bus).bill_values() == {1: 1000, 2: 5000, 3: 10000}
    assert mask_bytes([1, 9, 16]) == b"\x01\x81"
    with pytest.raises(ValueError, match="1-16"):
        mask_bytes([17])


class Bench:
    """The cashier over a full bus in memory, with a hook that inserts money per poll."""

    def __init__(self, stock: int = 50) -> None:
        self.coins, self.bills = SimCoinAcceptor(), SimBillValidator()
        self.hoppers = {3: SimHopper(3, 500, stock), 4: SimHopper(4, 100, stock)}
        self.hoppers[5] = SimHopper(5, 50, stock)
        self.hoppers[6] = SimHopper(6, 10, stock)
        bus, self.port = bus_over(self.coins, self.bills, *self.hoppers.values())
        self.cashier = Cashier(bus, poll_interval=0.0)
        self.cashier.start()
        self.plan: list[tuple[str, int]] = []
        original = self.port.write

        def write(data: bytes) -> int:
            if self.plan and self.coins.master_enabled:
                kind, yen = self.plan.pop(0)
                getattr(self, kind).insert(yen)
            return original(data)

        self.port.write = write  # type: ignore[method-assign]

    def paid(self) -> int:
        return sum(c for h in self.hoppers.values() for c in h.paid_out)


def test_cashier_exact_coins_then_take_pays_no_change() -> None:
    bench = Bench()
    bench.plan = [("coins", 100), ("coins", 100), ("coins", 100)]
    held = bench.cashier.collect(300, timeout=5, cancelled=threading.Event())
    assert held.total_yen == 300
    assert not bench.coins.master_enabled  # inhibited again
    assert bench.cashier.take(held, 300) == 0
    assert bench.paid() == 0


def test_cashier_stacks_a_bill_that_is_not_enough_and_refunds_it_in_coins() -> None:
    bench = Bench()
    bench.plan = [("bills", 1000), ("coins", 500)]
    held = bench.cashier.collect(1200, timeout=5, cancelled=threading.Event())
    assert (held.stacked_yen, held.coins_yen, held.escrow_yen) == (1000, 500, 0)
    assert bench.cashier.refund(held) == 1500
    assert bench.paid() == 1500
    assert bench.bills.stacked == [1000]


def test_cashier_timeout_and_cancel_return_the_money_first() -> None:
    bench = Bench()
    bench.plan = [("coins", 100)]
    with pytest.raises(PaymentTimeoutError, match="100 yen returned"):
        bench.cashier.collect(300, timeout=0.05, cancelled=threading.Event())
    assert bench.paid() == 100
    bench.plan = [("bills", 1000)]
    cancelled = threading.Event()
    cancelled.set()
    with pytest.raises(PaymentCancelledError):
        bench.cashier.collect(300, timeout=5, cancelled=cancelled)
    assert not bench.coins.master_enabled


def test_cashier_coin_jam_is_typed_and_inhibits() -> None:
    bench = Bench()
    bench.plan = [("coins", 100)]
    bench.coins.jam()
    with pytest.raises(CoinJamError):
        bench.cashier.collect(300, timeout=5, cancelled=threading.Event())
    assert not bench.coins.master_enabled


def test_pay_out_falls_back_to_smaller_coins_then_reports_what_is_owed() -> None:
    bench = Bench(stock=10)
    bench.hoppers[3].stock = 2
    assert bench.cashier.pay_out(1600) == 1600  # 2x500, then 6x100 from the next hopper
    assert sorted(bench.hoppers[4].paid_out) == [100] * 6
    bench.hoppers[4].stock = 0
    bench.hoppers[5].stock = 0
    bench.hoppers[6].stock = 3
    with pytest.raises(PayoutShortError) as short:
        bench.cashier.pay_out(100)
    assert (short.value.paid_yen, short.value.unpaid_yen) == (30, 70)
