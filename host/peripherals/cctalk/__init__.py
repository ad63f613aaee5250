# SPDX-License-Identifier: Apache-2.0
"""ccTalk payment devices: coin acceptor, bill validator with escrow, payout hoppers.

Layers, each over the one below (``hw_sim/devices/CCTALK.md`` is the protocol summary):
``frame`` and ``messages`` are sans-I/O (bytes to frames and values; the
frame parser is fuzzed as ``host_cctalk_frames``, see ``fuzzing``); ``bus``
does the serial I/O with echo checks and retries; ``devices`` wraps each
device's headers; ``cashier`` keeps the money rules. The issuance flow's
``PaymentPort`` is ``host.peripherals.payment.CcTalkPayment``.
"""

from __future__ import annotations

from host.peripherals.cctalk.bus import CcTalkBus
from host.peripherals.cctalk.cashier import DEFAULT_HOPPERS, Cashier, Held
from host.peripherals.cctalk.codes import Header
from host.peripherals.cctalk.devices import BillValidator, CoinAcceptor, Hopper
from host.peripherals.cctalk.errors import (
    BillError,
    CcTalkError,
    CcTalkFrameError,
    CcTalkNakError,
    CcTalkNoReplyError,
    CoinJamError,
    HopperError,
    PayoutShortError,
)
from host.peripherals.cctalk.frame import Frame, FrameParser, decode_frame

__all__ = [
    "DEFAULT_HOPPERS",
    "BillError",
    "BillValidator",
    "Cashier",
    "CcTalkBus",
    "CcTalkError",
    "CcTalkFrameError",
    "CcTalkNakError",
    "CcTalkNoReplyError",
    "CoinAcceptor",
    "CoinJamError",
    "Frame",
    "FrameParser",
    "Header",
    "Held",
    "Hopper",
    "HopperError",
    "PayoutShortError",
    "decode_frame",
]
