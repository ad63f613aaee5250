# SPDX-License-Identifier: Apache-2.0
"""The unix-port hardware: host link on a pty, simulator control on stdin/stdout.

The simulator (hw_sim/devices/controller.py) starts ``micropython main.py
--link /dev/pts/N`` with pipes. Control lines in (stdin): ``press CODE``
(a key press, played back as raw scans with contact bounce so the debouncer
is exercised), ``tamper open|close``, ``quit``. Status lines out (stdout):
``ready``, ``display LINE TEXT``, ``leds MASK``, ``buzz FREQ MS``, and
``idle`` when every queued press has been played. Traps (toolchain.md): a
pty ``read(n)`` blocks until n bytes arrive unless VMIN=VTIME=0 after
setraw; os has no read(), so the pty is a file object.
"""

import os
import select
import sys
import termios
import time

class FileStorage:
    """A file standing in for the board's flash."""

    def __init__(self, path):
        self.path = path

    def load(self):
        if not self.path:
            return None
        try:
            with open(self.path, "rb") as handle:
                return handle.read()
        except OSError:
            return None

    def save(self, record):
        if self.path:
            with open(self.path, "wb") as handle:
                handle.write(record)


class UnixHardware:
    def __init__(
        self,
        link_path,
        flash_path=None,
        serial="SIM-00000001",
        debounce_ms=4,
        hold_ms=7,
        multitap_ms=800,
        retransmit_ms=200,
    ):
        self._link = open(link_path, "r+b")
        fd = self._link.fileno()
        termios.setraw(fd)
        attrs = termios.tcgetattr(fd)
        attrs[6][6] = 0  # VMIN
        attrs[6][5] = 0  # VTIME
        termios.tcsetattr(fd, 0, attrs)
        self._poll = select.poll()
        self._poll.register(self._link, select.POLLIN)
        self._poll.register(sys.stdin, select.POLLIN)
        self.storage = FileStorage(flash_path)
        self.serial = serial
        self.debounce_ms = debounce_ms
        self.multitap_ms = multitap_ms
        self.retransmit_ms = retransmit_ms
        self._hold_ms = hold_ms
        self._presses = []
        self._phase = 0
        self._phase_at = None
        self._tamper = False
        self._running = True
        self._reported_idle = True

    @classmethod
    def from_argv(cls, argv):
        options = {}
        i = 0
        while i + 1 < len(argv):
            options[argv[i].lstrip("-").replace("-", "_")] = argv[i + 1]
            i += 2
        return cls(
            options["link"],
            options.get("flash"),
            options.get("serial", "SIM-00000001"),
            int(options.get("debounce_ms", 4)),
            int(options.get("hold_ms", 7)),
            int(options.get("multitap_ms", 800)),
            int(options.get("retransmit_ms", 200)),
        )

    @property
    def running(self):
        return self._running

    def _out(self, line):
        sys.stdout.write(line + "\n")

    def report(self, line):
        """A status line for the simulator (``boot SLOT VERSION TRIAL``, ``ready``)."""
        self._out(line)

    def report_flash(self, number, what, path):
        """Observer of the boot platform's flash operations (power-cut tests)."""
        self._out("flash %d %s %s" % (number, what, path))

    def read_link(self):
        return self._link.read(512) or b""

    def write_link(self, data):
        view = memoryview(data)
        while view:
            n = self._link.write(view)
            if n is None:  # pragma: no cover - pty full, retry
                continue
            view = view[n:]

    def wait(self, ms):
        for obj, _event in self._poll.poll(ms):
            if obj is not self._link:
                self._control(sys.stdin.readline())

    def _control(self, line):
        words = line.split()
        if not words:
            self._running = False  # stdin closed: the simulator went away
        elif words[0] == "press":
            self._presses.append(int(words[1], 0))
            self._reported_idle = False
        elif words[0] == "tamper":
            self._tamper = words[1] == "open"
        elif words[0] == "quit":
            self._running = False

    def busy(self):
        return bool(self._presses)

    def scan(self):
        # One press is played as phases, each advancing only on a later scan,
        # so a stalled loop stretches a press instead of losing it: bounce
        # on, bounce off, hold >= hold_ms, release >= hold_ms (each timed from
        # its own first scan).
        if not self._presses:
            if not self._reported_idle:
                self._reported_idle = True
                self._out("idle")
            return -1
        key = self._presses[0]
        now = time.ticks_ms()
        phase = self._phase
        if phase == 0:
            self._phase = 1
            return key
        if phase == 1:
            self._phase = 2
            self._phase_at = None
            return -1
        if phase == 2:
            # Timed from the first scan that saw the key held, so the
            # debouncer always sees it stable for hold_ms over two scans.
            if self._phase_at is None:
                self._phase_at = now
            elif time.ticks_diff(now, self._phase_at) >= self._hold_ms:
                self._phase = 3
                self._phase_at = None
            return key
        if self._phase_at is None:
            self._phase_at = now
        elif time.ticks_diff(now, self._phase_at) >= self._hold_ms:
            self._presses.pop(0)
            self._phase = 0
        return -1

    def tamper_open(self):
        return self._tamper

    def show(self, line, text):
        self._out("display %d %s" % (line, text))

    def leds(self, mask):
        self._out("leds %d" % mask)

    def buzz(self, freq, ms):
        self._out("buzz %d %d" % (freq, ms))

    def ticks_ms(self):
        return time.ticks_ms()

    def random(self, n):
        return os.urandom(n)
