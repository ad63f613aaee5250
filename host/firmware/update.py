# SPDX-License-Identifier: Apache-2.0
"""Applying a signed image to the controller board over its link, with resume and progress.

The board decides (it holds the PIN keys and never trusts the host): this
side only moves bytes and reports, in typed errors, what the board refused.
Sequence (firmware/PROTOCOL.md §7): FW_BEGIN with the image's size and
SHA-256 answers how much of it the board already holds (resume after a
broken link or a power cut); FW_CHUNK carries ``offset crc16 data`` and
answers the next offset; FW_COMMIT makes the board check everything, copy
the files into its spare slot and reboot into a trial; the new session's
handshake is the trial's self-test, after which FW_STATUS must show the new
image running and confirmed. A board that goes silent mid-transfer is
re-opened and the transfer resumes from what it reports, a bounded number
of times.
"""

from __future__ import annotations

import hashlib
import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Final

from host.errors import BoardRefusedError, BoardSilentError, PeripheralError
from host.firmware.errors import UpdateError, UpdateFailure
from host.firmware.image import parse_image
from host.peripherals.controller import Controller
from host.peripherals.link import crc16
from host.peripherals.messages import Command, Status

__all__ = [
    "CHUNK_SIZE",
    "FirmwareStatus",
    "FirmwareUpdater",
    "UpdatePhase",
    "UpdateProgress",
]

_log = logging.getLogger(__name__)

#: Payload bytes per FW_CHUNK: 240 (link) - req(4) - offset(4) - crc(2), rounded down.
CHUNK_SIZE: Final = 224

_FAILURES: Final[dict[int, UpdateFailure]] = {
    Status.IMAGE_INVALID: UpdateFailure.INVALID_IMAGE,
    Status.BAD_SIGNATURE: UpdateFailure.BAD_SIGNATURE,
    Status.WRONG_BOARD: UpdateFailure.WRONG_BOARD,
    Status.DOWNGRADE: UpdateFailure.DOWNGRADE,
    Status.BUSY: UpdateFailure.BUSY,
    Status.TAMPERED: UpdateFailure.TAMPERED,
    Status.UNKNOWN_COMMAND: UpdateFailure.UNSUPPORTED,
}


class UpdatePhase(Enum):
    """Where an update is, for progress events."""

    TRANSFER = "transfer"
    COMMIT = "commit"
    REBOOT = "reboot"
    CONFIRMED = "confirmed"


@dataclass(frozen=True)
class UpdateProgress:
    """One progress event: the phase and how many image bytes the board holds."""

    phase: UpdatePhase
    done: int
    total: int


@dataclass(frozen=True)
class FirmwareStatus:
    """The board's FW_STATUS answer."""

    slot: int | None  # None: the frozen factory firmware runs
    trial: bool  # running a trial that has not confirmed itself yet
    version: tuple[int, int, int]
    security_counter: int  # the running image's
    floor: int  # the lowest counter the board still accepts
    staged: int  # bytes of a staged image
    staged_size: int  # its declared size (0: nothing staged)

    @classmethod
    def parse(cls, data: bytes) -> FirmwareStatus:
        """Decode the RESULT data. Raises PeripheralError when malformed."""
        if len(data) != 21:
            raise PeripheralError(f"malformed FW_STATUS result of {len(data)} bytes")
        slot, trial, major, minor, patch, counter, floor, staged, size = struct.unpack(
            ">BBBBBIIII", data
        )
        return cls(
            slot=None if slot == 0xFF else slot,
            trial=bool(trial),
            version=(major, minor, patch),
            security_counter=counter,
            floor=floor,
            staged=staged,
            staged_size=size,
        )


def _failure(error: BoardRefusedError) -> UpdateError:
    reason = _FAILURES.get(error.status, UpdateFailure.TRANSFER)
    return UpdateError(
        reason, f"the board refused the update: {reason.value} (status {error.status})"
    )


