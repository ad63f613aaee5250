# SPDX-License-Identifier: Apache-2.0
"""``AgentBoard``: the controller board as the agent uses it — secure entry, status, firmware.

Why one object: the agent opens the controller's serial port once and the
driver is synchronous and single-threaded (DESIGN "Concurrency"), so the
PIN pad's secure entries, the status monitor's STATUS, the firmware
version (FW_STATUS) and an operator's firmware update must all run on the
same worker thread, one after the other. ``ControllerSecureEntry`` owns
that thread; this subclass runs the other calls on it too (``_call``).

The firmware version comes from the board's handshake (INFO, renewed at
every new link session, so a reverted trial or a reflashed board shows) and
the details (slot, trial, counters) from FW_STATUS, asked again only when
the handshake's version changed or after an update.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from host.agent.monitor import board_state
from host.errors import BoardAbsentError, BoardTamperedError, PeripheralError
from host.firmware.errors import UpdateError, UpdateFailure
from host.firmware.update import FirmwareStatus, FirmwareUpdater, UpdateProgress
from host.flows import ControllerSecureEntry
from host.peripherals import BoardStatus, Controller
from myna.edge.v1 import terminal_pb2 as tpb

__all__ = ["AbsentBoard", "AgentBoard", "firmware_info"]

_T = TypeVar("_T")


def _dotted(version: tuple[int, int, int]) -> str:
    return ".".join(map(str, version))


def firmware_info(version: tuple[int, int, int], status: FirmwareStatus | None) -> tpb.FirmwareInfo:
    """The API's ``FirmwareInfo`` from the handshake's version and FW_STATUS (None: no slots)."""
    if status is None:
        return tpb.FirmwareInfo(version=_dotted(version), updatable=False)
    return tpb.FirmwareInfo(
        version=_dotted(status.version),
        updatable=True,
        factory=status.slot is None,
        trial=status.trial,
        security_counter=status.security_counter,
        floor=status.floor,
    )


class AgentBoard(ControllerSecureEntry):
    """An open controller: the ATM's secure PIN pad and the operator's firmware updates.

    Args:
        controller: the opened board driver; used only from this object's
            worker thread from now on.
        kcv: the check value of the agent's ``controller_key`` (None: not compared).
    """

    def __init__(self, controller: Controller, *, kcv: bytes | None) -> None:
        super().__init__(controller)
        self._kcv = kcv
        self._firmware: tpb.FirmwareInfo | None = None
        self._firmware_of: tuple[int, int, int] | None = None  # the handshake it was read for

    async def _call(self, fn: Callable[[], _T]) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn)

    def _read_firmware(self) -> tpb.FirmwareInfo | None:
        # On the worker thread. A board without update slots answers
        # "unknown command": its version is still the handshake's.
        info = self._controller.info
        if info is None:
            return None
        try:
            status = FirmwareUpdater(self._controller).status()
        except UpdateError as exc:
            found = firmware_info(info.firmware_version, None)
            found.updatable = exc.reason is not UpdateFailure.UNSUPPORTED
            return found
        return firmware_info(info.firmware_version, status)

    async def firmware(self) -> tpb.FirmwareInfo | None:
        """What the board runs; FW_STATUS is asked only when the handshake's version changed.

        Raises:
            PeripheralError: the board does not answer.
        """
        info = self._controller.info
        version = info.firmware_version if info is not None else None
        if self._firmware is None or version != self._firmware_of:
            self._firmware = await self._call(self._read_firmware)
            self._firmware_of = version
        return self._firmware

    async def state(self) -> tpb.DeviceState.ValueType:
        """The controller's device state from its STATUS (OFFLINE when silent)."""
        try:
            status = await self.board_status()
        except BoardTamperedError:
            return tpb.DEVICE_STATE_FRAUD_ATTEMPT
        except PeripheralError:
            return tpb.DEVICE_STATE_OFFLINE
        return board_state(status, self._kcv)

    async def status_and_firmware(self) -> tuple[BoardStatus, tpb.FirmwareInfo | None]:
        """STATUS for the monitor, and the firmware that goes with it.

        Raises:
            PeripheralError: the board does not answer.
        """
        status = await self.board_status()
        return status, await self.firmware()

    async def apply(self, image: bytes, progress: Callable[[UpdateProgress], None]) -> None:
        """Send, commit and confirm ``image`` on the worker thread (after any entry).

        The caller (``host.api.firmware.FirmwareDesk``) runs it only while
        no command runs. ``progress`` is called from the worker thread.

        Raises:
            ImageFormatError, UpdateError: the image was refused (typed).
            PeripheralError: the board stopped answering.
        """
        updater = FirmwareUpdater(self._controller)
        try:
            await self._call(lambda: updater.apply(image, progress=progress))
        finally:
            self._firmware = None  # whatever happened, ask the board again


class AbsentBoard:
    """A configured controller that did not open at start-up: nothing to update.

    The API refuses an update DEVICE_NOT_READY from the controller's status
    (NO_DEVICE) before calling any of these.
    """

    async def apply(self, image: bytes, progress: Callable[[UpdateProgress], None]) -> None:
        """Raises BoardAbsentError."""
        raise BoardAbsentError("the controller is not present")

    async def firmware(self) -> tpb.FirmwareInfo | None:
        """Nothing is known."""
        return None

    async def state(self) -> tpb.DeviceState.ValueType:
        """NO_DEVICE."""
        return tpb.DEVICE_STATE_NO_DEVICE
