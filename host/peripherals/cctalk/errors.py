# SPDX-License-Identifier: Apache-2.0
"""Errors of the ccTalk payment driver, a branch under ``host.errors.PaymentDeviceError``::

    PaymentDeviceError                    (host.errors)
    └── CcTalkError                       a ccTalk device failed or answered out of protocol
        ├── CcTalkFrameError              bytes that are not a ccTalk frame (length, checksum)
        ├── CcTalkNoReplyError (TimeoutError) no valid reply after the allowed retries
        ├── CcTalkNakError                the device answered NAK or BUSY: .header
        ├── CoinJamError                  the coin acceptor reports a jam: .code
        ├── BillError                     the bill validator faulted or could not route: .code
        ├── HopperError                   a payout hopper paid less than asked: .unpaid
        └── PayoutShortError              change or refund not paid in full: .unpaid_yen

Why under ``PaymentDeviceError``: the issuance flow decides refund or
operator call from ``host.errors`` types alone (``host.flows.issuance_ports``);
the branches here carry the device's own code for the operator's journal.
"""

from __future__ import annotations

from host.errors import PaymentDeviceError

__all__ = [
    "BillError",
    "CcTalkError",
    "CcTalkFrameError",
    "CcTalkNakError",
    "CcTalkNoReplyError",
    "CoinJamError",
    "HopperError",
    "PayoutShortError",
]


class CcTalkError(PaymentDeviceError):
    """A ccTalk device failed or answered outside the protocol."""


class CcTalkFrameError(CcTalkError):
    """Bytes that do not form a ccTalk frame (short, bad length, bad checksum, bad echo)."""


class CcTalkNoReplyError(CcTalkError, TimeoutError):
    """The device gave no valid reply within the timeout, after the allowed retries."""


class CcTalkNakError(CcTalkError):
    """The device answered NAK (5) or BUSY (6) instead of a reply."""

    def __init__(self, message: str, *, header: int) -> None:
        super().__init__(message)
        self.header = header


class CoinJamError(CcTalkError):
    """The coin acceptor reported a jam (a blocked sensor); ``.code`` is its error code."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


class BillError(CcTalkError):
    """The bill validator reported a fault (jam, fraud) or could not route; ``.code``."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


class HopperError(CcTalkError):
    """A payout hopper paid fewer coins than asked (empty or jammed); ``.unpaid`` coins."""

    def __init__(self, message: str, *, address: int, unpaid: int) -> None:
        super().__init__(message)
        self.address = address
        self.unpaid = unpaid


class PayoutShortError(CcTalkError):
    """The hoppers could not pay an amount in full (empty, jammed); the operator owes the rest."""

    def __init__(self, message: str, *, paid_yen: int, unpaid_yen: int) -> None:
        super().__init__(message)
        self.paid_yen = paid_yen
        self.unpaid_yen = unpaid_yen
