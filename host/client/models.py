# SPDX-License-Identifier: Apache-2.0
"""Plain values the verifier client returns, so flows never see gRPC types.

STYLE §1: flows sit above the client and must not import protobuf or grpc.
Every answer of ``VerifierService`` becomes a frozen dataclass of builtins
here; enums are ``StrEnum`` carrying the proto value names without their
prefix (``Reason.CERTIFICATE_REVOKED``), so logs and journals stay readable.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from host.card.detection import CredentialKind

__all__ = [
    "AccountType",
    "Authorization",
    "CardProof",
    "CardVerdict",
    "Redemption",
    "ResetOperation",
    "RevocationSource",
    "SessionPurpose",
    "TransferState",
    "TransferStatus",
    "VerifiedIdentity",
    "VerifierSession",
]


class SessionPurpose(StrEnum):
    """What a verifier session (and its nonce) is for."""

    CARD_VERIFICATION = "CARD_VERIFICATION"
    PIN_RESET = "PIN_RESET"
    TRANSFER = "TRANSFER"


class AccountType(StrEnum):
    """Japanese bank account types; ``code`` is the 全銀 number the card signs."""

    ORDINARY = "ORDINARY"
    CURRENT = "CURRENT"
    SAVINGS = "SAVINGS"

    @property
    def code(self) -> int:
        """The 全銀 account-type code (1, 2 or 4)."""
        return {"ORDINARY": 1, "CURRENT": 2, "SAVINGS": 4}[self.value]


class ResetOperation(StrEnum):
    """Which JPKI secret a PIN reset replaces (the other one proves the card)."""

    SIGNING_PASSWORD = "SIGNING_PASSWORD"  # noqa: S105 - an operation name, not a secret
    AUTHENTICATION_PIN = "AUTHENTICATION_PIN"


class RevocationSource(StrEnum):
    """Where the verifier's revocation answer came from."""

    UNSPECIFIED = "UNSPECIFIED"
    OCSP = "OCSP"
    CRL = "CRL"


class TransferState(StrEnum):
    """State of an authorised transfer at the verifier."""

    UNSPECIFIED = "UNSPECIFIED"
    AUTHORIZED = "AUTHORIZED"
    COMMITTED = "COMMITTED"
    REVERSED = "REVERSED"
    #: The TTL passed unsettled and the hold was released; the terminal may still
    #: commit it late or reverse it. Commit and reverse never answer it.
    EXPIRED = "EXPIRED"


@dataclass(frozen=True)
class CardProof:
    """A card's certificate (DER) and its RSA signature over a challenge.

    ``presented``: what the terminal detected (card, Android, iPhone; None when
    unknown, e.g. a proof rebuilt from the journal). The verifier audits it
    beside what the issuing CA says and never trusts it.
    """

    certificate_der: bytes
    signature: bytes
    presented: CredentialKind | None = None

    def __repr__(self) -> str:
        return f"CardProof(<{len(self.certificate_der)}-byte cert>, <signature>)"


@dataclass(frozen=True)
class VerifierSession:
    """An open session: its id and the single-use server nonce."""

    session_id: str
    nonce: bytes
    expire_time: dt.datetime | None


@dataclass(frozen=True)
class CardVerdict:
    """The verifier's answer to VerifyCard."""

    accepted: bool
    reason: str
    certificate_serial: str
    revocation_source: RevocationSource


@dataclass(frozen=True)
class VerifiedIdentity:
    """The basic four items the verifier took from the signing certificate."""

    name: str
    address: str
    birth_date: str
    gender: str
    certificate_serial: str
    revocation_source: RevocationSource

    def __repr__(self) -> str:
        # Personal data stays out of reprs (STYLE §7); the serial is enough.
        return f"VerifiedIdentity(serial={self.certificate_serial!r}, <redacted>)"


@dataclass(frozen=True)
class Authorization:
    """The verifier's answer to AuthorizeTransfer."""

    accepted: bool
    reason: str
    authorization_id: str
    expire_time: dt.datetime | None
    identity_verified: bool
    identity: VerifiedIdentity | None


@dataclass(frozen=True)
class TransferStatus:
    """The verifier's answer to CommitTransfer or ReverseTransfer.

    ``late``: committed after the authorisation expired (a late completion the
    bank's operators reconcile); the e-journal line says so.
    """

    state: TransferState
    time: dt.datetime | None
    late: bool = False


@dataclass(frozen=True)
class Redemption:
    """The verifier's answer to RedeemReset."""

    accepted: bool
    reason: str
    reservation_id: str
    issuer_authorization: bytes
    attempts_left: int

    def __repr__(self) -> str:
        return (
            f"Redemption(accepted={self.accepted}, reason={self.reason!r}, "
            f"reservation_id={self.reservation_id!r}, attempts_left={self.attempts_left})"
        )
