# SPDX-License-Identifier: Apache-2.0
"""Driver for the peripheral-controller board (keypad, PIN pad, display, tamper).

Opens any URL pyserial understands (``/dev/ttyACM0``, the simulator's pty,
``spy:///dev/pts/5`` to see raw bytes while debugging, never in production:
it shows PIN blocks), runs the version handshake, and then speaks
the reliable link of ``firmware/PROTOCOL.md``. It is synchronous: one thread
owns one board (DESIGN: one worker thread per device). Unsolicited events
that arrive while waiting for a result are queued for :meth:`next_event`.

The wire trace (TRACE level) shows each message in hex, with key material
and PIN blocks redacted to their type, request id and length.

Failures are typed (host.errors): ``BoardAbsentError`` (port will not open),
``BoardSilentError`` (no handshake, no result, link retries spent),
``IncompatibleBoardError``, ``BoardTamperedError``,
``BoardNotCommissionedError``, ``BoardRefusedError``; secure entry adds
``EntryCancelledError``, ``EntryTimeoutError`` and ``InvalidPinBlockError``.
"""

from __future__ import annotations

import logging
import os
import struct
import time
from collections import deque
from collections.abc import Callable

import serial

from host.errors import (
    BoardAbsentError,
    BoardNotCommissionedError,
    BoardRefusedError,
    BoardSilentError,
    BoardTamperedError,
    EntryCancelledError,
    EntryTimeoutError,
    IncompatibleBoardError,
    PeripheralError,
)
from host.peripherals.counters import CounterStore
from host.peripherals.link import HELLO, INFO, Link
from host.peripherals.messages import (
    PROTOCOL_VERSION,
    BoardInfo,
    BoardStatus,
    Command,
    EntryKey,
    EntryKind,
    EntryOutcome,
    Event,
    MessageType,
    Status,
    Tamper,
    parse_event,
    parse_info,
)
from host.peripherals.pinblock import BoardKey, EncryptedPin, ReplayGuard
from host.peripherals.serial_port import SerialPeripheralABC
from host.trace import TRACE

__all__ = ["Controller"]

_log = logging.getLogger(__name__)

#: Messages whose bodies are secret (key material, PIN blocks): traced as
#: type, request id and length only (PCI PIN: no PIN block in any log).
_SECRET_BODIES = {Command.INJECT_KEY, Command.ROTATE_KEY, MessageType.ENTRY_DONE}


def _trace(arrow: str, mtype: int, payload: bytes) -> None:
    """Wire trace at TRACE level, hex, with secret bodies redacted."""
    if not _log.isEnabledFor(TRACE):
        return
    if mtype in _SECRET_BODIES:
        shown = f"{payload[:5].hex(' ')} <{max(0, len(payload) - 5)} bytes redacted>"
    else:
        shown = payload.hex(" ")
    _log.log(TRACE, "%s %02X %s", arrow, mtype, shown)


_REFUSALS: dict[int, type[BoardRefusedError]] = {
    Status.TAMPERED: BoardTamperedError,
    Status.NOT_COMMISSIONED: BoardNotCommissionedError,
}


