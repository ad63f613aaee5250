# SPDX-License-Identifier: Apache-2.0
"""A TCP relay on 127.0.0.1 that turns slow, silent or refusing at a chosen byte.

Why a relay and not a stopped server: the interesting failures happen
mid-conversation. The agent's gRPC channel goes through this relay to the
verifier; the matrix arms it to switch, after a seeded number of bytes
from the agent, to ``slow`` (every chunk held ``delay`` seconds, beyond the
client's deadline, order kept, so a late request still reaches the
verifier after the agent gave up on it), ``blackhole`` (bytes swallowed,
nothing answered) or ``refuse`` (connections cut and new ones closed at
once). ``heal`` turns it back into a plain pipe so recovery can run.
Threads only, every one stopped by ``close``; it binds 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
from typing import Final

__all__ = ["MODES", "TcpRelay"]

_log = logging.getLogger(__name__)
MODES: Final = ("slow", "blackhole", "refuse")
_TICK = 0.05


class TcpRelay:
    """Relay 127.0.0.1:``port`` -> 127.0.0.1:``target``; a context manager."""

    def __init__(self, target: int, *, delay: float = 2.0) -> None:
        self.target = target
        self.delay = delay
        self.mode = "pass"
        self.sent = 0  # bytes from clients to the target, in total
        self.marks: list[int] = []  # ``sent`` after each client chunk (call boundaries)
        self.triggered = 0
        self._fault = "pass"
        self._at = -1
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(_TICK)
        self.port = int(self._listener.getsockname()[1])
        self._spawn(self._accept)

    def arm(self, fault: str, after: int) -> None:
        """Turn to ``fault`` once ``after`` more client bytes have passed."""
        if fault not in MODES:
            raise ValueError(f"unknown relay fault {fault!r}")
        with self._lock:
            self._fault, self._at = fault, self.sent + after
        if after <= 0:
            self._trigger()

    def heal(self) -> None:
        """Back to a plain pipe; cut connections a fault left in a bad state."""
        with self._lock:
            cut = self.mode in ("blackhole", "refuse")
            self.mode, self._fault, self._at = "pass", "pass", -1
        if cut:
            self._cut()

    def _trigger(self) -> None:
        with self._lock:
            if self._fault == "pass":
                return
            self.mode, self._fault, self._at = self._fault, "pass", -1
            self.triggered += 1
            mode = self.mode
        _log.debug("relay turns %s", mode)
        if mode == "refuse":
            self._cut()

    def _cut(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.mode == "refuse":
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=2)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.settimeout(_TICK)
            with self._lock:
                self._conns += [client, upstream]
            for src, dst, up in ((client, upstream, True), (upstream, client, False)):
                chunks: queue.Queue[tuple[float, bytes]] = queue.Queue()
                self._spawn(self._read, src, chunks, up)
                self._spawn(self._write, dst, chunks)

    def _read(self, src: socket.socket, chunks: queue.Queue[tuple[float, bytes]], up: bool) -> None:
        while not self._stop.is_set():
            try:
                data = src.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            if not data:
                chunks.put((0.0, b""))
                return
            mode = self.mode  # the chunk that reaches the armed byte still passes
            if up:
                with self._lock:
                    self.sent += len(data)
                    self.marks.append(self.sent)
                    due = 0 <= self._at <= self.sent
                if due:
                    self._trigger()
            if mode == "blackhole":
                continue
            if mode == "refuse":
                chunks.put((0.0, b""))
                return
            release = time.monotonic() + (self.delay if mode == "slow" else 0.0)
            chunks.put((release, data))

    def _write(self, dst: socket.socket, chunks: queue.Queue[tuple[float, bytes]]) -> None:
        while not self._stop.is_set():
            try:
                release, data = chunks.get(timeout=_TICK)
            except queue.Empty:
                continue
            if not data:
                break
            while not self._stop.is_set() and time.monotonic() < release:
                time.sleep(min(_TICK, release - time.monotonic()))
            try:
                dst.sendall(data)
            except OSError:
                break
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_RDWR)
        dst.close()

    def close(self) -> None:
        """Stop every thread and close every socket; harmless twice."""
        self._stop.set()
        self._listener.close()
        self._cut()
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads.clear()

    def __enter__(self) -> TcpRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
