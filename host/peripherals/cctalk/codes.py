# SPDX-License-Identifier: Apache-2.0
"""ccTalk numbers used by the payment driver and its emulator: headers, addresses, codes.

Why one table: the host driver and ``hw_sim/devices/cctalk*.py`` must agree
byte for byte, and a code is data (STYLE §3), so both read these enums. Values
are from the ccTalk Generic Specification (parts 1-3) as summarised in
``hw_sim/devices/CCTALK.md``; codes marked UNCONFIRMED there were
checked against open-source hosts only, not against a device.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

__all__ = [
    "ADDR_BILL_VALIDATOR",
    "ADDR_COIN_ACCEPTOR",
    "ADDR_FIRST_HOPPER",
    "ADDR_HOST",
    "CATEGORY_BILL_VALIDATOR",
    "CATEGORY_COIN_ACCEPTOR",
    "CATEGORY_PAYOUT",
    "HOPPER_ENABLE_CODE",
    "BillEventCode",
    "BillResult",
    "CoinErrorCode",
    "Header",
    "RouteCode",
    "RouteError",
]

#: Default bus addresses (Generic Specification part 1, "address assignment").
ADDR_HOST: Final = 1
ADDR_COIN_ACCEPTOR: Final = 2
ADDR_FIRST_HOPPER: Final = 3  # payout devices take 3..10
ADDR_BILL_VALIDATOR: Final = 40

#: Answers to header 245 (request equipment category id).
CATEGORY_COIN_ACCEPTOR: Final = "Coin Acceptor"
CATEGORY_PAYOUT: Final = "Payout"
CATEGORY_BILL_VALIDATOR: Final = "Bill Validator"

#: The data byte of header 164 that enables a hopper; any other disables it.
HOPPER_ENABLE_CODE: Final = 165


class Header(IntEnum):
    """The ccTalk headers this driver sends or answers."""

    REPLY = 0  # ACK, or a reply carrying data
    NAK = 5
    BUSY = 6
    SIMPLE_POLL = 254
    REQUEST_MANUFACTURER_ID = 246
    REQUEST_EQUIPMENT_CATEGORY_ID = 245
    MODIFY_INHIBIT_STATUS = 231
    READ_BUFFERED_CREDIT = 229  # "read buffered credit or error codes"
    MODIFY_MASTER_INHIBIT_STATUS = 228
    REQUEST_COIN_ID = 184
    DISPENSE_HOPPER_COINS = 167
    REQUEST_HOPPER_STATUS = 166
    ENABLE_HOPPER = 164
    READ_BUFFERED_BILL_EVENTS = 159
    REQUEST_COUNTRY_SCALING_FACTOR = 156
    REQUEST_BILL_ID = 157
    ROUTE_BILL = 154
    MODIFY_BILL_OPERATING_MODE = 153


class CoinErrorCode(IntEnum):
    """Result B of a 229 event whose result A is 0 (no credit); a subset of the table."""

    NONE = 0
    REJECT_COIN = 1
    INHIBITED_COIN = 2
    CREDIT_SENSOR_BLOCKED = 14  # a coin stuck at the credit sensor: a jam (UNCONFIRMED)


class BillResult(IntEnum):
    """Result B of a 159 event whose result A is a bill type (1-255)."""

    STACKED = 0  # validated and accepted into the stacker
    ESCROW = 1  # validated and held in escrow, waiting for route bill (154)


class BillEventCode(IntEnum):
    """Result B of a 159 event whose result A is 0: a status or an error."""

    MASTER_INHIBIT_ACTIVE = 0
    RETURNED_FROM_ESCROW = 1
    INVALID_BILL_VALIDATION = 2
    INVALID_BILL_TRANSPORT = 3
    INHIBITED_BILL_SERIAL = 4
    INHIBITED_BILL_DIP = 5
    JAMMED_IN_TRANSPORT_UNSAFE = 6
    JAMMED_IN_STACKER = 7
    BILL_PULLED_BACKWARDS = 8
    BILL_TAMPER = 9
    STACKER_OK = 10
    STACKER_REMOVED = 11
    STACKER_INSERTED = 12
    STACKER_FAULTY = 13
    STACKER_FULL = 14
    STACKER_JAMMED = 15
    JAMMED_IN_TRANSPORT_SAFE = 16


class RouteCode(IntEnum):
    """The data byte of header 154 (route bill)."""

    RETURN = 0
    STACK = 1
    EXTEND_ESCROW = 255


class RouteError(IntEnum):
    """The one-byte reply to 154 when routing failed (an empty reply is success)."""

    ESCROW_EMPTY = 254
    FAILED_TO_ROUTE = 255
