# SPDX-License-Identifier: Apache-2.0
"""``DeviceDesk``: the terminal API's device operations (raw chip, PIN pad, raw print).

Why: an XFS4IoT application (``host/xfs4iot``, docs/xfs4iot.md) drives the
devices one command at a time instead of running our flows. The desk
answers the five device RPCs with a typed completion and a
``DeviceError``, never an exception, and keeps three rules:

* one user of the card at a time: a device operation is refused
  ``DEVICE_ERROR_BUSY`` while a flow runs, and while a chip session is
  open or a PIN is held the API refuses new flows BUSY (``busy``). An
  idle chip session ends by itself after ``idle_seconds``;
* a PIN never crosses the API: ``EnterPin`` collects it on the secure
  PIN pad and the agent keeps it (a wiped-after-use ``Secret``) for one
  ``PresentPin`` within ``pin_hold_seconds``; the answer says only how many
  characters were typed. ``PresentPin`` builds the VERIFY in the agent
  with the PIN as ASCII bytes (JPKI's VERIFY format, jpki-card.md), not
  XFS4IoT's nibble-packed ``presentClear``; ``ChipIo`` refuses
  secret-bearing APDUs (``host.api.chip``);
* raw print goes through the printer driver's status checks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Final, Protocol, TypeAlias, runtime_checkable

from host.api.chip import ChipSession, is_secret_bearing
from host.api.prompts import SecureEntry
from host.errors import (
    BoardNotCommissionedError,
    BoardTamperedError,
    CardRemovedError,
    CoverOpenError,
    EntryCancelledError,
    EntryTimeoutError,
    NoCardError,
    PaperOutError,
    PeripheralError,
    TransportError,
)
from host.flows import Prompt, PromptKind
from host.flows.secure_entry import ENTRY_LIMITS
from host.peripherals.escpos import Receipt
from host.secret import Secret
from myna.edge.v1 import terminal_pb2 as tpb

__all__ = ["MAX_PRINT_BYTES", "DeviceDesk", "RawPrinter"]

_log = logging.getLogger(__name__)

#: The largest PrintRaw payload.
MAX_PRINT_BYTES: Final = 65536

#: EnterPin's prompt types -> the flow prompt kinds whose entry rules apply.
_PIN_KINDS: Final = {
    tpb.PROMPT_TYPE_AUTH_PIN: PromptKind.AUTH_PIN,
    tpb.PROMPT_TYPE_CARD_INFO_PIN: PromptKind.CARD_INFO_PIN,
    tpb.PROMPT_TYPE_SIGNING_PASSWORD: PromptKind.SIGNING_PASSWORD,
}

_Code: TypeAlias = tpb.CompletionCode.ValueType
_Error: TypeAlias = tpb.DeviceError.ValueType


@runtime_checkable
class RawPrinter(Protocol):
    """A printer that prints a receipt built by the caller (``ThreadedPrinter``)."""

    async def print_receipt(self, receipt: Receipt) -> None:
        """Print ``receipt``."""


def _card_failure(exc: TransportError) -> tuple[_Code, _Error]:
    if isinstance(exc, NoCardError | CardRemovedError):
        return tpb.COMPLETION_CODE_DEVICE_NOT_READY, tpb.DEVICE_ERROR_NO_MEDIA
    return tpb.COMPLETION_CODE_HARDWARE_ERROR, tpb.DEVICE_ERROR_UNSPECIFIED


class DeviceDesk:
    """The device operations over the agent's reader, PIN pad and printer.

    Args:
        reader_url: the reader the chip session opens ("" = none).
        secure_entry: the PIN pad's secret source (None = no pad).
        printer: the receipt printer (None = none).
        flow_busy: whether a flow runs now.
        pin_hold_seconds: how long an entered PIN waits for PresentPin.
        idle_seconds: how long an unused chip session stays open.
    """

    def __init__(
        self,
        reader_url: str,
        *,
        secure_entry: SecureEntry | None,
        printer: object | None,
        flow_busy: Callable[[], bool],
        pin_hold_seconds: float = 60.0,
        idle_seconds: float = 120.0,
    ) -> None:
        self._chip = ChipSession(reader_url) if reader_url else None
        self._entry = secure_entry
        self._printer = printer if isinstance(printer, RawPrinter) else None
        self._flow_busy = flow_busy
        self._hold_s = pin_hold_seconds
        self._idle_s = idle_seconds
        self._pin: Secret | None = None
        self._pin_deadline = 0.0
        self._last_chip_use = 0.0
        self._card = asyncio.Lock()
        self._pad = asyncio.Lock()
        self._paper = asyncio.Lock()
        self._idle_task: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        """Whether a chip session is open, a PIN is held, or an operation runs."""
        chip = self._chip is not None and self._chip.powered
        return chip or self._held() or self._card.locked() or self._pad.locked()

    def _held(self) -> bool:
        if self._pin is not None and time.monotonic() > self._pin_deadline:
            self._forget_pin()
        return self._pin is not None

    def _forget_pin(self) -> None:
        pin, self._pin = self._pin, None
        if pin is not None:
            pin.wipe()

    def _refused(self, lock: asyncio.Lock) -> bool:
        return self._flow_busy() or lock.locked()

    # --- chip ---------------------------------------------------------------

    def _touch(self) -> None:
        self._last_chip_use = time.monotonic()
        if self._idle_task is None or self._idle_task.done():
            self._idle_task = asyncio.ensure_future(self._idle_watch())

    async def _idle_watch(self) -> None:
        # Ends a session nobody uses (an application that forgot ChipPower
        # off must not hold the terminal's flows BUSY for ever).
        while self._chip is not None and self._chip.powered:
            left = self._last_chip_use + self._idle_s - time.monotonic()
            if left <= 0:
                async with self._card:
                    _log.info("chip session idle for %.0f s: powering off", self._idle_s)
                    await self._chip.off()
                    self._forget_pin()
                return
            await asyncio.sleep(left)

    async def chip_power(self, request: tpb.ChipPowerRequest) -> tpb.ChipPowerResponse:
        """Power the chip cold/warm (open or reopen the session) or off."""
        if self._chip is None:
            return tpb.ChipPowerResponse(
                code=tpb.COMPLETION_CODE_DEVICE_NOT_READY, error=tpb.DEVICE_ERROR_NO_DEVICE
            )
        if request.action not in (
            tpb.CHIP_POWER_ACTION_COLD,
            tpb.CHIP_POWER_ACTION_WARM,
            tpb.CHIP_POWER_ACTION_OFF,
        ):
            return tpb.ChipPowerResponse(
                code=tpb.COMPLETION_CODE_COMMAND_ERROR, error=tpb.DEVICE_ERROR_INVALID_DATA
            )
        if self._refused(self._card):
            return tpb.ChipPowerResponse(
                code=tpb.COMPLETION_CODE_DEVICE_NOT_READY, error=tpb.DEVICE_ERROR_BUSY
            )
        async with self._card:
            if request.action == tpb.CHIP_POWER_ACTION_OFF:
                await self._chip.off()
                self._forget_pin()  # a PIN is for this card session only
                return tpb.ChipPowerResponse(code=tpb.COMPLETION_CODE_SUCCESS)
            try:
                atr = await self._chip.power(reset=True)
            except TransportError as exc:
                code, error = _card_failure(exc)
                return tpb.ChipPowerResponse(code=code, error=error)
            self._touch()
            return tpb.ChipPowerResponse(code=tpb.COMPLETION_CODE_SUCCESS, atr=atr)

    async def chip_io(self, request: tpb.ChipIoRequest) -> tpb.ChipIoResponse:
        """Exchange one APDU; a secret-bearing one is refused ACCESS_DENIED."""
        apdu = bytes(request.command_apdu)
        try:
            secret = is_secret_bearing(apdu)
        except ValueError:
            return tpb.ChipIoResponse(
                code=tpb.COMPLETION_CODE_COMMAND_ERROR, error=tpb.DEVICE_ERROR_INVALID_DATA
            )
        if secret:
            return tpb.ChipIoResponse(
                code=tpb.COMPLETION_CODE_COMMAND_ERROR, error=tpb.DEVICE_ERROR_ACCESS_DENIED
            )
        code, error, response = await self._exchange(apdu)
        return tpb.ChipIoResponse(code=code, error=error, response_apdu=response)

    async def _exchange(self, apdu: bytes) -> tuple[_Code, _Error, bytes]:
        if self._chip is None:
            return tpb.COMPLETION_CODE_DEVICE_NOT_READY, tpb.DEVICE_ERROR_NO_DEVICE, b""
        if self._refused(self._card):
            return tpb.COMPLETION_CODE_DEVICE_NOT_READY, tpb.DEVICE_ERROR_BUSY, b""
        async with self._card:
            try:
                response = await self._chip.transmit(apdu)
            except TransportError as exc:
                self._forget_pin()
                code, error = _card_failure(exc)
                return code, error, b""
            self._touch()
            return tpb.COMPLETION_CODE_SUCCESS, tpb.DEVICE_ERROR_UNSPECIFIED, response

    # --- PIN pad ------------------------------------------------------------

    async def enter_pin(self, request: tpb.EnterPinRequest) -> tpb.EnterPinResponse:
        """Collect a PIN on the pad and hold it; answers the number of characters."""
        kind = _PIN_KINDS.get(request.type)
        if kind is None:
            return tpb.EnterPinResponse(
                code=tpb.COMPLETION_CODE_COMMAND_ERROR, error=tpb.DEVICE_ERROR_INVALID_DATA
            )
        _, low, high = ENTRY_LIMITS[kind]
        # The board enforces the kind's own rule; the application's range
        # must contain it, or its own rule would silently not be enforced.
        if request.min_length > low or (request.max_length and request.max_length < high):
            return tpb.EnterPinResponse(
                code=tpb.COMPLETION_CODE_COMMAND_ERROR, error=tpb.DEVICE_ERROR_UNSUPPORTED_LENGTH
            )
        if self._entry is None:
            return tpb.EnterPinResponse(
                code=tpb.COMPLETION_CODE_DEVICE_NOT_READY, error=tpb.DEVICE_ERROR_NO_DEVICE
            )
        if self._refused(self._pad):
            return tpb.EnterPinResponse(
                code=tpb.COMPLETION_CODE_DEVICE_NOT_READY, error=tpb.DEVICE_ERROR_BUSY
            )
        async with self._pad:
            self._forget_pin()  # a new entry replaces an unused one
            timeout = request.timeout_ms / 1000 if request.timeout_ms else None
            try:
                secret = await asyncio.wait_for(self._entry(Prompt(kind)), timeout)
            except TimeoutError as exc:
                if isinstance(exc, EntryTimeoutError):  # the pad's own entry timeout
                    return tpb.EnterPinResponse(
                        code=tpb.COMPLETION_CODE_COMMAND_ERROR,
                        error=tpb.DEVICE_ERROR_ENTRY_TIMEOUT,
                    )
                return tpb.EnterPinResponse(code=tpb.COMPLETION_CODE_TIME_OUT)
            except EntryCancelledError:
                return tpb.EnterPinResponse(code=tpb.COMPLETION_CODE_CANCELED)
            except (BoardTamperedError, BoardNotCommissionedError):
                return tpb.EnterPinResponse(
                    code=tpb.COMPLETION_CODE_DEVICE_NOT_READY, error=tpb.DEVICE_ERROR_NO_DEVICE
                )
            except PeripheralError as exc:
                _log.warning("PIN entry failed: %s", type(exc).__name__)
                return tpb.EnterPinResponse(code=tpb.COMPLETION_CODE_HARDWARE_ERROR)
            self._pin, self._pin_deadline = secret, time.monotonic() + self._hold_s
            return tpb.EnterPinResponse(code=tpb.COMPLETION_CODE_SUCCESS, digits=len(secret))

    async def present_pin(self, request: tpb.PresentPinRequest) -> tpb.PresentPinResponse:
        """VERIFY with the held PIN (ASCII), built here; the PIN is wiped whatever happens."""
        header = bytes(request.command_header)
        if len(header) != 4 or header[1] != 0x20 or header[0] == 0xFF:
            return tpb.PresentPinResponse(
                code=tpb.COMPLETION_CODE_COMMAND_ERROR, error=tpb.DEVICE_ERROR_INVALID_DATA
            )
        if not self._held():
            return tpb.PresentPinResponse(
                code=tpb.COMPLETION_CODE_COMMAND_ERROR, error=tpb.DEVICE_ERROR_NO_PIN
            )
        pin, self._pin = self._pin, None
        assert pin is not None
        with pin:
            value = pin.reveal()
            apdu = bytearray(header) + bytes((len(value),)) + value
            try:
                code, error, response = await self._exchange(bytes(apdu))
            finally:
                apdu[:] = bytes(len(apdu))
        return tpb.PresentPinResponse(code=code, error=error, response_apdu=response)

    # --- printer ------------------------------------------------------------

    async def print_raw(self, request: tpb.PrintRawRequest) -> tpb.PrintRawResponse:
        """Print raw ESC/POS bytes after the driver's paper and cover checks."""
        data = bytes(request.data)
        if not data or len(data) > MAX_PRINT_BYTES:
            return tpb.PrintRawResponse(
                code=tpb.COMPLETION_CODE_COMMAND_ERROR, error=tpb.DEVICE_ERROR_INVALID_DATA
            )
        if self._printer is None:
            return tpb.PrintRawResponse(
                code=tpb.COMPLETION_CODE_DEVICE_NOT_READY, error=tpb.DEVICE_ERROR_NO_DEVICE
            )
        if self._paper.locked():
            return tpb.PrintRawResponse(
                code=tpb.COMPLETION_CODE_DEVICE_NOT_READY, error=tpb.DEVICE_ERROR_BUSY
            )
        async with self._paper:
            try:
                await self._printer.print_receipt(Receipt().raw(data))
            except PaperOutError:
                return tpb.PrintRawResponse(
                    code=tpb.COMPLETION_CODE_COMMAND_ERROR, error=tpb.DEVICE_ERROR_PAPER_OUT
                )
            except CoverOpenError:
                return tpb.PrintRawResponse(
                    code=tpb.COMPLETION_CODE_HARDWARE_ERROR, error=tpb.DEVICE_ERROR_COVER_OPEN
                )
            except PeripheralError:
                return tpb.PrintRawResponse(
                    code=tpb.COMPLETION_CODE_DEVICE_NOT_READY, error=tpb.DEVICE_ERROR_NO_DEVICE
                )
        return tpb.PrintRawResponse(code=tpb.COMPLETION_CODE_SUCCESS)

    async def aclose(self) -> None:
        """End the chip session, wipe a held PIN; harmless twice."""
        self._forget_pin()
        if self._idle_task is not None:
            self._idle_task.cancel()
            await asyncio.gather(self._idle_task, return_exceptions=True)
            self._idle_task = None
        if self._chip is not None:
            await self._chip.aclose()
