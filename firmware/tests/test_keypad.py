# SPDX-License-Identifier: Apache-2.0
"""Debounce, numeric PIN entry and multi-tap password entry."""

import unittest
from myna_fw import keypad
from myna_fw.proto import KEY_CANCEL, KEY_CLEAR, KEY_ENTER, KIND_ALNUM, KIND_NUMERIC


class TestDebouncer(unittest.TestCase):
    def test_bounce_is_ignored_and_press_reported_once(self):
        d = keypad.Debouncer(10)
        seen = []
        for t, raw in ((0, 0x31), (1, -1), (2, 0x31), (5, 0x31), (11, 0x31), (13, 0x31), (20, 0x31)):
            key = d.update(raw, t)
            if key is not None:
                seen.append((t, key))
        self.assertEqual(seen, [(13, 0x31)])

    def test_same_key_twice_needs_a_release(self):
        d = keypad.Debouncer(5)
        presses = 0
        for t, raw in ((0, 0x32), (6, 0x32), (7, -1), (13, -1), (14, 0x32), (20, 0x32)):
            if d.update(raw, t) is not None:
                presses += 1
        self.assertEqual(presses, 2)


def _numeric(min_len=4, max_len=6, timeout=0):
    return keypad.SecureEntry(KIND_NUMERIC, min_len, max_len, timeout, 0)


class TestNumericEntry(unittest.TestCase):
    def test_digits_then_enter(self):
        e = _numeric()
        for c in b"1234":
            self.assertEqual(e.key(c, 0), keypad.ADD)
        self.assertEqual(e.key(KEY_ENTER, 0), keypad.ENTER)
        self.assertEqual(bytes(e.value()), b"1234")

    def test_too_short_refused(self):
        e = _numeric()
        e.key(0x31, 0)
        self.assertEqual(e.key(KEY_ENTER, 0), keypad.REFUSE)

    def test_max_length_and_clear(self):
        e = _numeric(4, 4)
        for c in b"12345":
            e.key(c, 0)
        self.assertEqual(e.length, 4)
        self.assertEqual(e.key(KEY_CLEAR, 0), keypad.DELETE)
        self.assertEqual(bytes(e.value()), b"123")

    def test_cancel_and_letters(self):
        e = _numeric()
        self.assertEqual(e.key(0x2A, 0), keypad.REFUSE)
        self.assertEqual(e.key(KEY_CANCEL, 0), keypad.CANCEL)

    def test_timeout_and_wipe(self):
        e = _numeric(timeout=100)
        e.key(0x31, 0)
        self.assertFalse(e.poll(99))
        self.assertTrue(e.poll(100))
        e.wipe()
        self.assertEqual(e.length, 0)


class TestMultiTap(unittest.TestCase):
    def test_taps_and_next_key(self):
        e = keypad.SecureEntry(KIND_ALNUM, 6, 16, 0, 0, 500)
        # A=2, B=22, C=222, 1=1, 2=2222, 3=3333 with '#' after each
        for key, taps in ((0x32, 1), (0x32, 2), (0x32, 3), (0x31, 1), (0x32, 4), (0x33, 4)):
            for _ in range(taps):
                e.key(key, 0)
            e.key(0x23, 0)
        self.assertEqual(e.key(KEY_ENTER, 0), keypad.ENTER)
        self.assertEqual(bytes(e.value()), b"ABC123")

    def test_pause_commits_the_letter(self):
        e = keypad.SecureEntry(KIND_ALNUM, 1, 16, 0, 0, 500)
        e.key(0x37, 0)
        e.key(0x37, 100)
        e.poll(700)
        e.key(0x37, 800)
        e.key(KEY_ENTER, 900)
        self.assertEqual(bytes(e.value()), b"QP")

    def test_different_key_commits(self):
        e = keypad.SecureEntry(KIND_ALNUM, 1, 16, 0, 0, 500)
        e.key(0x39, 0)
        e.key(0x38, 10)
        e.key(KEY_ENTER, 20)
        self.assertEqual(bytes(e.value()), b"WT")

    def test_clear_drops_pending_letter(self):
        e = keypad.SecureEntry(KIND_ALNUM, 1, 16, 0, 0, 500)
        e.key(0x39, 0)
        self.assertEqual(e.key(KEY_CLEAR, 1), keypad.DELETE)
        self.assertEqual(e.length, 0)
