# SPDX-License-Identifier: Apache-2.0
"""The ccTalk payment emulator: device models in memory, then the bus on a pty."""

from __future__ import annotations

import os
import select
import time

import pytest

from host.peripherals.cctalk.codes import (
    HOPPER_ENABLE_CODE,
    BillEventCode,
    BillResult,
    CoinErrorCode,
    Header,
    RouteCode,
    RouteError,
)
from host.peripherals.cctalk.frame import Frame, FrameParser
from hw_sim.devices.cctalk import SimCcTalkBus
from hw_sim.devices.cctalk_money import Nak, SimBillValidator, SimCoinAcceptor, SimHopper
from hw_sim.devices.errors import DeviceError, DeviceTimeoutError


def enable(device: SimCoinAcceptor | SimBillValidator, mask: bytes = b"\xff\xff") -> None:
    device.answer(Header.MODIFY_INHIBIT_STATUS, mask)
    device.answer(Header.MODIFY_MASTER_INHIBIT_STATUS, b"\x01")


def test_coin_acceptor_credits_only_when_enabled_and_keeps_five_events() -> None:
    coins = SimCoinAcceptor()
    assert not coins.insert(100)  # master inhibit is on at power-up
    enable(coins, b"\x04\x00")  # only position 3 (100 yen)
    assert coins.insert(100)
    assert not coins.insert(500)
    assert not coins.insert(5)  # not a coin it knows
    buffer = coins.answer(Header.READ_BUFFERED_CREDIT, b"")
    assert buffer[0] == 4
    assert buffer[1:7] == bytes(
        [0, CoinErrorCode.REJECT_COIN, 0, CoinErrorCode.INHIBITED_COIN, 3, 1]
    )
    assert coins.cashbox == [100]
    assert coins.rejected == [100, 500, 5]
    assert coins.answer(Header.REQUEST_COIN_ID, b"\x04") == b"JP500A"
    assert coins.answer(Header.REQUEST_COIN_ID, b"\x09") == b"......"
    with pytest.raises(Nak):
        coins.answer(Header.DISPENSE_HOPPER_COINS, b"\x01")


def test_event_counter_wraps_from_255_to_1() -> None:
    coins = SimCoinAcceptor()
    enable(coins)
    for _ in range(256):
        coins.insert(10)
    assert coins.counter == 1


def test_bill_validator_escrow_stack_and_return() -> None:
    bills = SimBillValidator()
    enable(bills)
    bills.answer(Header.MODIFY_BILL_OPERATING_MODE, b"\x03")
    assert bills.insert(1000)
    assert not bills.insert(1000)  # escrow busy: refused at the mouth
    assert bills.answer(Header.READ_BUFFERED_BILL_EVENTS, b"")[1:3] == bytes([1, BillResult.ESCROW])
    assert bills.answer(Header.ROUTE_BILL, bytes([RouteCode.RETURN])) == b""
    assert bills.returned == [1000, 1000]
    assert bills.answer(Header.READ_BUFFERED_BILL_EVENTS, b"")[1:3] == bytes(
        [0, BillEventCode.RETURNED_FROM_ESCROW]
    )
    assert bills.answer(Header.ROUTE_BILL, bytes([RouteCode.STACK])) == bytes(
        [RouteError.ESCROW_EMPTY]
    )
    assert bills.insert(5000)
    assert bills.answer(Header.ROUTE_BILL, bytes([RouteCode.STACK])) == b""
    assert bills.stacked == [5000]
    assert bills.answer(Header.REQUEST_COUNTRY_SCALING_FACTOR, b"JP") == b"\x64\x00\x00"
    assert bills.answer(Header.REQUEST_COUNTRY_SCALING_FACTOR, b"GB") == b"\x00\x00\x00"


def test_hopper_pays_what_it_has_and_reports_the_rest_unpaid() -> None:
    hopper = SimHopper(3, 100, stock=2)
    with pytest.raises(Nak):
        hopper.answer(Header.DISPENSE_HOPPER_COINS, b"\x01")  # not enabled
    hopper.answer(Header.ENABLE_HOPPER, bytes([HOPPER_ENABLE_CODE]))
    assert hopper.answer(Header.DISPENSE_HOPPER_COINS, b"\x03") == b"\x01"
    assert hopper.answer(Header.REQUEST_HOPPER_STATUS, b"") == bytes([1, 0, 2, 1])
    assert hopper.paid_out == [100, 100]
    assert hopper.stock == 0


def _exchange(fd: int, frame: bytes, timeout: float = 1.0) -> bytes:
    """Write ``frame`` to the host end and read until the line goes quiet for 50 ms."""
    os.write(fd, frame)
    got = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if not ready:
            if got:
                break
            continue
        got += os.read(fd, 4096)
    return bytes(got)


def test_bus_on_a_pty_echoes_answers_and_fails_a_bounded_number_of_times() -> None:
    with SimCcTalkBus() as sim:
        fd = os.open(sim.url, os.O_RDWR | os.O_NOCTTY)
        try:
            poll = Frame(2, 1, Header.SIMPLE_POLL).encode()
            got = _exchange(fd, poll)
            assert got == poll + Frame(1, 2, 0).encode()  # echo, then the ACK
            sim.silence(1)
            assert _exchange(fd, poll) == poll  # the echo only
            sim.corrupt(1)
            (bad,) = FrameParser().feed(_exchange(fd, poll)[len(poll) :])
            assert not isinstance(bad, Frame)
            assert _exchange(fd, poll) == poll + Frame(1, 2, 0).encode()  # bounded: back to normal
            assert _exchange(fd, Frame(77, 1, Header.SIMPLE_POLL).encode())[5:] == b""
            assert sim.requests == 4
        finally:
            os.close(fd)


def test_bus_controls() -> None:
    with SimCcTalkBus(bill_validator=False, hopper_stock=3) as sim:
        with pytest.raises(DeviceError):
            sim.insert_bill(1000)
        with pytest.raises(DeviceError):
            sim.set_hopper_stock(5, 1)
        sim.set_hopper_stock(100, 0)
        assert sim.hoppers[4].stock == 0
        assert not sim.insert_coin(100)  # inhibited until the host enables it
        with pytest.raises(DeviceTimeoutError):
            sim.wait_until(sim.accepting, timeout=0.05)
    sim.close()  # closing twice is harmless
