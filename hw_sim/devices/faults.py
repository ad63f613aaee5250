# SPDX-License-Identifier: Apache-2.0
"""A serial "wire" between two ptys that can corrupt, drop, duplicate and delay.

Each simulated device sits on its own pty; the host opens a second pty; a
relay thread copies bytes between the two masters, which is where a cable's
faults happen. Faults are drawn per frame (a run of bytes ending in the 0x00
delimiter of the controller link, or at most 64 bytes of a stream without
delimiters such as ESC/POS, or whatever arrived before the line went quiet for
3 ms), from a seeded RNG so a failing run can be
replayed. Delay holds the frame and everything behind it, as a slow UART
would: a wire never reorders.
"""

from __future__ import annotations

import logging
import os
import random
import select
import threading
import time
from collections import deque
from dataclasses import dataclass, field

__all__ = ["FaultStats", "LinkFaults", "PtyRelay"]

_log = logging.getLogger(__name__)
_MAX_CHUNK = 64
_IDLE_FLUSH = 0.003  # seconds of silence that end a frame without a delimiter


@dataclass(frozen=True)
class LinkFaults:
    """Per-frame fault probabilities (0..1) and the delay length in seconds."""

    corrupt: float = 0.0
    drop: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0
    delay_seconds: float = 0.02
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("corrupt", "drop", "duplicate", "delay"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1]")

    @property
    def active(self) -> bool:
        """Any fault can happen."""
        return bool(self.corrupt or self.drop or self.duplicate or self.delay)


@dataclass
class FaultStats:
    """What the relay did, per direction and in total."""

    frames: int = 0
    corrupted: int = 0
    dropped: int = 0
    duplicated: int = 0
    delayed: int = 0
    bytes: int = 0
    by_direction: dict[str, int] = field(default_factory=dict)


class _Direction:
    def __init__(self, name: str, src: int, dst: int) -> None:
        self.name = name
        self.src = src
        self.dst = dst
        self.partial = bytearray()
        self.partial_at = 0.0
        self.queue: deque[tuple[float, bytes]] = deque()


class PtyRelay:
    """Copy bytes between two pty masters, injecting ``faults`` both ways."""

    def __init__(self, device_fd: int, host_fd: int, faults: LinkFaults | None = None) -> None:
        self.faults = faults or LinkFaults()
        self.stats = FaultStats()
        self._rng = random.Random(self.faults.seed)  # noqa: S311 - fault injection, not crypto
        for fd in (device_fd, host_fd):
            os.set_blocking(fd, False)
        self._dirs = (
            _Direction("to_host", device_fd, host_fd),
            _Direction("to_device", host_fd, device_fd),
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pty-relay", daemon=True)

    def start(self) -> None:
        """Start copying."""
        self._thread.start()

    def stop(self) -> None:
        """Stop copying; stopping twice is harmless."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _run(self) -> None:
        fds = {d.src: d for d in self._dirs}
        while not self._stop.is_set():
            pending = [d for d in self._dirs if d.queue]
            wait = 0.05
            if pending:
                wait = max(0.0, min(d.queue[0][0] for d in pending) - time.monotonic())
            if any(d.partial for d in self._dirs):
                wait = min(wait, _IDLE_FLUSH)
            try:
                ready, _, _ = select.select(list(fds), [], [], min(wait, 0.05))
            except (OSError, ValueError):
                return
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except BlockingIOError:
                    continue
                except OSError:
                    continue  # the other side closed its slave; keep serving
                if data:
                    self._ingest(fds[fd], data)
            now = time.monotonic()
            for direction in self._dirs:
                if direction.partial and now - direction.partial_at >= _IDLE_FLUSH:
                    # The line went quiet mid-frame (or the stream has no
                    # delimiters): what arrived is one frame.
                    frame = bytes(direction.partial)
                    direction.partial.clear()
                    self._fault_frame(direction, frame)
                self._flush(direction)

    def _ingest(self, direction: _Direction, data: bytes) -> None:
        self.stats.bytes += len(data)
        if not self.faults.active:
            self._queue(direction, data, 0.0)
            return
        direction.partial += data
        direction.partial_at = time.monotonic()
        while True:
            end = direction.partial.find(0)
            if end < 0:
                if len(direction.partial) < _MAX_CHUNK:
                    break
                end = _MAX_CHUNK - 1
            frame = bytes(direction.partial[: end + 1])
            del direction.partial[: end + 1]
            self._fault_frame(direction, frame)
        # A partial frame waits for its delimiter, except for a stream that
        # uses none (ESC/POS), which is cut every _MAX_CHUNK bytes above.

    def _fault_frame(self, direction: _Direction, frame: bytes) -> None:
        faults, rng, stats = self.faults, self._rng, self.stats
        stats.frames += 1
        stats.by_direction[direction.name] = stats.by_direction.get(direction.name, 0) + 1
        if rng.random() < faults.drop:
            stats.dropped += 1
            return
        if rng.random() < faults.corrupt:
            stats.corrupted += 1
            damaged = bytearray(frame)
            damaged[rng.randrange(len(damaged))] ^= rng.randrange(1, 256)
            frame = bytes(damaged)
        delay = 0.0
        if rng.random() < faults.delay:
            stats.delayed += 1
            delay = faults.delay_seconds
        self._queue(direction, frame, delay)
        if rng.random() < faults.duplicate:
            stats.duplicated += 1
            self._queue(direction, frame, 0.0)

    def _queue(self, direction: _Direction, data: bytes, delay: float) -> None:
        release = time.monotonic() + delay
        if direction.queue:
            release = max(release, direction.queue[-1][0])
        direction.queue.append((release, data))
        self._flush(direction)

    def _flush(self, direction: _Direction) -> None:
        now = time.monotonic()
        while direction.queue and direction.queue[0][0] <= now:
            release, data = direction.queue.popleft()
            try:
                written = os.write(direction.dst, data)
            except BlockingIOError:
                direction.queue.appendleft((release, data))  # reader is slow: retry
                return
            except OSError as exc:
                # Nobody holds the slave open (the host went away): drop, as a
                # cable with nothing plugged in would.
                _log.debug("relay %s dropped %d bytes: %s", direction.name, len(data), exc)
                continue
            if written < len(data):
                direction.queue.appendleft((release, data[written:]))
                return
