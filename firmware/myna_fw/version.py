# SPDX-License-Identifier: Apache-2.0
"""Firmware identity reported in the handshake (kept in step with ../manifest.py)."""

FIRMWARE_VERSION = (1, 0, 0)
PROTOCOL_VERSION = 1

# Capability bits in INFO (firmware/PROTOCOL.md §3).
CAP_KEYPAD = 0x0001
CAP_SECURE_PIN = 0x0002
CAP_ALNUM_PASSWORD = 0x0004
CAP_DISPLAY = 0x0008
CAP_LEDS = 0x0010
CAP_BUZZER = 0x0020
CAP_TAMPER = 0x0040
CAP_HEARTBEAT = 0x0080
CAP_KEY_ROTATION = 0x0100
CAPABILITIES = 0x01FF
