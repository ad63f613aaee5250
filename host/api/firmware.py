# SPDX-License-Identifier: Apache-2.0
"""``FirmwareDesk``: the operator's ``UpdateFirmware`` call (issue 17, item 4).

Why in the agent: the agent owns the controller's serial port, so an update
while it runs has to go through its own connection (``FirmwareBoard``, the
agent's ``host.agent.board.AgentBoard``), and only the agent knows whether a
command runs. The desk keeps three rules:

* an update starts only when nothing else uses the terminal: it is refused
  BUSY at acknowledgement while a command, a device operation, start-up
  recovery or another update runs, and while it runs every new command is
  refused BUSY (``updating``);
* a malformed image never reaches the board (``parse_image`` at
  acknowledgement: INVALID_MESSAGE, ``invalid_field`` "image"); the board
  checks everything else and its refusals come back typed
  (``FirmwareUpdateError``), the old image still running;
* the update runs as its own task: a client that drops the stream does not
  stop it half-way (the board would resume it anyway, but an operator's
  tool must not leave a board on trial because a socket closed).

Afterwards the controller's status (state and ``FirmwareInfo``) is read
again, so GetStatus and WatchStatus show the version the board runs.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Final, Protocol

from host.api.status import StatusBoard
from host.errors import MynaEdgeError, PeripheralError
from host.firmware.errors import ImageFormatError, UpdateError, UpdateFailure
from host.firmware.image import parse_image
from host.firmware.update import UpdatePhase, UpdateProgress
from host.journal import ElectronicJournal
from myna.edge.v1 import terminal_pb2 as tpb

__all__ = ["FirmwareBoard", "FirmwareDesk", "UpdateRefusedError"]

_log = logging.getLogger(__name__)

_REQUEST_ID: Final = re.compile(r"[\x21-\x7e]{1,64}")
#: Controller states in which the board answers (an update can be tried;
#: a tampered board refuses it itself, typed).
_PRESENT: Final = frozenset(
    {
        tpb.DEVICE_STATE_ONLINE,
        tpb.DEVICE_STATE_NOT_COMMISSIONED,
        tpb.DEVICE_STATE_FRAUD_ATTEMPT,
    }
)
_PHASES: Final = {
    UpdatePhase.TRANSFER: tpb.FIRMWARE_UPDATE_PHASE_TRANSFER,
    UpdatePhase.COMMIT: tpb.FIRMWARE_UPDATE_PHASE_COMMIT,
    UpdatePhase.REBOOT: tpb.FIRMWARE_UPDATE_PHASE_REBOOT,
    UpdatePhase.CONFIRMED: tpb.FIRMWARE_UPDATE_PHASE_CONFIRMED,
}
_ERRORS: Final = {
    UpdateFailure.INVALID_IMAGE: tpb.FIRMWARE_UPDATE_ERROR_INVALID_IMAGE,
    UpdateFailure.BAD_SIGNATURE: tpb.FIRMWARE_UPDATE_ERROR_BAD_SIGNATURE,
    UpdateFailure.WRONG_BOARD: tpb.FIRMWARE_UPDATE_ERROR_WRONG_BOARD,
    UpdateFailure.DOWNGRADE: tpb.FIRMWARE_UPDATE_ERROR_DOWNGRADE,
    UpdateFailure.BUSY: tpb.FIRMWARE_UPDATE_ERROR_BUSY,
    UpdateFailure.TAMPERED: tpb.FIRMWARE_UPDATE_ERROR_TAMPERED,
    UpdateFailure.UNSUPPORTED: tpb.FIRMWARE_UPDATE_ERROR_UNSUPPORTED,
    UpdateFailure.TRANSFER: tpb.FIRMWARE_UPDATE_ERROR_TRANSFER,
    UpdateFailure.NOT_CONFIRMED: tpb.FIRMWARE_UPDATE_ERROR_NOT_CONFIRMED,
}

Send = Callable[[tpb.UpdateFirmwareResponse], None]


class FirmwareBoard(Protocol):
    """The agent's controller as the desk updates it (``host.agent.board.AgentBoard``)."""

    async def apply(self, image: bytes, progress: Callable[[UpdateProgress], None]) -> None:
        """Send, commit and confirm ``image``; ``progress`` may be called from any thread.

        Raises:
            ImageFormatError, UpdateError: the image was refused (typed).
            PeripheralError: the board stopped answering.
        """

    async def firmware(self) -> tpb.FirmwareInfo | None:
        """What the board runs now (None: it does not answer)."""

    async def state(self) -> tpb.DeviceState.ValueType:
        """The controller's device state now (ONLINE, NOT_COMMISSIONED, ...)."""


