# SPDX-License-Identifier: Apache-2.0
"""myna-edge peripheral-controller firmware (keypad, secure PIN entry, tamper)."""
