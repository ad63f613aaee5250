# SPDX-License-Identifier: Apache-2.0
"""The verifier's codes as Python enums: reasons, states, kinds, purposes, actions.

Why here and not the proto enums: the domain modules (``sessions``,
``readings``, ``resets``, ``transfers``) decide with these and never see the
wire; ``verifier.wire`` maps each one to its proto enum once, by a total
table, at the servicer's edge (STYLE §11, "Strings for codes").

Why these values: each value is what storage already keeps (the schema is
unchanged, and chaos campaigns read it): the audit log stores the reason,
verdict and action *names*, reservations their state name, and the integer
columns (session purpose, transfer state, reservation operation and policy)
the numbers below. Those numbers happen to equal the v1 wire numbers; the
wire still goes through ``verifier.wire``, never through ``int()``.
"""

from __future__ import annotations

import enum

__all__ = [
    "AuditAction",
    "CertKind",
    "ErrorReason",
    "Purpose",
    "Reason",
    "ReservationState",
    "ResetOperation",
    "ResetPolicy",
    "RevocationSource",
    "RevocationStatus",
    "TransferState",
    "Verdict",
]


class Reason(enum.StrEnum):
    """Why a decision went the way it did (``OK`` when accepted)."""

    OK = "OK"
    NONCE_UNKNOWN = "NONCE_UNKNOWN"
    NONCE_EXPIRED = "NONCE_EXPIRED"
    NONCE_REPLAYED = "NONCE_REPLAYED"
    NONCE_OTHER_TERMINAL = "NONCE_OTHER_TERMINAL"
    NONCE_WRONG_PURPOSE = "NONCE_WRONG_PURPOSE"
    CERTIFICATE_MALFORMED = "CERTIFICATE_MALFORMED"
    CERTIFICATE_UNTRUSTED = "CERTIFICATE_UNTRUSTED"
    CERTIFICATE_EXPIRED = "CERTIFICATE_EXPIRED"
    CERTIFICATE_NOT_YET_VALID = "CERTIFICATE_NOT_YET_VALID"
    CERTIFICATE_REVOKED = "CERTIFICATE_REVOKED"
    REVOCATION_UNKNOWN = "REVOCATION_UNKNOWN"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    IDENTITY_PROOF_REQUIRED = "IDENTITY_PROOF_REQUIRED"
    RESERVATION_NOT_FOUND = "RESERVATION_NOT_FOUND"
    RESERVATION_EXPIRED = "RESERVATION_EXPIRED"
    RESERVATION_USED = "RESERVATION_USED"
    RESERVATION_OTHER_CARD = "RESERVATION_OTHER_CARD"
    OTP_WRONG = "OTP_WRONG"
    OTP_REQUIRED = "OTP_REQUIRED"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    ATTESTATION_INVALID = "ATTESTATION_INVALID"
    #: The operation's policy does not take this credential kind (``verifier.credentials``).
    CREDENTIAL_NOT_ALLOWED = "CREDENTIAL_NOT_ALLOWED"
    #: Audit only (ConfirmReset): the card refused the new secret. Not on the wire.
    RESET_FAILED_ON_CARD = "RESET_FAILED_ON_CARD"

    @property
    def verdict(self) -> Verdict:
        """ACCEPTED exactly when the reason is OK."""
        return Verdict.ACCEPTED if self is Reason.OK else Verdict.REJECTED


class Verdict(enum.StrEnum):
    """A decision's outcome (stored by name in the audit log)."""

    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"


class ErrorReason(enum.StrEnum):
    """Why a request is refused as an error (``ErrorInfo.reason``, a string on the wire)."""

    FIELD_INVALID = "FIELD_INVALID"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    NO_TERMINAL_CERTIFICATE = "NO_TERMINAL_CERTIFICATE"
    TERMINAL_MISMATCH = "TERMINAL_MISMATCH"
    TERMINAL_REVOKED = "TERMINAL_REVOKED"
    TERMINAL_DENYLIST_INVALID = "TERMINAL_DENYLIST_INVALID"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"
    AUTHORIZATION_NOT_FOUND = "AUTHORIZATION_NOT_FOUND"
    #: Not raised since late completion (issue 20); kept, clients may know the string.
    AUTHORIZATION_EXPIRED = "AUTHORIZATION_EXPIRED"
    TRANSFER_COMMITTED = "TRANSFER_COMMITTED"
    TRANSFER_REVERSED = "TRANSFER_REVERSED"
    RESET_NOT_CONFIGURED = "RESET_NOT_CONFIGURED"
    RESERVATION_NOT_FOUND = "RESERVATION_NOT_FOUND"
    RESERVATION_NOT_REDEEMED = "RESERVATION_NOT_REDEEMED"


class Purpose(enum.IntEnum):
    """What a session's nonce may be used for (stored as these numbers)."""

    CARD_VERIFICATION = 1
    PIN_RESET = 2
    TRANSFER = 3


class CertKind(enum.StrEnum):
    """The two JPKI holder certificates, as named in files and configuration."""

    AUTH = "auth"
    SIGN = "sign"


class RevocationStatus(enum.StrEnum):
    """What a revocation source said about a serial."""

    GOOD = "GOOD"
    REVOKED = "REVOKED"
    UNKNOWN = "UNKNOWN"


class RevocationSource(enum.StrEnum):
    """Which source decided (``NONE``: none could)."""

    NONE = ""
    OCSP = "OCSP"
    CRL = "CRL"


class TransferState(enum.IntEnum):
    """An authorisation's state (``verifier.transfers``).

    AUTHORIZED -> COMMITTED or REVERSED, or -> EXPIRED when its TTL passes
    unsettled (the hold is released); EXPIRED -> COMMITTED (a late commit:
    the cash moved before the terminal could say so) or REVERSED. COMMITTED
    and REVERSED are final. EXPIRED is 4 in the integer column: no migration.
    """

    AUTHORIZED = 1
    COMMITTED = 2
    REVERSED = 3
    EXPIRED = 4


class ResetOperation(enum.IntEnum):
    """Which secret a PIN reset renews (also the issuer MAC's operation byte)."""

    SIGNING_PASSWORD = 1
    AUTHENTICATION_PIN = 2


class ResetPolicy(enum.IntEnum):
    """How a booking is redeemed: with a one-time password, or the reservation alone."""

    OTP = 1
    RESERVATION_ONLY = 2


class ReservationState(enum.StrEnum):
    """A booking's life: BOOKED -> REDEEMED -> CONFIRMED, or FAILED."""

    BOOKED = "BOOKED"
    REDEEMED = "REDEEMED"
    CONFIRMED = "CONFIRMED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"


class AuditAction(enum.StrEnum):
    """What an audit entry records (stored by name)."""

    VERIFY_CARD = "VERIFY_CARD"
    AUTHORIZE_TRANSFER = "AUTHORIZE_TRANSFER"
    COMMIT_TRANSFER = "COMMIT_TRANSFER"
    REVERSE_TRANSFER = "REVERSE_TRANSFER"
    EXPIRE_TRANSFER = "EXPIRE_TRANSFER"
    #: A commit after the authorisation expired (``transfers.commit``): operators reconcile it.
    LATE_COMMIT_TRANSFER = "LATE_COMMIT_TRANSFER"
    RESERVE_RESET = "RESERVE_RESET"
    REDEEM_RESET = "REDEEM_RESET"
    CONFIRM_RESET = "CONFIRM_RESET"