class FirmwareUpdater:
    """Update one board; the caller owns ``board`` (an open Controller) and no command runs.

    Args:
        board: the open controller.
        commit_timeout: seconds the board may take to check and install.
        reboot_timeout: seconds to wait for the rebooted board's handshake.
        resumes: how often a transfer resumes after the board went silent.
    """

    def __init__(
        self,
        board: Controller,
        *,
        commit_timeout: float = 30.0,
        reboot_timeout: float = 10.0,
        resumes: int = 4,
    ) -> None:
        self.board = board
        self.commit_timeout = commit_timeout
        self.reboot_timeout = reboot_timeout
        self.resumes = resumes

    def status(self) -> FirmwareStatus:
        """The board's slot, version, counters and staging.

        Raises:
            UpdateError: the board has no update support (UNSUPPORTED).
        """
        try:
            return FirmwareStatus.parse(self.board.request(Command.FW_STATUS))
        except BoardRefusedError as exc:
            raise _failure(exc) from exc

    def apply(
        self,
        image: bytes,
        *,
        progress: Callable[[UpdateProgress], None] | None = None,
        precheck: bool = True,
    ) -> FirmwareStatus:
        """Send ``image``, commit it, and wait until the board runs and confirmed it.

        ``precheck`` parses the image here first (a malformed file never
        reaches the board); the board checks everything again regardless.

        Raises:
            ImageFormatError: (precheck) the file is not a well-formed image.
            UpdateError: the board refused (``reason``) or did not keep the image.
            BoardSilentError, BoardAbsentError: the board stayed unreachable.
        """
        expected = parse_image(image).manifest if precheck else None
        report = progress if progress is not None else (lambda _event: None)
        self._transfer(image, report)
        report(UpdateProgress(UpdatePhase.COMMIT, len(image), len(image)))
        try:
            self.board.request(Command.FW_COMMIT, timeout=self.commit_timeout)
        except BoardRefusedError as exc:
            raise _failure(exc) from exc
        except BoardSilentError:
            _log.warning("no answer to commit: asking the rebooted board what it runs")
        report(UpdateProgress(UpdatePhase.REBOOT, len(image), len(image)))
        status = self._reconnect()
        if status.trial or status.staged_size or status.slot is None:
            raise UpdateError(UpdateFailure.NOT_CONFIRMED, "the board did not keep the new image")
        if expected is not None and (
            status.version != expected.version
            or status.security_counter != expected.security_counter
        ):
            raise UpdateError(UpdateFailure.NOT_CONFIRMED, "the board runs another image")
        report(UpdateProgress(UpdatePhase.CONFIRMED, len(image), len(image)))
        return status

    def _transfer(self, image: bytes, report: Callable[[UpdateProgress], None]) -> None:
        begin = struct.pack(">I", len(image)) + hashlib.sha256(image).digest()
        resumes = 0
        while True:
            try:
                offset = self._begin(begin)
                while offset < len(image):
                    report(UpdateProgress(UpdatePhase.TRANSFER, offset, len(image)))
                    chunk = image[offset : offset + CHUNK_SIZE]
                    args = struct.pack(">IH", offset, crc16(chunk)) + chunk
                    try:
                        offset = self._offset(self.board.request(Command.FW_CHUNK, args))
                    except BoardRefusedError as exc:
                        if exc.status != Status.BAD_OFFSET:
                            raise _failure(exc) from exc
                        offset = self.status().staged  # the board says where it stands
                report(UpdateProgress(UpdatePhase.TRANSFER, offset, len(image)))
                return
            except BoardSilentError:
                resumes += 1
                if resumes > self.resumes:
                    raise
                _log.warning("the board went silent during the transfer: resuming")
                self._reopen(self.board.timeout * 2)

    def _begin(self, begin: bytes) -> int:
        try:
            return self._offset(self.board.request(Command.FW_BEGIN, begin))
        except BoardRefusedError as exc:
            raise _failure(exc) from exc

    @staticmethod
    def _offset(data: bytes) -> int:
        if len(data) != 4:
            raise PeripheralError(f"malformed update offset of {len(data)} bytes")
        value: int = struct.unpack(">I", data)[0]
        return value

    def _reopen(self, within: float) -> None:
        """Close and re-open the port: a new session (the handshake is the trial's self-test)."""
        deadline = time.monotonic() + within
        while True:
            self.board.close()
            try:
                self.board.open()
                return
            except (BoardSilentError, PeripheralError):
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)

    def _reconnect(self) -> FirmwareStatus:
        self._reopen(self.reboot_timeout)
        return self.status()
