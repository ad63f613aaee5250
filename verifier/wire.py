# SPDX-License-Identifier: Apache-2.0
"""The one place the verifier's enums meet the proto enums: a total table each way.

Why tables and not ``pb.Reason.Value(f"REASON_{name}")``: a name built at
run time fails only when that path runs (a typo, a reason added on one
side); a table is checked when the module loads (one-to-one) and by
``tests/unit/verifier/test_verifier_wire.py`` (every member of both sides is
mapped, except the proto ``..._UNSPECIFIED`` values where nothing maps to
them). The servicer is the only user.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final, Generic, TypeVar

from myna.edge.v1 import verifier_pb2 as pb
from verifier.codes import (
    CertKind,
    Purpose,
    Reason,
    ResetOperation,
    ResetPolicy,
    RevocationSource,
    RevocationStatus,
    TransferState,
    Verdict,
)
from verifier.credentials import CredentialKind

__all__ = [
    "CERT_KINDS",
    "CREDENTIAL_KINDS",
    "PURPOSES",
    "REASONS",
    "REASONS_NOT_ON_THE_WIRE",
    "RESET_OPERATIONS",
    "RESET_POLICIES",
    "REVOCATION_SOURCES",
    "REVOCATION_STATUSES",
    "TRANSFER_STATES",
    "VERDICTS",
    "EnumMap",
]

E = TypeVar("E", bound=enum.Enum)
W = TypeVar("W", bound=int)


class EnumMap(Generic[E, W]):
    """A one-to-one table between a Python enum and a proto enum's values."""

    def __init__(self, python: type[E], table: Mapping[E, W]) -> None:
        """Raises ValueError when ``table`` is not one-to-one."""
        if len(set(table.values())) != len(table):
            raise ValueError(f"{python.__name__}: two members map to one wire value")
        self.python = python
        self._to: dict[E, W] = dict(table)
        self._from: dict[int, E] = {int(w): e for e, w in table.items()}

    def to_wire(self, member: E) -> W:
        """The proto value of ``member``.

        Raises:
            KeyError: ``member`` has no wire value (a test proves none is missing).
        """
        return self._to[member]

    def from_wire(self, value: int) -> E:
        """The member for a proto value (validated first: see ``verifier.validation``).

        Raises:
            ValueError: no member has that value (UNSPECIFIED or unknown).
        """
        try:
            return self._from[value]
        except KeyError:
            raise ValueError(f"no {self.python.__name__} for wire value {value}") from None

    def wire_values(self) -> frozenset[int]:
        """Every proto value that maps to a member."""
        return frozenset(self._from)


# Reason.RESET_FAILED_ON_CARD is an audit reason only: ConfirmReset answers no reason.
REASONS: Final = EnumMap(
    Reason,
    {
        Reason.OK: pb.REASON_OK,
        Reason.NONCE_UNKNOWN: pb.REASON_NONCE_UNKNOWN,
        Reason.NONCE_EXPIRED: pb.REASON_NONCE_EXPIRED,
        Reason.NONCE_REPLAYED: pb.REASON_NONCE_REPLAYED,
        Reason.NONCE_OTHER_TERMINAL: pb.REASON_NONCE_OTHER_TERMINAL,
        Reason.NONCE_WRONG_PURPOSE: pb.REASON_NONCE_WRONG_PURPOSE,
        Reason.CERTIFICATE_MALFORMED: pb.REASON_CERTIFICATE_MALFORMED,
        Reason.CERTIFICATE_UNTRUSTED: pb.REASON_CERTIFICATE_UNTRUSTED,
        Reason.CERTIFICATE_EXPIRED: pb.REASON_CERTIFICATE_EXPIRED,
        Reason.CERTIFICATE_NOT_YET_VALID: pb.REASON_CERTIFICATE_NOT_YET_VALID,
        Reason.CERTIFICATE_REVOKED: pb.REASON_CERTIFICATE_REVOKED,
        Reason.REVOCATION_UNKNOWN: pb.REASON_REVOCATION_UNKNOWN,
        Reason.SIGNATURE_INVALID: pb.REASON_SIGNATURE_INVALID,
        Reason.IDENTITY_PROOF_REQUIRED: pb.REASON_IDENTITY_PROOF_REQUIRED,
        Reason.RESERVATION_NOT_FOUND: pb.REASON_RESERVATION_NOT_FOUND,
        Reason.RESERVATION_EXPIRED: pb.REASON_RESERVATION_EXPIRED,
        Reason.RESERVATION_USED: pb.REASON_RESERVATION_USED,
        Reason.RESERVATION_OTHER_CARD: pb.REASON_RESERVATION_OTHER_CARD,
        Reason.OTP_WRONG: pb.REASON_OTP_WRONG,
        Reason.OTP_REQUIRED: pb.REASON_OTP_REQUIRED,
        Reason.TOO_MANY_ATTEMPTS: pb.REASON_TOO_MANY_ATTEMPTS,
        Reason.ATTESTATION_INVALID: pb.REASON_ATTESTATION_INVALID,
        Reason.CREDENTIAL_NOT_ALLOWED: pb.REASON_CREDENTIAL_NOT_ALLOWED,
    },
)
#: Members deliberately without a wire value (the totality test allows only these).
REASONS_NOT_ON_THE_WIRE: Final = frozenset({Reason.RESET_FAILED_ON_CARD})