class UpdateRefusedError(MynaEdgeError):
    """Why an UpdateFirmware is refused at acknowledgement."""

    def __init__(
        self, reason: tpb.RefusalReason.ValueType, detail: str, invalid_field: str = ""
    ) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.invalid_field = reason, detail, invalid_field

    def acknowledgement(self) -> tpb.Acknowledgement:
        """The refusing acknowledgement."""
        return tpb.Acknowledgement(
            accepted=False,
            refusal=self.reason,
            invalid_field=self.invalid_field,
            detail=self.detail,
        )


class FirmwareDesk:
    """Runs at most one firmware update at a time over ``board``.

    Args:
        board: the agent's controller (None: no controller configured).
        status: the agent's device status, read to refuse and updated after.
        ejournal: the operator's electronic journal (one line per update).
    """

    def __init__(
        self,
        board: FirmwareBoard | None,
        status: StatusBoard,
        ejournal: ElectronicJournal | None = None,
    ) -> None:
        self._board = board
        self._status = status
        self._ej = ejournal
        self.task: asyncio.Task[None] | None = None

    @property
    def offered(self) -> bool:
        """Whether this agent can update a board (GetCapabilities.firmware_update)."""
        return self._board is not None

    @property
    def updating(self) -> bool:
        """Whether an update runs now (new commands are refused BUSY)."""
        return self.task is not None and not self.task.done()

    def check(self, request: tpb.UpdateFirmwareRequest, *, busy: bool) -> bytes:
        """The request's image when the update may start now.

        Raises:
            UpdateRefusedError: why not (busy, no board, malformed request or image).
        """
        if not _REQUEST_ID.fullmatch(request.request_id):
            raise UpdateRefusedError(
                tpb.REFUSAL_REASON_INVALID_REQUEST_ID,
                "1-64 printable ASCII characters, no spaces",
                "request_id",
            )
        if self._board is None:
            raise UpdateRefusedError(
                tpb.REFUSAL_REASON_UNSUPPORTED_COMMAND, "no controller configured"
            )
        if busy or self.updating:
            raise UpdateRefusedError(tpb.REFUSAL_REASON_BUSY, "a command or another update runs")
        state = self._status.get("controller")
        if state not in _PRESENT:
            name = tpb.DeviceState.Name(state) if state is not None else "unknown"
            raise UpdateRefusedError(
                tpb.REFUSAL_REASON_DEVICE_NOT_READY, f"the controller is not present ({name})"
            )
        image = bytes(request.image)
        try:
            parse_image(image)
        except ImageFormatError as exc:
            raise UpdateRefusedError(
                tpb.REFUSAL_REASON_INVALID_MESSAGE, str(exc), "image"
            ) from None
        return image

    async def stream(
        self, request: tpb.UpdateFirmwareRequest, *, busy: bool
    ) -> AsyncIterator[tpb.UpdateFirmwareResponse]:
        """UpdateFirmware's stream: acknowledgement, progress, completion (``busy``: others run)."""
        rid = request.request_id
        try:
            image = self.check(request, busy=busy)
        except UpdateRefusedError as refused:
            reason = tpb.RefusalReason.Name(refused.reason)
            _log.info("firmware update %r refused: %s %s", rid[:64], reason, refused.invalid_field)
            yield tpb.UpdateFirmwareResponse(
                request_id=rid, acknowledgement=refused.acknowledgement()
            )
            return
        queue: asyncio.Queue[tpb.UpdateFirmwareResponse] = asyncio.Queue()
        self.start(rid, image, queue.put_nowait)  # no await since the check: one update only
        accepted = tpb.Acknowledgement(accepted=True)
        yield tpb.UpdateFirmwareResponse(request_id=rid, acknowledgement=accepted)
        while True:
            message = await queue.get()
            yield message
            if message.HasField("completion"):
                return

    def start(self, request_id: str, image: bytes, send: Send) -> None:
        """Start the update as its own task; ``send`` gets its progress and completion."""
        self.task = asyncio.ensure_future(self._run(request_id, image, send))

    async def _run(self, rid: str, image: bytes, send: Send) -> None:
        assert self._board is not None
        loop = asyncio.get_running_loop()
        shown = [-1, -1]  # last phase and percent sent

        def forward(event: UpdateProgress) -> None:
            # One event per phase and per whole percent of the transfer.
            percent = event.done * 100 // max(event.total, 1)
            phase = _PHASES[event.phase]
            if [phase, percent] == shown:
                return
            shown[:] = [phase, percent]
            progress = tpb.FirmwareUpdateProgress(
                phase=phase, bytes_done=event.done, bytes_total=event.total
            )
            send(tpb.UpdateFirmwareResponse(request_id=rid, progress=progress))

        def progress(event: UpdateProgress) -> None:
            loop.call_soon_threadsafe(forward, event)

        _log.info("firmware update %s accepted: %d bytes", rid, len(image))
        done = tpb.FirmwareUpdateCompletion(code=tpb.COMPLETION_CODE_SUCCESS)
        try:
            await self._board.apply(image, progress)
        except UpdateError as exc:
            done = _failed(tpb.COMPLETION_CODE_COMMAND_ERROR, _ERRORS[exc.reason], str(exc))
        except ImageFormatError as exc:
            done = _failed(
                tpb.COMPLETION_CODE_COMMAND_ERROR, tpb.FIRMWARE_UPDATE_ERROR_INVALID_IMAGE, str(exc)
            )
        except PeripheralError as exc:
            done = _failed(
                tpb.COMPLETION_CODE_HARDWARE_ERROR,
                tpb.FIRMWARE_UPDATE_ERROR_BOARD_UNREACHABLE,
                str(exc),
            )
        except Exception:  # noqa: BLE001 - a bug must not leave the update without a completion
            _log.exception("firmware update %s failed", rid)
            done = _failed(
                tpb.COMPLETION_CODE_INTERNAL_ERROR,
                tpb.FIRMWARE_UPDATE_ERROR_UNSPECIFIED,
                "internal error",
            )
        await asyncio.sleep(0)  # progress scheduled from the worker thread goes first
        info = await self._refresh()
        if info is not None:
            done.firmware.CopyFrom(info)
        self._journal(rid, done)
        code, error = tpb.CompletionCode.Name(done.code), tpb.FirmwareUpdateError.Name(done.error)
        _log.info("firmware update %s completed: %s %s", rid, code, error)
        send(tpb.UpdateFirmwareResponse(request_id=rid, completion=done))

    async def _refresh(self) -> tpb.FirmwareInfo | None:
        """Read the controller's state and firmware again into the status board."""
        assert self._board is not None
        try:
            state = await self._board.state()
            info = await self._board.firmware()
        except PeripheralError:
            state, info = tpb.DEVICE_STATE_OFFLINE, None
        await self._status.set_firmware("controller", info)
        await self._status.set("controller", state)
        return info

    def _journal(self, rid: str, done: tpb.FirmwareUpdateCompletion) -> None:
        if self._ej is None:
            return
        try:
            self._ej.append(
                "",
                "FIRMWARE-UPDATE",
                request_id=rid,
                result=tpb.CompletionCode.Name(done.code).removeprefix("COMPLETION_CODE_"),
                error=tpb.FirmwareUpdateError.Name(done.error).removeprefix(
                    "FIRMWARE_UPDATE_ERROR_"
                ),
                version=done.firmware.version,
            )
        except (OSError, MynaEdgeError):
            _log.exception("firmware update %s: the electronic journal line was not written", rid)


def _failed(
    code: tpb.CompletionCode.ValueType, error: tpb.FirmwareUpdateError.ValueType, detail: str
) -> tpb.FirmwareUpdateCompletion:
    return tpb.FirmwareUpdateCompletion(code=code, error=error, detail=detail)
