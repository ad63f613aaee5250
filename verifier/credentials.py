# SPDX-License-Identifier: Apache-2.0
"""What carries a JPKI credential (card, Android, iPhone) and where each may be used.

Why the verifier decides the kind from the issuing CA: a terminal is a
client; what it says it detected is recorded beside the verifier's finding
(forensics: a terminal claiming "card" for a phone certificate stands out),
never trusted. Smartphone certificates chain to issuing CAs of their own
(UNCONFIRMED for real JPKI; the test PKI's ``hw_sim.pki.mobile``), so the
CA tells a card from a phone. Whether it also tells Android from iPhone
depends on the PKI: the test PKI has one smartphone CA pair for both
(``MOBILE``: "a phone, platform not named by its CA"); a trust folder may
also hold ``android/`` and ``iphone/`` CAs, whose certificates are then
``ANDROID`` and ``IPHONE`` (``verifier.pki.TrustStore.from_folder``).

Why a policy per operation: phones carry the same certificates for the
same purposes, but not every service may take them. A PIN reset never
accepts a phone: a phone's PIN and password are set and reset on the phone
(issue 15), and the issuer key that authorises a card reset means nothing
to a phone's secure element, so the configuration refuses phones for
``reset`` outright. A ``MOBILE`` credential is accepted only where both
phone platforms are, since its platform cannot be proven. ``Core.screen``
applies the policy to a checked certificate.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

__all__ = [
    "DEFAULT_ALLOWED",
    "PHONE_KINDS",
    "CredentialKind",
    "CredentialPolicy",
    "Operation",
]


class CredentialKind(enum.StrEnum):
    """What carries a certificate, as the verifier derives it (stored by value)."""

    CARD = "card"
    #: A smartphone whose platform its CA does not name (the test PKI's mobile CAs).
    MOBILE = "mobile"
    ANDROID = "android"
    IPHONE = "iphone"

    @property
    def is_phone(self) -> bool:
        """Whether a smartphone carries it."""
        return self is not CredentialKind.CARD


#: The kinds a policy lists for phones (``MOBILE`` follows both, see module doc).
PHONE_KINDS: Final = frozenset({CredentialKind.ANDROID, CredentialKind.IPHONE})


class Operation(enum.StrEnum):
    """The operations a credential policy names (the ``[credentials]`` keys)."""

    READING = "reading"
    TRANSFER = "transfer"
    RESET = "reset"
    ISSUANCE = "issuance"


_EVERY: Final = frozenset({CredentialKind.CARD, *PHONE_KINDS})
#: What an operator expects: phones for reading, transfers and issuance, never resets.
DEFAULT_ALLOWED: Final = {
    Operation.READING: _EVERY,
    Operation.TRANSFER: _EVERY,
    Operation.RESET: frozenset({CredentialKind.CARD}),
    Operation.ISSUANCE: _EVERY,
}


@dataclass(frozen=True)
class CredentialPolicy:
    """Which credential kinds each operation accepts (``[credentials]`` in the file).

    Raises (on construction):
        ValueError: an operation accepts nothing, lists ``mobile`` (it is
            derived, never listed), or ``reset`` accepts a phone.
    """

    reading: frozenset[CredentialKind] = DEFAULT_ALLOWED[Operation.READING]
    transfer: frozenset[CredentialKind] = DEFAULT_ALLOWED[Operation.TRANSFER]
    reset: frozenset[CredentialKind] = DEFAULT_ALLOWED[Operation.RESET]
    issuance: frozenset[CredentialKind] = DEFAULT_ALLOWED[Operation.ISSUANCE]

    def __post_init__(self) -> None:
        for operation in Operation:
            allowed = getattr(self, operation.value)
            if not allowed:
                raise ValueError(f"{operation.value}: accepts no credential kind")
            if CredentialKind.MOBILE in allowed:
                raise ValueError(
                    f"{operation.value}: 'mobile' is derived, not listed "
                    "(list 'android' and 'iphone')"
                )
        if self.reset & PHONE_KINDS:
            raise ValueError(
                "reset: phones cannot be accepted: a phone's PIN and password are "
                "reset on the phone, never at a kiosk"
            )

    def allowed(self, operation: Operation) -> frozenset[CredentialKind]:
        """The kinds ``operation`` accepts."""
        kinds: frozenset[CredentialKind] = getattr(self, operation.value)
        return kinds

    def allows(self, operation: Operation, kind: CredentialKind) -> bool:
        """Whether ``operation`` accepts ``kind`` (``MOBILE``: only if every phone is)."""
        allowed = self.allowed(operation)
        if kind is CredentialKind.MOBILE:
            return allowed >= PHONE_KINDS
        return kind in allowed
