# SPDX-License-Identifier: Apache-2.0
"""Keypad logic above the matrix scan: debounce, plain keys, secure entry.

The hardware layer returns the raw key under the fingers (or -1); this
module turns it into clean presses (a key must read the same for
``debounce_ms`` before it counts) and, in secure entry, into a PIN or a
multi-tap password held in a bytearray that is wiped when the entry ends.
The JPKI signing password is 6-16 of A-Z 0-9, which a 12-key pad can only
enter by multi-tap (shared/reference/terminal-conventions.md §2).
"""

from time import ticks_diff

from myna_fw.proto import KEY_CANCEL, KEY_CLEAR, KEY_ENTER, KIND_ALNUM

NO_KEY = -1

# Row-major 4x4 matrix: three digit columns and one function column.
MATRIX = (
    (0x31, 0x32, 0x33, KEY_CANCEL),
    (0x34, 0x35, 0x36, KEY_CLEAR),
    (0x37, 0x38, 0x39, KEY_ENTER),
    (0x2A, 0x30, 0x23, 0x81),
)

# Multi-tap letters per key, ending with the digit itself (phone layout).
MULTITAP = {
    0x30: b"0",
    0x31: b"1",
    0x32: b"ABC2",
    0x33: b"DEF3",
    0x34: b"GHI4",
    0x35: b"JKL5",
    0x36: b"MNO6",
    0x37: b"PQRS7",
    0x38: b"TUV8",
    0x39: b"WXYZ9",
}
KEY_NEXT = 0x23  # '#': commit the multi-tap letter now

# What a key did in secure entry.
ADD = 1
DELETE = 2
REFUSE = 3
ENTER = 4
CANCEL = 5


class Debouncer:
    """Report a press once the raw key has been stable for ``debounce_ms``."""

    def __init__(self, debounce_ms):
        self.debounce_ms = debounce_ms
        self._candidate = NO_KEY
        self._since = 0
        self._stable = NO_KEY

    def update(self, raw, now_ms):
        """Feed one scan; return a newly pressed key code or None."""
        if raw != self._candidate:
            self._candidate = raw
            self._since = now_ms
            return None
        if raw == self._stable or ticks_diff(now_ms, self._since) < self.debounce_ms:
            return None
        self._stable = raw
        return None if raw == NO_KEY else raw


class SecureEntry:
    """One PIN or password entry; the value never leaves except via ``value``."""

    def __init__(self, kind, min_len, max_len, timeout_ms, now_ms, multitap_ms=800):
        self.kind = kind
        self.min_len = min_len
        self.max_len = max_len
        self.timeout_ms = timeout_ms
        self.multitap_ms = multitap_ms
        self._started = now_ms
        self._buf = bytearray()
        self._tap_key = NO_KEY
        self._tap_index = 0
        self._tap_at = 0

    @property
    def length(self):
        return len(self._buf) + (0 if self._tap_key == NO_KEY else 1)

    def key(self, code, now_ms):
        """Apply one key press; return ADD, DELETE, REFUSE, ENTER, CANCEL or None."""
        if code == KEY_CANCEL:
            return CANCEL
        if code == KEY_CLEAR:
            if self._tap_key != NO_KEY:
                self._tap_key = NO_KEY
                return DELETE
            if self._buf:
                self._buf[-1] = 0
                self._buf = self._buf[:-1]
                return DELETE
            return REFUSE
        if code == KEY_ENTER:
            self._commit()
            return ENTER if len(self._buf) >= self.min_len else REFUSE
        letters = MULTITAP.get(code)
        if self.kind != KIND_ALNUM:
            if letters is None:
                return REFUSE
            if len(self._buf) >= self.max_len:
                return REFUSE
            self._buf.append(code)
            return ADD
        if code == KEY_NEXT:
            return ADD if self._commit() else REFUSE
        if letters is None:
            return REFUSE
        if code == self._tap_key and ticks_diff(now_ms, self._tap_at) < self.multitap_ms:
            self._tap_index = (self._tap_index + 1) % len(letters)
            self._tap_at = now_ms
            return ADD
        self._commit()
        if len(self._buf) >= self.max_len:
            return REFUSE
        self._tap_key = code
        self._tap_index = 0
        self._tap_at = now_ms
        return ADD

    def poll(self, now_ms):
        """Commit a multi-tap letter after a pause; return True on entry timeout."""
        if self._tap_key != NO_KEY and ticks_diff(now_ms, self._tap_at) >= self.multitap_ms:
            self._commit()
        return self.timeout_ms > 0 and ticks_diff(now_ms, self._started) >= self.timeout_ms

    def value(self):
        """The entered ASCII bytes (a bytearray the caller must not keep)."""
        return self._buf

    def wipe(self):
        for i in range(len(self._buf)):
            self._buf[i] = 0
        self._buf = bytearray()
        self._tap_key = NO_KEY

    def _commit(self):
        if self._tap_key == NO_KEY:
            return False
        if len(self._buf) < self.max_len:
            self._buf.append(MULTITAP[self._tap_key][self._tap_index])
        self._tap_key = NO_KEY
        return True