VERDICTS: Final = EnumMap(
    Verdict, {Verdict.ACCEPTED: pb.VERDICT_ACCEPTED, Verdict.REJECTED: pb.VERDICT_REJECTED}
)
PURPOSES: Final = EnumMap(
    Purpose,
    {
        Purpose.CARD_VERIFICATION: pb.SESSION_PURPOSE_CARD_VERIFICATION,
        Purpose.PIN_RESET: pb.SESSION_PURPOSE_PIN_RESET,
        Purpose.TRANSFER: pb.SESSION_PURPOSE_TRANSFER,
    },
)
CERT_KINDS: Final = EnumMap(
    CertKind,
    {
        CertKind.AUTH: pb.CERTIFICATE_KIND_AUTHENTICATION,
        CertKind.SIGN: pb.CERTIFICATE_KIND_SIGNING,
    },
)
# Unknown (None in the domain) is UNSPECIFIED on the wire, both ways.
CREDENTIAL_KINDS: Final = EnumMap(
    CredentialKind,
    {
        CredentialKind.CARD: pb.CREDENTIAL_DEVICE_CARD,
        CredentialKind.ANDROID: pb.CREDENTIAL_DEVICE_ANDROID,
        CredentialKind.IPHONE: pb.CREDENTIAL_DEVICE_IPHONE,
        CredentialKind.MOBILE: pb.CREDENTIAL_DEVICE_MOBILE,
    },
)
REVOCATION_STATUSES: Final = EnumMap(
    RevocationStatus,
    {
        RevocationStatus.GOOD: pb.REVOCATION_STATUS_GOOD,
        RevocationStatus.REVOKED: pb.REVOCATION_STATUS_REVOKED,
        RevocationStatus.UNKNOWN: pb.REVOCATION_STATUS_UNKNOWN,
    },
)
# NONE is on the wire as UNSPECIFIED: "no source decided" is a meaningful answer.
REVOCATION_SOURCES: Final = EnumMap(
    RevocationSource,
    {
        RevocationSource.NONE: pb.REVOCATION_SOURCE_UNSPECIFIED,
        RevocationSource.OCSP: pb.REVOCATION_SOURCE_OCSP,
        RevocationSource.CRL: pb.REVOCATION_SOURCE_CRL,
    },
)
TRANSFER_STATES: Final = EnumMap(
    TransferState,
    {
        TransferState.AUTHORIZED: pb.TRANSFER_STATE_AUTHORIZED,
        TransferState.COMMITTED: pb.TRANSFER_STATE_COMMITTED,
        TransferState.REVERSED: pb.TRANSFER_STATE_REVERSED,
        TransferState.EXPIRED: pb.TRANSFER_STATE_EXPIRED,
    },
)
RESET_OPERATIONS: Final = EnumMap(
    ResetOperation,
    {
        ResetOperation.SIGNING_PASSWORD: pb.RESET_OPERATION_SIGNING_PASSWORD,
        ResetOperation.AUTHENTICATION_PIN: pb.RESET_OPERATION_AUTHENTICATION_PIN,
    },
)
RESET_POLICIES: Final = EnumMap(
    ResetPolicy,
    {
        ResetPolicy.OTP: pb.RESET_POLICY_OTP,
        ResetPolicy.RESERVATION_ONLY: pb.RESET_POLICY_RESERVATION_ONLY,
    },
)
