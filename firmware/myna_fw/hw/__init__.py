# SPDX-License-Identifier: Apache-2.0
"""The hardware layer: the only code that differs between the RP2040 and unix.

``machine`` is reached only from ``rp2.py``; the app receives one object
with this small interface (duck-typed; both implementations provide it):

=====================  =====================================================
``read_link()``        bytes waiting on the host link (b"" if none); never blocks
``write_link(data)``   write bytes to the host link
``wait(ms)``           sleep up to ``ms``, waking early on link input
``busy()``             True while simulated input is still being played
``scan()``             raw key code under the fingers, or -1 (not debounced)
``tamper_open()``      True while the enclosure switch is open
``show(line, text)``   two-line display
``leds(mask)``         bit 0 green, bit 1 amber, bit 2 red
``buzz(freq, ms)``     beep
``ticks_ms()``         MicroPython ticks
``random(n)``          n bytes from the hardware RNG
``storage``            ``load() -> bytes|None`` / ``save(bytes)`` (flash)
``serial``             the board's serial number (str)
``debounce_ms``        key debounce time
``multitap_ms``        pause that commits a multi-tap letter
=====================  =====================================================
"""
