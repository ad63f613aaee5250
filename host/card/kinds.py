# SPDX-License-Identifier: Apache-2.0
"""Which key: the names callers use, mapped to card files.

Callers say ``KeyKind.AUTH``; only this module knows that the
user-authentication key is EF 0017 of the JPKI AP and its certificate EF 000A
(jpki-card.md §3.1). ``PinKind`` lives with the PIN rules in ``pin_policy``.
"""

from __future__ import annotations

from enum import StrEnum

from host.card import constants as c
from host.card.pin_policy import PinKind

__all__ = ["KeyKind", "PinKind"]


class KeyKind(StrEnum):
    """The two JPKI key pairs and their certificates."""

    AUTH = "auth"  # 利用者証明用: user authentication
    SIGN = "sign"  # 署名用: digital signature, carries the basic four in its SAN

    @property
    def pin(self) -> PinKind:
        """The secret that unlocks this key (and, for SIGN, its certificate)."""
        return PinKind.AUTH if self is KeyKind.AUTH else PinKind.SIGN

    @property
    def key_fid(self) -> int:
        """The private key's EF, selected before COMPUTE DIGITAL SIGNATURE."""
        return c.FID_AUTH_KEY if self is KeyKind.AUTH else c.FID_SIGN_KEY

    @property
    def cert_fid(self) -> int:
        """The holder certificate's EF."""
        return c.FID_AUTH_CERT if self is KeyKind.AUTH else c.FID_SIGN_CERT

    @property
    def ca_cert_fid(self) -> int:
        """The issuing CA certificate's EF."""
        return c.FID_AUTH_CA_CERT if self is KeyKind.AUTH else c.FID_SIGN_CA_CERT

    @property
    def cert_needs_pin(self) -> bool:
        """Whether reading the holder certificate needs the secret (§3.1, JOSC-2)."""
        return self is KeyKind.SIGN
