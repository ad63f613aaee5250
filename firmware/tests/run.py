# SPDX-License-Identifier: Apache-2.0
"""Run the firmware tests under MicroPython: ``cd firmware/tests && micropython run.py``.

MicroPython has no test discovery, so the list is explicit. Exit status 1
on any failure (the pytest wrapper in tests/unit/firmware checks it).
"""

import sys

sys.path.insert(0, "..")

import test_app  # noqa: E402
import test_boot  # noqa: E402
import test_crypto  # noqa: E402
import test_keypad  # noqa: E402
import test_link  # noqa: E402
import unittest  # noqa: E402

TESTS = (
    test_link.TestGoldenFrames,
    test_link.TestCobs,
    test_link.TestLinkPair,
    test_crypto.TestHmac,
    test_crypto.TestAes,
    test_keypad.TestDebouncer,
    test_keypad.TestNumericEntry,
    test_keypad.TestMultiTap,
    test_app.TestHandshake,
    test_app.TestCommissioning,
    test_app.TestSecureEntry,
    test_app.TestHeartbeat,
    test_boot.TestP256,
    test_boot.TestHead,
    test_boot.TestBootRecord,
    test_boot.TestEraseKeys,
)

run, failures = unittest.run_classes(TESTS)
print("ran %d tests, %d failed" % (run, len(failures)))
for failure in failures:
    print("FAIL", failure)
sys.exit(1 if failures else 0)
