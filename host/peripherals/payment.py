# SPDX-License-Identifier: Apache-2.0
"""``CcTalkPayment``: the issuance flow's ``PaymentPort`` on a ccTalk coin/bill/hopper bus.

The ccTalk driver (``host.peripherals.cctalk``) blocks on pyserial, so, like
the receipt printer (``host.flows.printer_port.ThreadedPrinter``), it runs in
one worker thread of its own; the bus is opened on first use and closed after
a failure so the next payment reopens it.

Idempotent per ``payment_id`` (``host.flows.issuance_ports``): the answer to
a finished ``collect``, ``take`` or ``refund`` is recorded, and a repeat gets
the same answer (or the same error) without touching the devices, so a flow
that asks twice never pays change twice. A ``take`` or ``refund`` that failed
part-way (the hoppers ran short, the link failed) resumes on a repeat: the
escrowed bill is routed once, and only the yen still owed is paid (the
flow's recovery retries it after the operator refills). Taking a payment
after a refund was started, or the reverse, is refused with ``ValueError``.
The record lives in memory: after a restart the flow's journal decides (an
unknown payment raises ``PaymentDeviceError`` so the operator is called,
never a blind payout).

Cancel: ``cancel()`` (the resident's cancel button) makes a running
``collect`` return the money and raise ``PaymentCancelledError``; cancelling
the awaiting task does the same and then re-raises ``CancelledError``. A
cancel of the task that lands just as the fee became complete (the worker
already holds it in escrow) gives the escrow back too before re-raising:
whoever awaits ``collect`` reads a ``CancelledError`` as "not paid" (the
flow journals the collect as not collected, and recovery then refunds
nothing), so a fee kept in escrow would be neither kept nor returned.
Returning it, not keeping it, is the choice because a ``CancelledError``
cannot carry the escrow back to the flow. A repeat ``collect`` then answers
``PaymentCancelledError`` and a ``take`` is refused; a refund that fails
part-way is logged for the operator (the device error stays recorded and a
repeat ``refund`` resumes it).

Progress (``host.flows.issuance_ports.PaymentProgress``): ``watch(callback)``
has ``callback(total_yen)`` called after each credit poll that found money,
in the event loop that awaits ``collect`` (the worker hands the total over
with ``call_soon_threadsafe``), so the flow can emit a screen event without
locking. A total that arrives after ``watch(None)`` is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

from host.errors import (
    PaymentCancelledError,
    PaymentDeviceError,
    PaymentError,
    PaymentTimeoutError,
    PeripheralError,
)
from host.flows.issuance_ports import Escrow
from host.peripherals.cctalk.bus import CcTalkBus
from host.peripherals.cctalk.cashier import DEFAULT_HOPPERS, Cashier, Held
from host.peripherals.cctalk.codes import RouteCode

__all__ = ["CcTalkPayment"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


class _Stage(Enum):
    HELD = "held"
    TAKEN = "taken"
    REFUNDED = "refunded"
    FAILED = "failed"


@dataclass
class _Record:
    stage: _Stage
    escrow: Escrow | None = None
    held: Held = field(default_factory=Held)
    amount: int = 0  # coins paid out so far; when finished, the change or yen returned
    error: PaymentError | None = None  # raised again on a repeat
    settling: _Stage | None = None  # the take or refund started
    routed: bool = False  # the escrowed bill was stacked or returned
    withdrawn: bool = False  # completed, but the collect was cancelled: refunded, not paid


class CcTalkPayment:
    """A ``PaymentPort`` over a ccTalk bus at a pyserial URL (``/dev/ttyUSB0``, a pty).

    Args:
        url: the bus's serial URL.
        hoppers: hopper address -> yen of the coin it pays.
        bill_validator: a bill validator is on the bus (address 40).
        max_change_yen: accept only bills whose change stays within this.
        timeout: seconds for each ccTalk reply.
        retries: extra attempts after a corrupted or missing reply.
        poll_interval: seconds between credit polls while collecting.
    """

    def __init__(
        self,
        url: str,
        *,
        hoppers: Mapping[int, int] = DEFAULT_HOPPERS,
        bill_validator: bool = True,
        max_change_yen: int = 1000,
        timeout: float = 0.2,
        retries: int = 3,
        poll_interval: float = 0.05,
    ) -> None:
        self.url = url
        self._timeout, self._retries = timeout, retries
        self._hoppers = dict(hoppers)
        self._bill_validator = bill_validator
        self._max_change_yen = max_change_yen
        self._poll_interval = poll_interval
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="payment")
        self._bus: CcTalkBus | None = None
        self._cashier: Cashier | None = None
        self._records: dict[str, _Record] = {}
        self._cancel = threading.Event()
        self._watcher: Callable[[int], None] | None = None

    def watch(self, on_inserted: Callable[[int], None] | None) -> None:
        """Call ``on_inserted(total_yen)`` after each insertion during ``collect``; None stops.

        The callback runs in the event loop that awaits ``collect``, never in
        the worker thread.
        """
        self._watcher = on_inserted

    def cancel(self) -> None:
        """Stop a running ``collect``: the money goes back and it raises ``PaymentCancelledError``.

        Safe from any thread; a cancel with no collect running is forgotten.
        """
        self._cancel.set()

    async def collect(self, *, payment_id: str, fee_yen: int, timeout: float) -> Escrow:
        """Wait until at least ``fee_yen`` is inserted and hold it (bills in escrow).

        Raises:
            ValueError: a fee that is not positive.
            PaymentTimeoutError, PaymentCancelledError: not paid; money returned.
            PaymentDeviceError: the device failed (what could be returned was).
        """
        record = self._records.get(payment_id)
        if record is None:
            self._cancel.clear()
            loop = asyncio.get_running_loop()

            def report(total_yen: int) -> None:  # worker thread -> this loop
                loop.call_soon_threadsafe(self._report, total_yen)

            collecting = self._run(self._collect, payment_id, fee_yen, timeout, report)
            run = asyncio.ensure_future(collecting)
            try:
                await asyncio.shield(run)
            except asyncio.CancelledError:
                self._cancel.set()  # the worker returns the money, then we go
                await asyncio.wait([run])
                if not run.cancelled():
                    run.exception()  # recorded for a repeat; retrieved so nothing warns
                await self._withdraw(payment_id)
                raise
            record = self._records[payment_id]
        return self._answer(record)

    async def take(self, escrow: Escrow) -> int:
        """Keep the fee and pay the change; returns the change in yen.

        Raises:
            ValueError: the payment was refunded.
            PaymentDeviceError: unknown payment, or the device failed.
        """
        return await self._finish(escrow, _Stage.TAKEN)

    async def refund(self, escrow: Escrow) -> int:
        """Give back everything inserted; returns the yen returned.

        Raises:
            ValueError: the payment was taken.
            PaymentDeviceError: unknown payment, or the device failed.
        """
        return await self._finish(escrow, _Stage.REFUNDED)

    async def aclose(self) -> None:
        """Close the bus and stop the worker thread; harmless twice."""
        self._cancel.set()
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)

    # --- worker side --------------------------------------------------------

    async def _run(self, func: Callable[..., _T], *args: object) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)

    async def _finish(self, escrow: Escrow, stage: _Stage) -> int:
        record = self._records.get(escrow.payment_id)
        if record is None or record.escrow is None:
            raise PaymentDeviceError(f"no money is held for payment {escrow.payment_id!r}")
        if record.settling not in (None, stage):
            verb = "take" if record.settling is _Stage.TAKEN else "refund"
            raise ValueError(f"payment {escrow.payment_id!r}: a {verb} was started")
        if record.stage in (_Stage.HELD, _Stage.FAILED):
            await self._run(self._settle, record, stage)
        if record.stage is _Stage.FAILED:
            raise record.error or PaymentDeviceError("the payment failed")
        if record.stage is not stage:
            raise ValueError(f"payment {escrow.payment_id!r} was already {record.stage.value}")
        return record.amount

    async def _withdraw(self, payment_id: str) -> None:
        """The awaiting task was cancelled: give back a fee the worker completed meanwhile."""
        record = self._records.get(payment_id)
        if record is None or record.escrow is None or record.settling is not None:
            return  # not paid (the worker returned the money) or already settling
        record.withdrawn = True
        await self._run(self._settle, record, _Stage.REFUNDED)
        if record.stage is _Stage.FAILED:
            _log.error(
                "payment %s: cancelled as the fee completed; giving it back failed, the"
                " operator must return %d yen",
                payment_id,
                record.escrow.inserted_yen - record.amount,
            )

    def _answer(self, record: _Record) -> Escrow:
        if record.withdrawn:
            raise PaymentCancelledError("payment cancelled; the fee held was given back")
        if record.escrow is None:
            raise record.error or PaymentDeviceError("the payment failed")
        return record.escrow

    def _cashier_ready(self) -> Cashier:
        if self._cashier is None:
            bus = CcTalkBus(self.url, timeout=self._timeout, retries=self._retries)
            bus.open()
            try:
                cashier = Cashier(
                    bus,
                    hoppers=self._hoppers,
                    bill_validator=self._bill_validator,
                    max_change_yen=self._max_change_yen,
                    poll_interval=self._poll_interval,
                )
                cashier.start()
            except PeripheralError:
                bus.close()
                raise
            self._bus, self._cashier = bus, cashier
        return self._cashier

    def _report(self, total_yen: int) -> None:
        """In the event loop: tell the watcher of the moment (none after ``watch(None)``)."""
        if self._watcher is not None:
            self._watcher(total_yen)

    def _collect(
        self, payment_id: str, fee_yen: int, timeout: float, report: Callable[[int], None]
    ) -> None:
        try:
            held = self._cashier_ready().collect(
                fee_yen, timeout=timeout, cancelled=self._cancel, on_credit=report
            )
        except (PaymentTimeoutError, PaymentCancelledError) as exc:
            self._records[payment_id] = _Record(_Stage.FAILED, error=exc)
            raise
        except PeripheralError as exc:
            self._close()
            error = _device_error(exc)
            self._records[payment_id] = _Record(_Stage.FAILED, error=error)
            if error is exc:
                raise
            raise error from exc
        escrow = Escrow(payment_id=payment_id, fee_yen=fee_yen, inserted_yen=held.total_yen)
        self._records[payment_id] = _Record(_Stage.HELD, escrow=escrow, held=held)
        _log.info("payment %s: %d yen held for a fee of %d", payment_id, held.total_yen, fee_yen)

    def _settle(self, record: _Record, stage: _Stage) -> None:
        """Take or refund, resuming after an earlier failure of the same one."""
        escrow = record.escrow
        if escrow is None:  # _finish checked; kept for the type checker
            return
        record.settling = stage
        held = record.held
        if stage is _Stage.TAKEN:
            route, owed = RouteCode.STACK, held.total_yen - escrow.fee_yen
        else:
            route, owed = RouteCode.RETURN, held.coins_yen + held.stacked_yen
        cashier: Cashier | None = None
        try:
            cashier = self._cashier_ready()
            cashier.last_paid_yen = 0
            if not record.routed:
                cashier.route_escrow(held, route)
                record.routed = True
            cashier.pay_out(owed - record.amount)
        except PeripheralError as exc:
            if cashier is not None:
                record.amount += cashier.last_paid_yen
            self._close()
            record.stage, record.error = _Stage.FAILED, _device_error(exc)
            _log.error("payment %s: %s failed: %s", escrow.payment_id, stage.value, exc)
            return
        record.amount = owed
        if stage is _Stage.REFUNDED:
            record.amount += held.escrow_yen
        record.stage, record.error = stage, None
        _log.info("payment %s %s: %d yen out", escrow.payment_id, stage.value, record.amount)

    def _close(self) -> None:
        bus, self._bus, self._cashier = self._bus, None, None
        if bus is not None:
            bus.close()


def _device_error(exc: PeripheralError) -> PaymentError:
    """``exc`` itself when it is a payment error; else wrapped (the port was lost)."""
    if isinstance(exc, PaymentError):
        return exc
    return PaymentDeviceError(f"the payment device failed: {exc}")
