# SPDX-License-Identifier: Apache-2.0
"""``VirtualCard``: the simulated My Number card as a device with power and I/O.

This is the thin shell around the sans-I/O ``CardEngine``: it adds power
(cold reset clears the security state; counters persist, jpki-card.md §2,
§5), the APDU log, wire-level logging at TRACE (hex with direction arrows,
PIN bodies and data behind a PIN redacted; STYLE §7), and saving the PIN
state after each change. Reader bridges (vpcd, PN532) and the ``sim://``
transport drive a ``VirtualCard``; none of them talk to the engine.

``transmit`` never raises for any command bytes: malformed commands get the
ISO status word a card would send. It raises only when the card is closed
(``CardClosedError``) or off (``CardNotPoweredError``).

If the state file cannot be written, the card logs a warning and goes on
with its in-memory state: the running session stays correct, only the
memory between runs is lost.

Every card that is open is listed by ``open_cards`` so test suites can
fail on leaked cards.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Final

from hw_sim.card.apdu import PIN_BEARING_INS, hex_spaced, redact_command
from hw_sim.card.apdu_log import ApduLog, ApduLogEntry
from hw_sim.card.constants import TRACE
from hw_sim.card.contactless import Contactless
from hw_sim.card.engine import CardEngine, CardSnapshot
from hw_sim.card.filesystem import CardImage
from hw_sim.card.phones import Approval, DeviceKind
from hw_sim.card.pins import PinStore
from hw_sim.card.storage import save_pins
from hw_sim.errors import CardClosedError, CardNotPoweredError

__all__ = ["VirtualCard", "open_cards"]

_log = logging.getLogger(__name__)

_OPEN: Final[weakref.WeakSet[VirtualCard]] = weakref.WeakSet()


def open_cards() -> list[VirtualCard]:
    """Return the ``VirtualCard`` objects that are alive and not closed (leak checks)."""
    return list(_OPEN)


class VirtualCard:
    """A virtual My Number card; a context manager, and ``close()`` twice is harmless.

    Build one with ``hw_sim.card.open_card``.
    """

    def __init__(
        self,
        image: CardImage,
        pins: PinStore,
        *,
        profile_name: str,
        reselect_clears_security: bool = False,
        state_path: Path | None = None,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        """Create a powered-off card.

        Args:
            image: the card's immutable content.
            pins: its PIN objects (changed in place as commands run).
            profile_name: the catalogue name, for reprs and the state file.
            reselect_clears_security: SELECT of the current application clears
                its security status (OpenSC's ``logout`` assumes so; the card
                SOL measured keeps it, which is the default).
            state_path: where to save PIN state after each change; None keeps
                it in memory only.
            random_bytes: source of GET CHALLENGE bytes.
        """
        self._engine = CardEngine(
            image,
            pins,
            reselect_clears_security=reselect_clears_security,
            random_bytes=random_bytes,
        )
        self._profile_name = profile_name
        self._state_path = state_path
        self._log = ApduLog()
        self._lock = threading.RLock()
        self._powered = False
        self._closed = False
        _OPEN.add(self)

    def __repr__(self) -> str:
        condition = "closed" if self._closed else "on" if self._powered else "off"
        return f"VirtualCard(profile={self._profile_name!r}, {condition})"

    def __enter__(self) -> VirtualCard:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def atr(self) -> bytes:
        """The answer to reset."""
        return self._engine.image.atr

    @property
    def device(self) -> DeviceKind:
        """What carries the credential: a card, an Android phone or an iPhone."""
        return self._engine.image.device

    @property
    def contactless(self) -> Contactless | None:
        """The RF answers (Type A/B), or None for the readers' card defaults."""
        return self._engine.image.contactless

    @property
    def approval(self) -> Approval | None:
        """The iPhone's on-phone user verification, or None (not an iPhone)."""
        return self._engine.approval

    def set_approval(self, approval: Approval) -> None:
        """Approve, decline or leave unanswered the iPhone's user verification.

        Tests and the simulator panel call this; it lasts until set again
        (also across power cycles), like a user who keeps the phone ready.

        Raises:
            ValueError: not an iPhone.
        """
        with self._lock:
            self._engine.set_approval(approval)
            _log.debug("card %s: approval %s", self._profile_name, Approval(approval).value)

    @property
    def profile_name(self) -> str:
        """The catalogue name of the profile this card was issued from."""
        return self._profile_name

    @property
    def powered(self) -> bool:
        """Whether the card is powered (in the field or in a powered slot)."""
        return self._powered

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed

    @property
    def apdu_log(self) -> ApduLog:
        """Every exchange since creation or the last ``apdu_log.clear()``."""
        return self._log

    def power_on(self) -> bytes:
        """Power the card up (a cold reset) and return the ATR.

        Clears selection and security status, also when already powered.

        Raises:
            CardClosedError: the card is closed.
        """
        with self._lock:
            self._check_open()
            self._engine.reset()
            self._powered = True
            _log.debug("card %s powered on", self._profile_name)
            return self.atr

    def warm_reset(self) -> bytes:
        """Reset the card without removing power and return the ATR.

        UNCONFIRMED beyond one card: SOL saw a VERIFY survive a warm reset
        (jpki-card.md §2), so selection and security status are kept.

        Raises:
            CardClosedError: the card is closed.
            CardNotPoweredError: the card is off.
        """
        with self._lock:
            self._check_ready()
            return self.atr

    def power_off(self) -> None:
        """Remove power: security status and selection are lost, counters persist.

        Raises:
            CardClosedError: the card is closed.
        """
        with self._lock:
            self._check_open()
            self._engine.reset()
            self._powered = False
            _log.debug("card %s powered off", self._profile_name)

    def transmit(self, command: bytes) -> bytes:
        """Send one C-APDU and return the R-APDU (data + SW1 SW2).

        Never raises for the content of ``command``.

        Raises:
            TypeError: ``command`` is not bytes-like.
            CardClosedError: the card is closed.
            CardNotPoweredError: the card is off.
        """
        if not isinstance(command, bytes | bytearray | memoryview):
            raise TypeError("a command APDU is bytes")
        raw = bytes(command)
        with self._lock:
            self._check_ready()
            started = time.monotonic()
            _trace_command(raw)
            response = self._engine.process(raw)
            if self._engine.pins.dirty:
                self._save()
            encoded = response.to_bytes()
            duration = time.monotonic() - started
            _trace_response(encoded, sensitive=response.sensitive)
            self._log.append(
                ApduLogEntry(
                    command=redact_command(raw),
                    command_length=len(raw),
                    response_length=len(encoded),
                    sw=response.sw,
                    started=started,
                    duration_s=duration,
                )
            )
            return encoded

    def state_snapshot(self) -> CardSnapshot:
        """Return selection, security status and PIN counters (for tests and tools)."""
        with self._lock:
            return self._engine.state_snapshot()

    def close(self) -> None:
        """Power off and release the card; later calls do nothing."""
        with self._lock:
            if self._closed:
                return
            self._engine.reset()
            self._powered = False
            self._closed = True
            _OPEN.discard(self)

    def _check_open(self) -> None:
        if self._closed:
            raise CardClosedError(f"card {self._profile_name!r} is closed")

    def _check_ready(self) -> None:
        self._check_open()
        if not self._powered:
            raise CardNotPoweredError(f"card {self._profile_name!r} is not powered")

    def _save(self) -> None:
        pins = self._engine.pins
        pins.dirty = False
        if self._state_path is None:
            return
        try:
            save_pins(self._state_path, self._profile_name, pins)
        except OSError as error:
            _log.warning(
                "card %s: cannot save its state (%s); continuing in memory",
                self._profile_name,
                type(error).__name__,
            )


def _trace_command(raw: bytes) -> None:
    if not _log.isEnabledFor(TRACE):
        return
    shown = redact_command(raw)
    if len(raw) >= 2 and raw[1] in PIN_BEARING_INS and len(shown) < len(raw):
        _log.log(TRACE, "→ %s <%d bytes redacted>", hex_spaced(shown), len(raw) - len(shown))
    else:
        _log.log(TRACE, "→ %s", hex_spaced(raw))


def _trace_response(encoded: bytes, *, sensitive: bool) -> None:
    if not _log.isEnabledFor(TRACE):
        return
    if sensitive:
        _log.log(TRACE, "← <%d bytes redacted> %s", len(encoded) - 2, hex_spaced(encoded[-2:]))
    else:
        _log.log(TRACE, "← %s", hex_spaced(encoded))
