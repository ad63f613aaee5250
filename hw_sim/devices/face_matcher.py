# SPDX-License-Identifier: Apache-2.0
"""A face-matching reader on a pty: it is told the outcome instead of matching.

Why no matching here: comparing faces is the device's job and its vendor's;
what the host must get right is the protocol (``host/peripherals/
FACE_MATCHER.md``) and what it does with each answer. So ``SimFaceMatcher``
checks every request as a real device would (frame, format, size, timeout;
a bad one is REJECTed) and answers a MATCH with the outcome and score it
was told (``set_outcome``; ``myna-edge sim face-matcher`` reads them from
standard input). It keeps the last photo it was sent, so tests can check
what the host sent.
"""

from __future__ import annotations

import logging
import os
import select
import threading
from enum import StrEnum
from pathlib import Path
from typing import Final

from host.peripherals.face_matcher import (
    MAX_TIMEOUT_MS,
    MIN_TIMEOUT_MS,
    PROTOCOL_VERSION,
    FmFrame,
    FrameParser,
    MatcherState,
    MatchOutcome,
    MsgType,
    PhotoFormat,
    RejectCode,
    encode_frame,
    photo_format,
)
from hw_sim.devices.base import SimDeviceABC
from hw_sim.devices.faults import LinkFaults, PtyRelay

__all__ = ["SimFaceMatcher", "SimOutcome"]

_log = logging.getLogger(__name__)


class SimOutcome(StrEnum):
    """What the emulated camera "sees" (the CLI's ``--outcome`` spelling)."""

    MATCH = "match"
    NO_MATCH = "no-match"
    NO_FACE = "no-face"
    BUSY = "busy"
    ERROR = "error"


_WIRE: Final = {
    SimOutcome.MATCH: MatchOutcome.MATCH,
    SimOutcome.NO_MATCH: MatchOutcome.NO_MATCH,
    SimOutcome.NO_FACE: MatchOutcome.NO_FACE,
    SimOutcome.BUSY: MatchOutcome.BUSY,
    SimOutcome.ERROR: MatchOutcome.ERROR,
}
#: The score reported when none is set: what a plausible device would say.
_DEFAULT_SCORE: Final = {SimOutcome.MATCH: 87, SimOutcome.NO_MATCH: 12}


class SimFaceMatcher(SimDeviceABC):
    """A running face-matcher emulator; a context manager.

    Args:
        outcome: the answer to every MATCH until changed.
        serial: the serial number IDENTIFY reports.
        faults: link faults between the host and the device.
        link_path: also expose the host end as this symlink.
    """

    def __init__(
        self,
        outcome: SimOutcome = SimOutcome.MATCH,
        *,
        serial: str = "SIM-FM-0001",
        faults: LinkFaults | None = None,
        link_path: Path | None = None,
    ) -> None:
        super().__init__(faults, link_path)
        self.serial = serial
        self._lock = threading.Lock()
        self._outcome, self._score = outcome, _DEFAULT_SCORE.get(outcome, 0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.matches = 0  # MATCH requests answered with a RESULT
        self.rejects = 0  # requests REJECTed
        self.last_photo: bytes | None = None

    def start(self) -> SimFaceMatcher:
        """Open the ptys and start emulating."""
        dev_slave, _ = self._pty.open()
        self._thread = threading.Thread(
            target=self._run, args=(dev_slave,), name="sim-face-matcher", daemon=True
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

    @property
    def outcome(self) -> SimOutcome:
        """The answer the next MATCH gets."""
        with self._lock:
            return self._outcome

    def set_outcome(self, outcome: SimOutcome, score: int | None = None) -> None:
        """Answer the next MATCHes with ``outcome`` and ``score`` (default: a plausible one).

        Raises:
            ValueError: ``score`` outside 0-100.
        """
        if score is not None and not 0 <= score <= 100:
            raise ValueError("a score is 0-100")
        with self._lock:
            self._outcome = outcome
            self._score = _DEFAULT_SCORE.get(outcome, 0) if score is None else score

    def _run(self, fd: int) -> None:
        parser = FrameParser()
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:
                return
            for got in parser.feed(data):
                answer = (
                    self._reject(0, RejectCode.BAD_FRAME)
                    if not isinstance(got, FmFrame)
                    else self._answer(got)
                )
                try:
                    os.write(fd, answer)
                except OSError:
                    return

    def _answer(self, frame: FmFrame) -> bytes:
        if frame.type == MsgType.IDENTIFY and not frame.payload:
            text = f"MYNA-SIM-FM1\x00{self.serial}\x00sim-1.0".encode()
            return encode_frame(MsgType.IDENTITY, frame.seq, bytes((PROTOCOL_VERSION,)) + text)
        if frame.type == MsgType.STATUS and not frame.payload:
            busy = self.outcome is SimOutcome.BUSY
            state = MatcherState.BUSY if busy else MatcherState.READY
            return encode_frame(MsgType.STATE, frame.seq, bytes((state,)))
        if frame.type == MsgType.MATCH:
            return self._match(frame)
        return self._reject(frame.seq, RejectCode.UNKNOWN_COMMAND)

    def _match(self, frame: FmFrame) -> bytes:
        payload = frame.payload
        if len(payload) < 4 or payload[0] not in tuple(PhotoFormat):
            return self._reject(frame.seq, RejectCode.BAD_REQUEST)
        timeout_ms, photo = int.from_bytes(payload[1:3], "big"), payload[3:]
        try:
            declared_ok = photo_format(photo) == payload[0]
        except ValueError:
            declared_ok = False
        if not declared_ok or not MIN_TIMEOUT_MS <= timeout_ms <= MAX_TIMEOUT_MS:
            return self._reject(frame.seq, RejectCode.BAD_REQUEST)
        with self._lock:
            outcome, score = self._outcome, self._score
            self.matches += 1
            self.last_photo = photo
        _log.info("face matcher: %s (score %d)", outcome.value, score)
        return encode_frame(MsgType.RESULT, frame.seq, bytes((_WIRE[outcome], score)))

    def _reject(self, seq: int, code: RejectCode) -> bytes:
        with self._lock:
            self.rejects += 1
        return encode_frame(MsgType.REJECT, seq, bytes((code,)))
