# SPDX-License-Identifier: Apache-2.0
"""The vpcd bridge: a virtual card presented to pcscd through vsmartcard's vpcd.

Why: the host's ``pcsc://`` backend and OpenSC must meet the virtual card
through the real PC/SC stack (pyscard → libpcsclite → pcscd → vpcd), so CI
exercises what a kiosk runs. vpcd is a pcscd reader driver that forwards
each reader operation over TCP to a "virtual ICC" — this module is that ICC.

Wire protocol (toolchain.md): every message is a 2-byte big-endian length
and a body. A 1-byte body is control (``00`` power off, ``01`` power on,
``02`` reset, ``04`` get ATR, answered with the ATR); any other body is a
C-APDU, answered with the R-APDU. ``VpcdProtocol`` is that protocol,
sans-I/O; ``VpcdBridge`` is the socket shell, in one thread.

The card dials vpcd (vpcd's ``DEVICENAME /dev/null:PORT``: vpcd listens,
the card connects to ``127.0.0.1:PORT`` and redials with exponential
back-off when pcscd restarts). vpcd's reversed mode (``DEVICENAME
HOST:PORT``, vpcd dials a listening card) would keep every socket on
loopback, but it has no "no card" state on Debian 12 (vsmartcard 0.8/3.3,
observed): a refused dial aborts pcscd ("bit out of range 0 - FD_SETSIZE
on fd_set") and an empty ATR stalls its start-up, so it cannot model
removal. vpcd binds its port on every interface; ``hw_sim.readers.pcscd``
therefore runs pcscd in a private network namespace when it can.

Removal (``remove()``/``insert()``) drops the link, which vpcd reports to
pcscd as "no card"; ``fail_next_command()`` drops it instead of answering
the next APDU, which is a card pulled mid-command.

Latency trap (toolchain.md): vpcd writes length and body separately, so with
delayed ACKs every APDU stalls ~40 ms; ``TCP_QUICKACK`` before every
``recv`` and ``TCP_NODELAY`` bring it to ~0.1 ms.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Final

from hw_sim.card import VirtualCard
from hw_sim.errors import CardClosedError, CardNotPoweredError
from hw_sim.lifecycle import StartStopABC

__all__ = [
    "DEFAULT_PORT",
    "VpcdBridge",
    "VpcdProtocol",
    "enter_netns",
]

_log = logging.getLogger(__name__)

#: vpcd's reader 0 port in Debian's /etc/reader.conf.d/vpcd (0x8C7B).
DEFAULT_PORT: Final = 35963
_CTRL_OFF: Final = 0x00
_CTRL_ON: Final = 0x01
_CTRL_RESET: Final = 0x02
_CTRL_ATR: Final = 0x04
_POLL_S: Final = 0.1
_CONNECT_TIMEOUT_S: Final = 1.0
_RECV_SIZE: Final = 65536 + 2
_CLONE_NEWNET: Final = 0x40000000


def _frame(body: bytes) -> bytes:
    return struct.pack(">H", len(body)) + body


class VpcdProtocol:
    """vpcd messages in, vpcd messages out, for one card (sans-I/O).

    ``receive(data)`` takes any slice of the byte stream and returns the
    bytes to send back (possibly empty). Messages are handled in order.
    """

    def __init__(self, card: VirtualCard | None) -> None:
        """Serve ``card``; None is an empty slot (empty ATR = "no card")."""
        self._card = card
        self._buffer = bytearray()
        self.commands = 0

    def receive(self, data: bytes) -> bytes:
        """Feed bytes from vpcd; return the replies to write."""
        self._buffer += data
        out = bytearray()
        while len(self._buffer) >= 2:
            (length,) = struct.unpack_from(">H", self._buffer)
            if len(self._buffer) < 2 + length:
                break
            body = bytes(self._buffer[2 : 2 + length])
            del self._buffer[: 2 + length]
            reply = self._handle(body)
            if reply is not None:
                out += _frame(reply)
        return bytes(out)

    def _handle(self, body: bytes) -> bytes | None:
        card = self._card
        if len(body) == 1:
            return self._control(body[0])
        if card is None:
            return b""
        self.commands += 1
        try:
            return card.transmit(body)
        except (CardNotPoweredError, CardClosedError):
            # A card without power does not answer; an empty body makes vpcd
            # report a communication error, as a mute card would.
            return b""

    def _control(self, code: int) -> bytes | None:
        card = self._card
        if code == _CTRL_ATR:
            return b"" if card is None or card.closed else card.atr
        if card is None or card.closed:
            return None
        if code == _CTRL_ON:
            card.power_on()
        elif code == _CTRL_OFF:
            card.power_off()
        elif code == _CTRL_RESET:
            # pcscd's reset of a powered card; vpcd sends it after power-on too.
            if card.powered:
                card.warm_reset()
            else:
                card.power_on()
        else:
            _log.debug("ignoring unknown vpcd control byte %02X", code)
        return None


class VpcdBridge(StartStopABC):
    """The virtual card as vpcd's ICC, served from a background thread.

    A context manager; ``stop()`` twice is harmless. The bridge does not
    close ``card`` (its owner does).

    Args:
        card: the card to present; None starts with an empty reader.
        port: vpcd's reader-0 port.
        host: where vpcd listens; loopback.
        backoff_initial_s, backoff_max_s: redial delays.
        netns: a network-namespace file (``/proc/PID/ns/net``) to dial from,
            for a pcscd confined to its own namespace (Linux, root only), or
            a callable giving the current one (None while pcscd is down), so
            the bridge follows a restarted pcscd into its new namespace.
    """

    def __init__(
        self,
        card: VirtualCard | None,
        *,
        port: int = DEFAULT_PORT,
        host: str = "127.0.0.1",
        backoff_initial_s: float = 0.05,
        backoff_max_s: float = 2.0,
        netns: Path | Callable[[], Path | None] | None = None,
    ) -> None:
        if not 0 < port < 65536:
            raise ValueError("port must be 1..65535")
        if not 0 < backoff_initial_s <= backoff_max_s:
            raise ValueError("need 0 < backoff_initial_s <= backoff_max_s")
        self._card = card
        self._port = port
        self._host = host
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._netns = netns
        self._stop = threading.Event()
        self._inserted = threading.Event()
        if card is not None:
            self._inserted.set()
        self._connected = threading.Event()
        self._fail_next = False
        self._lock = threading.Lock()
        self._conn: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.connections = 0
        self.dial_failures = 0

    def __repr__(self) -> str:
        state = "inserted" if self._inserted.is_set() else "removed"
        return f"VpcdBridge({self._host}:{self._port}, {state})"

    @property
    def card(self) -> VirtualCard | None:
        """The card this bridge presents (None: none yet)."""
        return self._card

    @property
    def inserted(self) -> bool:
        """Whether the card is in the reader."""
        return self._inserted.is_set()

    @property
    def connected(self) -> bool:
        """Whether vpcd is linked to the card right now."""
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """Wait until vpcd is linked to the card; return whether it is."""
        return self._connected.wait(timeout)

    def start(self) -> VpcdBridge:
        """Start dialling vpcd in a background thread."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="vpcd-bridge", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop the link; the card stays open."""
        self._stop.set()
        self._hang_up()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)

    def remove(self) -> None:
        """Take the card out of the reader (pcscd sees "no card")."""
        self._inserted.clear()
        self._hang_up()
        _log.info("card removed from the virtual reader")

    def insert(self) -> None:
        """Put the card (back) in the reader.

        Raises:
            ValueError: the bridge has no card.
        """
        if self._card is None:
            raise ValueError("no card to insert; use swap_card")
        self._inserted.set()
        _log.info("card inserted in the virtual reader")

    def swap_card(self, card: VirtualCard) -> None:
        """Take the current card out and put ``card`` in (the old one stays open)."""
        self._inserted.clear()
        self._hang_up()
        with self._lock:
            self._card = card
        self._inserted.set()

    def fail_next_command(self) -> None:
        """Pull the card while the next C-APDU is being processed.

        The bridge hangs up instead of answering, and the card stays removed
        until ``insert()``.
        """
        with self._lock:
            self._fail_next = True

    # --- the socket shell ---------------------------------------------------

    def _run(self) -> None:
        delay = self._backoff[0]
        joined: Path | None = None
        while not self._stop.is_set():
            if not self._inserted.wait(_POLL_S):
                continue
            try:
                joined = self._join_netns(joined)
                conn = socket.create_connection((self._host, self._port), _CONNECT_TIMEOUT_S)
            except OSError as error:
                self.dial_failures += 1
                _log.debug("vpcd %s:%d: %s; redial in %.2f s", self._host, self._port, error, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self._backoff[1])
                continue
            delay = self._backoff[0]
            self._serve(conn, VpcdProtocol(self._card))

    def _join_netns(self, joined: Path | None) -> Path | None:
        """Follow pcscd into its (possibly new) namespace before a dial."""
        target = self._netns() if callable(self._netns) else self._netns
        if target is None and self._netns is not None:
            raise OSError("pcscd is not running")
        if target is not None and target != joined:
            enter_netns(target)
        return target

    def _serve(self, conn: socket.socket, protocol: VpcdProtocol) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.settimeout(_POLL_S)
        with self._lock:
            self._conn = conn
        self.connections += 1
        self._connected.set()
        _log.info("linked to vpcd on port %d", self._port)
        try:
            while not self._stop.is_set() and self._inserted.is_set():
                _quickack(conn)
                try:
                    data = conn.recv(_RECV_SIZE)
                except TimeoutError:
                    continue
                if not data or self._take_fail_flag(data):
                    break
                reply = protocol.receive(data)
                if reply:
                    conn.sendall(reply)
        except OSError as error:
            _log.debug("vpcd link dropped: %s", error)
        finally:
            with self._lock:
                if self._conn is conn:
                    self._conn = None
            self._connected.clear()
            with contextlib.suppress(OSError):
                conn.close()

    def _take_fail_flag(self, data: bytes) -> bool:
        with self._lock:
            # Only an APDU (a body longer than one byte) triggers the fault.
            if not self._fail_next or len(data) < 2 or struct.unpack_from(">H", data)[0] <= 1:
                return False
            self._fail_next = False
            self._inserted.clear()
        _log.info("card pulled mid-command")
        return True

    def _hang_up(self) -> None:
        with self._lock:
            conn = self._conn
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


def _quickack(conn: socket.socket) -> None:
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if quickack is not None:
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.IPPROTO_TCP, quickack, 1)


def enter_netns(path: Path) -> None:
    """Move the calling thread into the network namespace at ``path``.

    Linux ``setns`` is per thread, so the rest of the process keeps its own
    network. Raises ``OSError`` when not permitted.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    with path.open("rb") as handle:
        if libc.setns(handle.fileno(), _CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns({path}): {os.strerror(errno)}")
