# SPDX-License-Identifier: Apache-2.0
"""Message types and codes carried in data frames (firmware/PROTOCOL.md §4).

Constants only, so that app.py and the tests share one spelling. The host's
twin is host/peripherals/messages.py; the golden vectors keep them equal.
"""

try:
    from micropython import const
except ImportError:  # pragma: no cover - CPython tooling
    def const(value):  # type: ignore[misc]
        return value

# host -> board commands; every payload starts with the request id (u32 BE)
CMD_STATUS = const(0x10)
CMD_DISPLAY = const(0x11)
CMD_LEDS = const(0x12)
CMD_BUZZ = const(0x13)
CMD_HEARTBEAT = const(0x14)
CMD_ECHO = const(0x15)
CMD_SECURE_ENTRY = const(0x20)
CMD_CANCEL_ENTRY = const(0x21)
CMD_INJECT_KEY = const(0x30)
CMD_ROTATE_KEY = const(0x31)
# firmware update (docs/firmware-updates.md; served by the boot platform's receiver)
CMD_FW_STATUS = const(0x40)
CMD_FW_BEGIN = const(0x41)
CMD_FW_CHUNK = const(0x42)
CMD_FW_COMMIT = const(0x43)
CMD_FW_ABORT = const(0x44)

# board -> host
EV_RESULT = const(0x80)
EV_KEY = const(0x90)
EV_ENTRY_KEY = const(0x91)
EV_ENTRY_DONE = const(0x92)
EV_TAMPER = const(0x93)
EV_HEARTBEAT = const(0x94)

# RESULT status codes
ST_OK = const(0)
ST_BAD_REQUEST = const(1)
ST_UNKNOWN_COMMAND = const(2)
ST_NOT_COMMISSIONED = const(3)
ST_TAMPERED = const(4)
ST_BUSY = const(5)
ST_ALREADY_COMMISSIONED = const(6)
ST_AUTH_FAILED = const(7)
ST_NO_ENTRY = const(8)
ST_IMAGE_INVALID = const(9)
ST_BAD_SIGNATURE = const(10)
ST_WRONG_BOARD = const(11)
ST_DOWNGRADE = const(12)
ST_BAD_OFFSET = const(13)
ST_NO_UPDATE = const(14)

# secure entry kinds, key actions and outcomes
KIND_NUMERIC = const(1)
KIND_ALNUM = const(2)
ACTION_PRESSED = const(1)
ACTION_DELETED = const(2)
ACTION_REFUSED = const(3)
OUTCOME_OK = const(0)
OUTCOME_CANCELLED = const(1)
OUTCOME_TIMEOUT = const(2)
OUTCOME_TAMPER = const(3)

# state flags (INFO and STATUS)
FLAG_COMMISSIONED = const(0x01)
FLAG_TAMPERED = const(0x02)
FLAG_ENTRY_ACTIVE = const(0x04)

# key codes reported in plain mode
KEY_CANCEL = const(0x18)
KEY_CLEAR = const(0x08)
KEY_ENTER = const(0x0D)
KEY_F1 = const(0x81)