class Controller(SerialPeripheralABC):
    """The controller board behind a pyserial URL; a context manager.

    Args:
        url: anything ``serial.serial_for_url`` opens.
        key: the board's key (needed to open PIN blocks and rotate).
        timeout: seconds to wait for the handshake or a command's result.
        guard: replay guard for this board's PIN-block counter.
        retransmit_timeout: seconds before an unacknowledged frame is resent.
        counters: where the agent keeps each board's last PIN-block counter
            across restarts; when given, ``open`` replaces ``guard`` with
            one for this board's serial, seeded from the board's STATUS too.
    """

    def __init__(
        self,
        url: str,
        *,
        key: BoardKey | None = None,
        timeout: float = 2.0,
        guard: ReplayGuard | None = None,
        baudrate: int = 115200,
        retransmit_timeout: float = 0.2,
        counters: CounterStore | None = None,
    ) -> None:
        super().__init__(url, baudrate=baudrate)
        self.key = key
        self.timeout = timeout
        self.guard = guard if guard is not None else ReplayGuard()
        self._counters = counters
        self._link = Link(retransmit_timeout=retransmit_timeout)
        self._events: deque[Event] = deque()
        self._results: dict[int, tuple[int, bytes]] = {}
        self._entries: dict[int, bytes] = {}
        self._next_id = int.from_bytes(os.urandom(2), "big") + 1
        self.info: BoardInfo | None = None
        self._stale = False  # the board went silent: new session before the next command

    # --- lifecycle -----------------------------------------------------------

    def open(self) -> BoardInfo:
        """Open the port and run the handshake.

        Raises:
            BoardAbsentError: the port cannot be opened.
            BoardSilentError: no INFO within ``timeout``.
            IncompatibleBoardError: the board speaks another protocol version.
            PeripheralError: the stored PIN-block counters are damaged.
        """
        self._open_port("controller", timeout=0)
        try:
            self.info = self._handshake()
            if self._counters is not None:
                # No entry is active after HELLO: every genuine block from
                # now on carries a counter above the board's current one.
                seed = self.status().counter
                self.guard = self._counters.guard(self.info.serial, seed=seed)
        except BaseException:
            self.close()
            raise
        return self.info

    @property
    def link(self) -> Link:
        """The link state (counters for tests and benchmarks)."""
        return self._link

    def _handshake(self) -> BoardInfo:
        nonce = os.urandom(4)
        hello = nonce + bytes((PROTOCOL_VERSION, PROTOCOL_VERSION))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            self._link.send_control(HELLO, hello)
            retry_at = min(deadline, time.monotonic() + 0.25)
            while time.monotonic() < retry_at:
                for ftype, payload in self._exchange(0.02):
                    if ftype != INFO:
                        continue
                    try:
                        echoed, info = parse_info(payload)
                    except ValueError as exc:
                        raise PeripheralError(f"malformed INFO from the board: {exc}") from exc
                    if echoed != nonce:
                        continue  # an answer to an earlier HELLO
                    self._link.reset()
                    if info.protocol_version != PROTOCOL_VERSION:
                        raise IncompatibleBoardError(
                            f"board speaks protocol {info.protocol_version}, "
                            f"driver speaks {PROTOCOL_VERSION}"
                        )
                    _log.info(
                        "controller %s firmware %s",
                        info.serial,
                        ".".join(map(str, info.firmware_version)),
                    )
                    return info
        raise BoardSilentError(f"no handshake from the controller at {self.url!r}")

    # --- I/O pump --------------------------------------------------------------

    def _exchange(self, wait: float) -> list[tuple[int, bytes]]:
        """Write pending output, read for up to ``wait`` s, feed the link."""
        port = self._port
        if port is None:
            raise PeripheralError("the controller is closed")
        now = time.monotonic()
        self._link.poll(now)
        if self._link.failed:
            self._stale = True
            raise BoardSilentError("the controller stopped acknowledging frames")
        try:
            out = self._link.take_output()
            if out:
                port.write(out)
            port.timeout = wait
            data = port.read(1) or b""
            if data:
                port.timeout = 0
                data += port.read(4096)
        except (serial.SerialException, OSError) as exc:
            raise BoardAbsentError(f"the controller link failed: {exc}") from exc
        if not data:
            return []
        delivered = self._link.receive(data, time.monotonic())
        out = self._link.take_output()
        if out:
            port.write(out)
        return delivered

    def _dispatch(self, delivered: list[tuple[int, bytes]]) -> None:
        for mtype, payload in delivered:
            _trace("<-", mtype, payload)
            if mtype == MessageType.RESULT and len(payload) >= 5:
                self._results[struct.unpack(">I", payload[:4])[0]] = (payload[4], payload[5:])
            elif mtype == MessageType.ENTRY_DONE and len(payload) >= 5:
                self._entries[struct.unpack(">I", payload[:4])[0]] = payload[4:]
            elif mtype >= MessageType.RESULT:
                try:
                    self._events.append(parse_event(mtype, payload))
                except ValueError:
                    _log.warning("dropped a malformed message 0x%02X from the board", mtype)

    def pump(self, wait: float = 0.0) -> None:
        """Move bytes both ways once, waiting up to ``wait`` s for input."""
        self._dispatch(self._exchange(wait))

    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next unsolicited event, or None after ``timeout`` s."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self._events:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.pump(min(left, 0.05))
        return self._events.popleft()

    # --- commands --------------------------------------------------------------

    def request(
        self, command: Command, args: bytes = b"", *, timeout: float | None = None
    ) -> bytes:
        """Send a command and wait for its RESULT; return the result data.

        Raises:
            BoardSilentError: no RESULT in time.
            BoardTamperedError, BoardNotCommissionedError, BoardRefusedError:
                the board refused.
        """
        request_id = self._new_id()
        self.submit(command, request_id, args)
        return self.wait_result(request_id, timeout=timeout)

    def submit(self, command: Command, request_id: int, args: bytes = b"") -> None:
        """Queue a command without waiting (benchmarks, pipelining).

        After the board went silent, a new session (HELLO) comes first: an
        end whose link gave up on a frame stays mute until one.

        Raises:
            BoardSilentError: that new session got no answer.
        """
        if self._stale:
            _log.warning("controller was silent: starting a new link session")
            self._link.reset()
            self.info = self._handshake()
            self._stale = False
        payload = struct.pack(">I", request_id) + args
        _trace("->", command, payload)
        self._link.send(command, payload, time.monotonic())

    def wait_result(self, request_id: int, *, timeout: float | None = None) -> bytes:
        """Wait for the RESULT of ``request_id`` (see :meth:`request`)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while request_id not in self._results:
            left = deadline - time.monotonic()
            if left <= 0:
                self._stale = True
                raise BoardSilentError("the controller did not answer in time")
            self.pump(min(left, 0.05))
        status, data = self._results.pop(request_id)
        if status != Status.OK:
            raise _REFUSALS.get(status, BoardRefusedError)(status)
        return data

    def _new_id(self) -> int:
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF or 1
        return self._next_id

    def status(self) -> BoardStatus:
        """Flags, key check value and PIN-block counter."""
        data = self.request(Command.STATUS)
        if len(data) < 8:
            raise PeripheralError(f"malformed STATUS result of {len(data)} bytes")
        return BoardStatus(data[0], data[1:4], struct.unpack(">I", data[4:8])[0])

    def display(self, line: int, text: str) -> None:
        """Show ``text`` (ASCII, up to 20 characters) on line 0 or 1."""
        self.request(Command.DISPLAY, bytes((line,)) + text.encode("ascii"))

    def leds(self, mask: int) -> None:
        """Set the LEDs: bit 0 green, bit 1 amber, bit 2 red."""
        self.request(Command.LEDS, bytes((mask,)))

    def buzz(self, freq_hz: int, duration_ms: int) -> None:
        """Beep."""
        self.request(Command.BUZZ, struct.pack(">HH", freq_hz, duration_ms))

    def set_heartbeat(self, period: float) -> None:
        """Ask for a heartbeat every ``period`` s (0 turns it off)."""
        self.request(Command.HEARTBEAT, struct.pack(">I", round(period * 1000)))

    def echo(self, data: bytes) -> bytes:
        """Round trip ``data`` through the board."""
        return self.request(Command.ECHO, data)

    def inject_key(self, key: BoardKey) -> bytes:
        """Commission the board with ``key`` (one time only); return its KCV.

        Raises:
            BoardRefusedError: already commissioned (status 6) or bad key.
            PeripheralError: the board's KCV does not match the key's.
        """
        kcv = self.request(Command.INJECT_KEY, key.material())
        if kcv != key.kcv():
            raise PeripheralError("the board's key check value does not match the injected key")
        self.key = key
        return kcv

    def rotate_key(self, new: BoardKey) -> bytes:
        """Replace the board key, sending ``new`` under the current one."""
        if self.key is None:
            raise ValueError("rotate_key needs the current board key")
        request_id = self._new_id()
        self.submit(Command.ROTATE_KEY, request_id, self.key.wrap(new, request_id))
        kcv = self.wait_result(request_id)
        if kcv != new.kcv():
            raise PeripheralError("the board's key check value does not match the new key")
        self.key = new
        return kcv

    def secure_entry(
        self,
        kind: EntryKind = EntryKind.NUMERIC,
        *,
        min_length: int = 4,
        max_length: int = 4,
        entry_timeout: float = 30.0,
        on_key: Callable[[EntryKey], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> EncryptedPin:
        """Collect a PIN or password on the board; return it encrypted.

        ``on_key`` sees each key event (pressed/deleted, never the value);
        ``cancel`` is polled, and returning True cancels the entry.

        Raises:
            BoardTamperedError: tampered before or during the entry.
            BoardNotCommissionedError: no key injected.
            EntryCancelledError, EntryTimeoutError: the entry did not finish.
            InvalidPinBlockError: the block is malformed.
        """
        if self.key is None:
            raise ValueError("secure_entry needs the board key to open the PIN block")
        request_id = self._new_id()
        args = struct.pack(">BBBI", kind, min_length, max_length, round(entry_timeout * 1000))
        self.submit(Command.SECURE_ENTRY, request_id, args)
        self.wait_result(request_id)
        deadline = time.monotonic() + entry_timeout + self.timeout
        cancelled = False
        while request_id not in self._entries:
            if time.monotonic() > deadline:
                self._stale = True
                raise BoardSilentError("the controller did not end the entry")
            self.pump(0.05)
            self._drain_entry_events(request_id, on_key)
            if cancel is not None and not cancelled and cancel():
                cancelled = True
                self.submit(Command.CANCEL_ENTRY, self._new_id())
        self._drain_entry_events(request_id, on_key)
        done = self._entries.pop(request_id)
        outcome = done[0]
        if outcome == EntryOutcome.OK:
            return EncryptedPin(done[1:], request_id, self.key, self.guard)
        if outcome == EntryOutcome.TAMPER:
            raise BoardTamperedError(Status.TAMPERED, "tamper opened during entry; keys erased")
        if outcome == EntryOutcome.TIMEOUT:
            raise EntryTimeoutError("the user did not finish the entry in time")
        raise EntryCancelledError("secure entry was cancelled")

    def _drain_entry_events(
        self, request_id: int, on_key: Callable[[EntryKey], None] | None
    ) -> None:
        kept: deque[Event] = deque()
        while self._events:
            event = self._events.popleft()
            if isinstance(event, EntryKey) and event.request_id == request_id:
                if on_key is not None:
                    on_key(event)
            else:
                kept.append(event)
                if isinstance(event, Tamper):
                    _log.warning("controller tamper switch opened")
        self._events = kept
