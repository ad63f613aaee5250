# SPDX-License-Identifier: Apache-2.0
"""``CcTalkPayment`` (the issuance flow's ``PaymentPort``) against the ccTalk emulator on a pty.

Everything crosses a real pty and the fault relay: the driver's echo checks,
retries and timeouts meet the emulator's single-wire echo and bounded faults.
The resident is the test: it waits until the acceptor is enabled, then
inserts coins and bills through the emulator, and checks what came back out
(bills returned, coins paid by the hoppers).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from host.errors import (
    PaymentCancelledError,
    PaymentDeviceError,
    PaymentTimeoutError,
)
from host.flows.issuance_ports import Escrow, PaymentPort, PaymentProgress
from host.peripherals.cctalk.errors import CcTalkFrameError, CoinJamError, PayoutShortError
from host.peripherals.payment import CcTalkPayment
from hw_sim.devices.cctalk import SimCcTalkBus


@pytest.fixture
def sim() -> Iterator[SimCcTalkBus]:
    with SimCcTalkBus() as bus:
        yield bus


def run(sim: SimCcTalkBus, scenario: Callable[[CcTalkPayment], Awaitable[None]]) -> None:
    """Run ``scenario`` with a fresh port on ``sim`` (no asyncio plugin: one loop per test)."""

    async def main() -> None:
        payment = CcTalkPayment(sim.url, poll_interval=0.01)
        try:
            await scenario(payment)
        finally:
            await payment.aclose()

    asyncio.run(main())


async def pay(
    sim: SimCcTalkBus, *, coins: tuple[int, ...] = (), bills: tuple[int, ...] = ()
) -> None:
    """The resident: wait for the acceptor to be enabled, then insert the money."""
    await asyncio.to_thread(sim.wait_until, sim.accepting)
    for yen in bills:
        assert sim.insert_bill(yen)
    for yen in coins:
        assert sim.insert_coin(yen)


async def collect(
    port: CcTalkPayment, sim: SimCcTalkBus, fee: int, timeout: float = 5.0, **money: tuple[int, ...]
) -> Escrow:
    task = asyncio.create_task(port.collect(payment_id="op-1", fee_yen=fee, timeout=timeout))
    await pay(sim, **money)
    return await task


def test_the_class_is_a_payment_port(sim: SimCcTalkBus) -> None:
    async def scenario(port: CcTalkPayment) -> None:
        checked: PaymentPort = port
        assert checked is port

    run(sim, scenario)


def test_watch_reports_each_running_total_in_the_event_loop(sim: SimCcTalkBus) -> None:
    """Each coin's running total reaches the watcher in the loop's thread; None stops it."""

    async def scenario(port: CcTalkPayment) -> None:
        assert isinstance(port, PaymentProgress)
        loop_thread = threading.get_ident()
        totals: asyncio.Queue[int] = asyncio.Queue()
        threads: set[int] = set()

        def watcher(total_yen: int) -> None:
            threads.add(threading.get_ident())
            totals.put_nowait(total_yen)

        port.watch(watcher)
        task = asyncio.create_task(port.collect(payment_id="op-1", fee_yen=300, timeout=5.0))
        await asyncio.to_thread(sim.wait_until, sim.accepting)
        seen = []
        for _ in range(3):  # one coin, then wait for its report: one total per coin
            assert sim.insert_coin(100)
            seen.append(await asyncio.wait_for(totals.get(), 5.0))
        escrow = await task
        assert seen == [100, 200, 300]
        assert escrow.inserted_yen == 300
        assert threads == {loop_thread}  # call_soon_threadsafe, never the worker
        port.watch(None)
        task = asyncio.create_task(port.collect(payment_id="op-2", fee_yen=100, timeout=5.0))
        await pay(sim, coins=(100,))
        await task
        await asyncio.sleep(0)  # anything the worker handed over has run by now
        assert totals.empty()

    run(sim, scenario)


def test_exact_fee_in_coins_is_taken_with_no_change(sim: SimCcTalkBus) -> None:
    async def scenario(port: CcTalkPayment) -> None:
        escrow = await collect(port, sim, 300, coins=(100, 100, 100))
        assert escrow == Escrow(payment_id="op-1", fee_yen=300, inserted_yen=300)
        assert not sim.accepting()  # inhibited again once paid
        assert await port.take(escrow) == 0
        assert sim.paid_out() == []
        assert sim.coins.cashbox == [100, 100, 100]

    run(sim, scenario)


def test_overpay_with_a_bill_is_taken_with_change(sim: SimCcTalkBus) -> None:
    async def scenario(port: CcTalkPayment) -> None:
        escrow = await collect(port, sim, 350, bills=(1000,))
        assert escrow.inserted_yen == 1000
        assert sim.bills is not None
        assert sim.bills.escrow is not None
        assert await port.take(escrow) == 650
        assert sorted(sim.paid_out(), reverse=True) == [500, 100, 50]
        assert sim.bills.stacked == [1000]
        assert await port.take(escrow) == 650  # a repeat answers the same and pays nothing
        assert sum(sim.paid_out()) == 650

    run(sim, scenario)


def test_an_escrowed_bill_is_refunded_as_itself(sim: SimCcTalkBus) -> None:
    async def scenario(port: CcTalkPayment) -> None:
        escrow = await collect(port, sim, 300, bills=(1000,), coins=())
        assert await port.refund(escrow) == 1000
        assert sim.bills is not None
        assert (sim.bills.returned, sim.bills.stacked, sim.paid_out()) == ([1000], [], [])
        assert await port.refund(escrow) == 1000  # idempotent
        with pytest.raises(ValueError, match="refund was started"):
            await port.take(escrow)

    run(sim, scenario)


def test_timeout_returns_the_inserted_coins(sim: SimCcTalkBus) -> None:
    async def scenario(port: CcTalkPayment) -> None:
        task = asyncio.create_task(port.collect(payment_id="op-2", fee_yen=300, timeout=0.5))
        await pay(sim, coins=(100, 50))
        with pytest.raises(PaymentTimeoutError, match="150 yen returned"):
            await task
        assert sorted(sim.paid_out()) == [50, 100]
        assert not sim.accepting()
        with pytest.raises(PaymentTimeoutError):  # a repeat answers the same, without the device
            await port.collect(payment_id="op-2", fee_yen=300, timeout=0.5)
        assert sorted(sim.paid_out()) == [50, 100]

    run(sim, scenario)


def test_cancel_returns_the_bill_and_coins(sim: SimCcTalkBus) -> None:
    async def scenario(port: CcTalkPayment) -> None:
        task = asyncio.create_task(port.collect(payment_id="op-3", fee_yen=2000, timeout=10))
        await pay(sim, bills=(1000,), coins=(500,))
        await asyncio.to_thread(
            sim.wait_until, lambda: sim.bills is not None and not sim.bills.escrow
        )
        port.cancel()
        with pytest.raises(PaymentCancelledError, match="1500 yen returned"):
            await task
        assert sorted(sim.paid_out()) == [500, 500, 500]  # the stacked bill comes back as coins

    run(sim, scenario)


def test_cancelling_the_task_returns_the_money_then_propagates(sim: SimCcTalkBus) -> None:
    async def scenario(port: CcTalkPayment) -> None:
        task = asyncio.create_task(port.collect(payment_id="op-4", fee_yen=300, timeout=10))
        await pay(sim, coins=(100,))
        await asyncio.to_thread(sim.wait_until, lambda: sim.requests > 40)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sim.paid_out() == [100]

    run(sim, scenario)


def test_a_cancel_as_the_fee_completes_gives_the_held_fee_back(sim: SimCcTalkBus) -> None:
    """The race: the worker holds the whole fee when the awaiting task is cancelled.

    The event loop is blocked (a plain wait, not ``to_thread``) until the
    worker has recorded the fee as held, so the collect's completion cannot
    reach the task before the cancel does: deterministic. A CancelledError
    means "not paid" to the flow (it journals "not collected"), so the fee
    must come back out, and a repeat must not answer it as paid.
    """

    async def scenario(port: CcTalkPayment) -> None:
        task = asyncio.create_task(port.collect(payment_id="op-9", fee_yen=300, timeout=10))
        await pay(sim, coins=(100, 100, 100))
        sim.wait_until(lambda: "op-9" in port._records)  # blocks the loop: the race's window
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sim.paid_out() == [100, 100, 100]  # given back, not left in the device
        with pytest.raises(PaymentCancelledError):  # a repeat: not paid
            await port.collect(payment_id="op-9", fee_yen=300, timeout=10)
        escrow = Escrow(payment_id="op-9", fee_yen=300, inserted_yen=300)
        with pytest.raises(ValueError, match="refund was started"):
            await port.take(escrow)
        assert await port.refund(escrow) == 300  # idempotent: nothing paid twice
        assert sim.paid_out() == [100, 100, 100]

    run(sim, scenario)


def test_an_empty_hopper_is_a_device_error_and_a_retry_pays_only_what_is_owed(
    sim: SimCcTalkBus,
) -> None:
    async def scenario(port: CcTalkPayment) -> None:
        for coin in (500, 50, 10):
            sim.set_hopper_stock(coin, 0)
        sim.set_hopper_stock(100, 3)
        escrow = await collect(port, sim, 300, bills=(1000,))
        with pytest.raises(PaymentDeviceError) as failed:
            await port.take(escrow)
        assert isinstance(failed.value, PayoutShortError)
        assert (failed.value.paid_yen, failed.value.unpaid_yen) == (300, 400)
        with pytest.raises(PaymentDeviceError):
            await port.take(escrow)  # still empty: the same error, nothing more paid
        assert sum(sim.paid_out()) == 300
        with pytest.raises(ValueError, match="take was started"):
            await port.refund(escrow)  # the fee was taken: never refund a printed document
        sim.set_hopper_stock(100, 50)  # the operator refills; recovery asks again
        assert await port.take(escrow) == 700
        assert sum(sim.paid_out()) == 700  # 300 before + 400 now, not 300 + 700
        assert sim.bills is not None
        assert sim.bills.stacked == [1000]  # stacked once

    run(sim, scenario)


def test_a_jam_while_paying_returns_what_was_inserted_and_is_a_device_error(
    sim: SimCcTalkBus,
) -> None:
    async def scenario(port: CcTalkPayment) -> None:
        task = asyncio.create_task(port.collect(payment_id="op-7", fee_yen=300, timeout=10))
        await pay(sim, coins=(100,))
        sim.jam_coin()
        with pytest.raises(PaymentDeviceError) as failed:
            await task
        assert isinstance(failed.value, CoinJamError)
        assert sim.paid_out() == [100]
        assert not sim.accepting()

    run(sim, scenario)


def test_corrupted_replies_are_retried(sim: SimCcTalkBus) -> None:
    async def scenario(port: CcTalkPayment) -> None:
        sim.corrupt(3)  # within the driver's three retries, on the first request
        escrow = await collect(port, sim, 100, coins=(100,))
        assert sim.faults_left == (0, 0)  # all three corrupted replies were met and retried
        assert escrow.inserted_yen == 100
        assert await port.take(escrow) == 0

    run(sim, scenario)


def test_corruption_past_the_retries_is_a_typed_device_error(sim: SimCcTalkBus) -> None:
    async def scenario(port: CcTalkPayment) -> None:
        sim.corrupt(1000)
        with pytest.raises(PaymentDeviceError) as failed:
            await port.collect(payment_id="op-5", fee_yen=100, timeout=1)
        assert isinstance(failed.value, CcTalkFrameError)
        sim.corrupt(0)
        escrow = await collect(port, sim, 100, coins=(100,))  # the port reopens and works
        assert await port.take(escrow) == 0

    run(sim, scenario)


def test_a_silent_device_times_out_as_a_device_error(sim: SimCcTalkBus) -> None:
    async def scenario(port: CcTalkPayment) -> None:
        sim.silence(1000)
        with pytest.raises(PaymentDeviceError, match="did not answer"):
            await port.collect(payment_id="op-6", fee_yen=100, timeout=1)

    run(sim, scenario)


def test_unknown_payments_are_refused_without_touching_money(sim: SimCcTalkBus) -> None:
    async def scenario(port: CcTalkPayment) -> None:
        with pytest.raises(PaymentDeviceError, match="no money is held"):
            await port.refund(Escrow(payment_id="never", fee_yen=300, inserted_yen=300))

    run(sim, scenario)


def test_sim_payment_cli(tmp_path: Path) -> None:
    link = tmp_path / "pay"
    done = subprocess.run(
        [sys.executable, "-m", "myna_edge", "sim", "payment", "--link", str(link)],
        input="coin 100\nbill 1000\nhopper 100 0\njam coin\nwhat\npaid\nquit\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"ccTalk payment bus on {link}")
    assert lines[1:] == ["returned", "returned", "unknown command 'what'", "paid out 0 yen: []"]
    assert not link.exists()
