# SPDX-License-Identifier: Apache-2.0
"""RP2040 hardware: UART host link, Pin keypad matrix, PWM buzzer, GPIO tamper.

The only module that imports ``machine`` (STYLE §5). Pin map for a
Raspberry Pi Pico carrier board (change here, nowhere else):

=========  ==========================================================
GP0/GP1    UART0 TX/RX to the host, 115200 8N1
GP2-GP5    keypad rows (driven low one at a time)
GP6-GP9    keypad columns (inputs, pulled up; low = key down)
GP10       tamper switch (pulled up; closed enclosure pulls it low)
GP11       buzzer (PWM)
GP12-GP14  LEDs green, amber, red
=========  ==========================================================

The display is any object with ``show(line, text)`` (an HD44780 or SSD1306
driver), passed in by the caller, as micropython-lib drivers take their bus.
"""

import os
import time

from machine import PWM, UART, Pin, unique_id

from myna_fw.keypad import MATRIX

_ROWS = (2, 3, 4, 5)
_COLS = (6, 7, 8, 9)
_TAMPER = 10
_BUZZER = 11
_LEDS = (12, 13, 14)
_KEY_FILE = "/keys.bin"


class FlashStorage:
    """The key record in a file on the board's LittleFS flash."""

    def __init__(self, path):
        self.path = path

    def load(self):
        try:
            with open(self.path, "rb") as handle:
                return handle.read()
        except OSError:
            return None

    def save(self, record):
        with open(self.path, "wb") as handle:
            handle.write(record)


class Rp2Hardware:
    def __init__(self, display=None):
        self._uart = UART(0, baudrate=115200, tx=Pin(0), rx=Pin(1), timeout=0)
        self._rows = [Pin(n, Pin.OUT, value=1) for n in _ROWS]
        self._cols = [Pin(n, Pin.IN, Pin.PULL_UP) for n in _COLS]
        self._tamper = Pin(_TAMPER, Pin.IN, Pin.PULL_UP)
        self._buzzer = PWM(Pin(_BUZZER))
        self._buzz_until = time.ticks_ms()
        self._buzzing = False
        self._leds = [Pin(n, Pin.OUT, value=0) for n in _LEDS]
        self._display = display
        self.storage = FlashStorage(_KEY_FILE)
        self.serial = "".join("%02X" % b for b in unique_id())
        self.debounce_ms = 20
        self.multitap_ms = 800
        self.retransmit_ms = 200

    def read_link(self):
        waiting = self._uart.any()
        if not waiting:
            return b""
        return self._uart.read(waiting) or b""

    def write_link(self, data):
        self._uart.write(data)

    def wait(self, ms):
        if self._buzzing and time.ticks_diff(time.ticks_ms(), self._buzz_until) >= 0:
            self._buzzer.duty_u16(0)
            self._buzzing = False
        time.sleep_ms(ms)

    def busy(self):
        return False

    def scan(self):
        pressed = -1
        for r, row in enumerate(self._rows):
            row.value(0)
            for c, col in enumerate(self._cols):
                if col.value() == 0 and pressed == -1:
                    pressed = MATRIX[r][c]
            row.value(1)
        return pressed

    def tamper_open(self):
        return self._tamper.value() == 1

    def show(self, line, text):
        if self._display is not None:
            self._display.show(line, text)

    def leds(self, mask):
        for i, led in enumerate(self._leds):
            led.value(1 if mask & (1 << i) else 0)

    def buzz(self, freq, ms):
        self._buzzer.freq(max(freq, 20))
        self._buzzer.duty_u16(32768)
        self._buzz_until = time.ticks_add(time.ticks_ms(), ms)
        self._buzzing = True

    def ticks_ms(self):
        return time.ticks_ms()

    def random(self, n):
        return os.urandom(n)
