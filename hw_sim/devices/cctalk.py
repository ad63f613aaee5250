# SPDX-License-Identifier: Apache-2.0
"""A ccTalk payment bus on a pty: coin acceptor, bill validator with escrow, hoppers.

``SimCcTalkBus`` gives the host a pty (``sim.url``) joined by the fault
relay (``faults.py``) to the emulator's own pty. Like the real single-wire
bus, every byte the host sends is echoed back before the addressed device
answers; a gap of 50 ms drops a partial frame. The devices are the models of
``cctalk_money.py``; tests and ``myna-edge sim payment`` drive them with
``insert_coin``, ``insert_bill``, ``jam_coin``, ``jam_bill`` and
``set_hopper_stock``, and make the link fail a bounded number of times with
``silence(n)`` (no reply: the host times out) and ``corrupt(n)`` (replies
whose checksum does not check). Random faults come from ``LinkFaults``.

Protocol summary and sources: ``hw_sim/devices/CCTALK.md``.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from host.peripherals.cctalk.cashier import DEFAULT_HOPPERS
from host.peripherals.cctalk.codes import ADDR_HOST, Header
from host.peripherals.cctalk.frame import Frame, FrameParser
from hw_sim.devices.base import SimDeviceABC
from hw_sim.devices.cctalk_money import (
    Nak,
    SimBillValidator,
    SimCoinAcceptor,
    SimHopper,
    SimMoneyDevice,
    hoppers_from,
)
from hw_sim.devices.errors import DeviceError, DeviceTimeoutError
from hw_sim.devices.faults import LinkFaults, PtyRelay

__all__ = ["SimCcTalkBus"]

_log = logging.getLogger(__name__)
#: Silence that ends a partial frame (ccTalk's inter-byte timeout).
_GAP: Final = 0.05


class SimCcTalkBus(SimDeviceABC):
    """A running ccTalk payment bus emulator; a context manager.

    Args:
        hoppers: hopper address -> coin yen (default: 500, 100, 50 and 10 at 3-6).
        hopper_stock: coins in each hopper at start.
        bill_validator: put a bill validator on the bus (address 40).
        faults: random link faults between host and bus.
        link_path: also expose the host end as this symlink.
    """

    def __init__(
        self,
        *,
        hoppers: Mapping[int, int] = DEFAULT_HOPPERS,
        hopper_stock: int = 100,
        bill_validator: bool = True,
        faults: LinkFaults | None = None,
        link_path: Path | None = None,
    ) -> None:
        super().__init__(faults, link_path)
        self.coins = SimCoinAcceptor()
        self.bills = SimBillValidator() if bill_validator else None
        self.hoppers: dict[int, SimHopper] = hoppers_from(hoppers, hopper_stock)
        self._devices: dict[int, SimMoneyDevice] = {self.coins.address: self.coins}
        if self.bills is not None:
            self._devices[self.bills.address] = self.bills
        self._devices.update(self.hoppers)
        self._lock = threading.Condition()
        self._silent = 0
        self._corrupt = 0
        self.requests = 0  # frames answered or deliberately not
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> SimCcTalkBus:
        """Open the ptys and start emulating."""
        dev_slave, _ = self._pty.open()
        self._thread = threading.Thread(
            target=self._run, args=(dev_slave,), name="sim-cctalk", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop; closing twice is harmless."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        self._pty.close()

    def _running(self) -> bool:
        return self._thread is not None

    @property
    def relay(self) -> PtyRelay | None:
        """The link's fault relay, once started."""
        return self._pty.relay

    # --- the resident and the operator -------------------------------------

    def insert_coin(self, yen: int) -> bool:
        """Drop a coin in; True when credited (False: inhibited or not a JP coin)."""
        with self._lock:
            return self.coins.insert(yen)

    def insert_bill(self, yen: int) -> bool:
        """Feed a bill in; True when taken into escrow (or stacked).

        Raises:
            DeviceError: no bill validator on this bus.
        """
        with self._lock:
            return self._validator().insert(yen)

    def jam_coin(self) -> None:
        """Jam the coin acceptor (its next event is "credit sensor blocked")."""
        with self._lock:
            self.coins.jam()

    def jam_bill(self) -> None:
        """Jam the bill validator's transport."""
        with self._lock:
            self._validator().jam()

    def set_hopper_stock(self, coin_yen: int, count: int) -> None:
        """Refill (or empty, with 0) every hopper of ``coin_yen``.

        Raises:
            DeviceError: no hopper pays that coin.
        """
        with self._lock:
            found = [h for h in self.hoppers.values() if h.coin_yen == coin_yen]
            if not found:
                raise DeviceError(f"no hopper pays {coin_yen} yen")
            for hopper in found:
                hopper.stock = count

    def silence(self, count: int) -> None:
        """Leave the next ``count`` requests unanswered (the echo still comes back)."""
        with self._lock:
            self._silent = count

    def corrupt(self, count: int) -> None:
        """Send the next ``count`` replies with a checksum that does not check."""
        with self._lock:
            self._corrupt = count

    @property
    def faults_left(self) -> tuple[int, int]:
        """``(silent, corrupt)``: requests still to be left unanswered or corrupted."""
        with self._lock:
            return self._silent, self._corrupt

    def paid_out(self) -> list[int]:
        """Every coin the hoppers paid, in yen, hopper by hopper."""
        with self._lock:
            return [c for h in self.hoppers.values() for c in h.paid_out]

    def accepting(self) -> bool:
        """The coin acceptor's master inhibit is off (the host enables it last when collecting)."""
        with self._lock:
            return self.coins.master_enabled

    def wait_until(self, check: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``check()`` holds (tested after each request the bus answers).

        Raises:
            DeviceTimeoutError: it did not within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while not check():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DeviceTimeoutError("the payment bus did not reach the state in time")
                self._lock.wait(min(left, 0.05))

    def _validator(self) -> SimBillValidator:
        if self.bills is None:
            raise DeviceError("this bus has no bill validator")
        return self.bills

    # --- the wire ---------------------------------------------------------------

    def _run(self, fd: int) -> None:
        parser = FrameParser()
        last = time.monotonic()
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.02)
            now = time.monotonic()
            if parser.pending and now - last > _GAP:
                parser.reset()  # the sender went quiet mid-frame
            if not ready:
                continue
            try:
                data = os.read(fd, 4096)
                os.write(fd, data)  # the single-wire bus echoes every byte
            except OSError:
                return
            last = now
            for got in parser.feed(data):
                reply = self._reply(got) if isinstance(got, Frame) else None
                if reply is None:
                    continue
                try:
                    os.write(fd, reply)
                except OSError:
                    return

    def _reply(self, frame: Frame) -> bytes | None:
        device = self._devices.get(frame.dest)
        if device is None or frame.src != ADDR_HOST:
            return None  # not for a device here (or another host's echo)
        with self._lock:
            self.requests += 1
            self._lock.notify_all()
            if self._silent:
                self._silent -= 1
                return None
            try:
                header, data = Header.REPLY, device.answer(frame.header, frame.data)
            except Nak:
                header, data = Header.NAK, b""
            raw = bytearray(Frame(ADDR_HOST, device.address, header, data).encode())
            if self._corrupt:
                self._corrupt -= 1
                raw[-1] ^= 0x5A
        _log.debug("cctalk %r -> %s", frame, raw.hex(" "))
        return bytes(raw)
