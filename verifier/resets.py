# SPDX-License-Identifier: Apache-2.0
"""The PIN-reset flow: book on the phone, redeem at the kiosk, confirm.

Why two policies: the 2020 plan had the user type a one-time password at
the kiosk; the service as deployed books a 24-hour reservation and the card
plus the other secret are enough (jpki-card.md §8.1). Both are supported,
chosen by ``policy.reset_policy`` when the reservation is made.

"Same card" is the certificate that proved the booking: its SHA-256 names
the reservation, and redemption must prove the same key again, over a fresh
nonce that also binds the card id and the card's own challenge. The service
returns an issuer authorisation (``verifier.issuer``); the new secret never
reaches the service.

Why the rule holds whatever key proves (issue 22): the booking, the proving
certificate and the authorised card id must be one card. With the
authentication key the service checks it directly (the card id is derived
from that certificate: RESERVATION_OTHER_CARD otherwise). With the signing
key it cannot, since a signing certificate names no card id; so the
authorisation covers SHA-256 of the proving certificate and the card checks
it against its own certificate of that key: an authorisation obtained with
card A's signing key is refused by card B. The audit log names the card id
the authorisation is for.

Why phones are refused (issue 15): a smartphone's JPKI PIN and password are
set and reset on the phone, and the issuer authorisation is for a card's
issuer key, so both reserve and redeem screen the proving certificate with
the ``reset`` policy (``verifier.credentials``; the configuration cannot
let a phone through). The refusal is CREDENTIAL_NOT_ALLOWED, audited with
the kind the certificate's CA tells and the kind the terminal claimed.

Everything here works on ``Core`` and a storage transaction: no gRPC type.
The servicer checks the proving certificate before the transaction (it may
download a CRL) and adds the OTP to the answer after the commit (it is
derived, never stored, not even in the idempotency record).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from verifier import issuer
from verifier.canonical import encode
from verifier.codes import (
    AuditAction,
    CertKind,
    ErrorReason,
    Purpose,
    Reason,
    ReservationState,
    ResetOperation,
    ResetPolicy,
)
from verifier.core import Core, ProofResult, fingerprint, new_id, to_us
from verifier.credentials import Operation
from verifier.errors import NotFoundError, PermissionDeniedError, PreconditionError
from verifier.sessions import CardProof, use_session
from verifier.storage import Reservation, Transaction

__all__ = [
    "FACE_MATCH_DOMAIN",
    "PROOF_KIND",
    "Booking",
    "BookingRequest",
    "Redemption",
    "RedemptionRequest",
    "confirm",
    "face_match_bytes",
    "master_key",
    "one_time_password",
    "redeem",
    "reserve",
]

FACE_MATCH_DOMAIN: Final = "MYNA-EDGE/FACE-MATCH/1"
#: The key that proves the card for each operation: the *other* secret's key.
PROOF_KIND: Final = {
    ResetOperation.SIGNING_PASSWORD: CertKind.AUTH,
    ResetOperation.AUTHENTICATION_PIN: CertKind.SIGN,
}
#: ``policy.reset_policy`` in the configuration file, as a policy.
_POLICIES: Final = {"otp": ResetPolicy.OTP, "reservation_only": ResetPolicy.RESERVATION_ONLY}


@dataclass(frozen=True)
class BookingRequest:
    """A reset booking from the phone: the card proof over the session and the face match."""

    session_id: str
    operation: ResetOperation
    proof: CardProof
    face_match_signature: bytes


@dataclass(frozen=True)
class Booking:
    """A booking decision (``reservation_id`` and ``policy`` only when accepted)."""

    reason: Reason
    reservation_id: str = ""
    policy: ResetPolicy | None = None
    expires_us: int = 0


@dataclass(frozen=True)
class RedemptionRequest:
    """A redemption at the kiosk: the card proves again, bound to its id and challenge."""

    session_id: str
    operation: ResetOperation
    proof: CardProof
    card_id: bytes
    card_challenge: bytes
    one_time_password: str = ""

    def __repr__(self) -> str:
        # The OTP typed at the kiosk is a secret (DESIGN invariants).
        return f"RedemptionRequest(session_id={self.session_id!r}, operation={self.operation!r})"


@dataclass(frozen=True)
class Redemption:
    """A redemption decision; the issuer authorisation only when accepted."""

    reason: Reason
    attempts_left: int = 0
    reservation_id: str = ""
    issuer_authorization: bytes = b""


def face_match_bytes(certificate_der: bytes, nonce: bytes) -> bytes:
    """What the face-authentication provider signs for one booking."""
    return encode(FACE_MATCH_DOMAIN, [(1, fingerprint(certificate_der)), (2, nonce)])


def master_key(core: Core) -> bytes:
    """The issuer master key.

    Raises:
        PreconditionError: none is configured (RESET_NOT_CONFIGURED).
    """
    key = core.issuer_master_key
    if key is None:
        raise PreconditionError(
            ErrorReason.RESET_NOT_CONFIGURED, "no issuer master key is configured"
        )
    return key


def one_time_password(core: Core, reservation_id: str) -> str:
    """The OTP of a booking (derived from the master key, never stored).

    Raises:
        PreconditionError: no issuer master key is configured.
    """
    return issuer.one_time_password(master_key(core), reservation_id)


def _face_ok(core: Core, request: BookingRequest, nonce: bytes) -> bool:
    key = core.face_provider_key
    if key is None:
        return False
    data = face_match_bytes(request.proof.certificate_der, nonce)
    try:
        key.verify(request.face_match_signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def reserve(
    core: Core, tx: Transaction, terminal_id: str, request: BookingRequest, checked: ProofResult
) -> Booking:
    """Book a reset after checking the card proof and the face-match attestation.

    ``checked``: the check of the certificate of ``PROOF_KIND[operation]``.
    """
    policy = _POLICIES[core.config.policy.reset_policy]
    checked = core.screen(Operation.RESET, checked)
    credential, claimed = checked.credential, request.proof.presented
    used = use_session(
        core,
        tx,
        session_id=request.session_id,
        terminal_id=terminal_id,
        purpose=Purpose.PIN_RESET,
        checked=checked,
        signature=request.proof.signature,
    )
    reason = used.reason
    session = used.session
    if reason is Reason.OK and session is not None and not _face_ok(core, request, session.nonce):
        reason = Reason.ATTESTATION_INVALID
    action = AuditAction.RESERVE_RESET
    if reason is not Reason.OK:
        core.audit(
            tx,
            action,
            reason,
            terminal_id=terminal_id,
            serial=used.serial,
            credential=credential,
            claimed=claimed,
        )
        return Booking(reason)
    now_us = to_us(core.now())
    expires_us = now_us + int(core.config.policy.reservation_ttl_seconds * 1_000_000)
    reservation = Reservation(
        reservation_id=new_id("res"),
        terminal_id=terminal_id,
        operation=request.operation,
        policy=policy,
        certificate_fingerprint=fingerprint(request.proof.certificate_der),
        certificate_serial=used.serial,
        otp_hash=None,
        attempts_left=core.config.policy.otp_max_attempts,
        state=ReservationState.BOOKED,
        created_us=now_us,
        expires_us=expires_us,
    )
    tx.insert_reservation(reservation)
    core.audit(
        tx,
        action,
        Reason.OK,
        terminal_id=terminal_id,
        serial=used.serial,
        subject_id=reservation.reservation_id,
        credential=credential,
        claimed=claimed,
    )
    return Booking(Reason.OK, reservation.reservation_id, policy, expires_us)


def _reservation_reason(found: Reservation | None, now_us: int) -> Reason:
    if found is None:
        return Reason.RESERVATION_NOT_FOUND
    if found.state is ReservationState.FAILED or found.attempts_left <= 0:
        return Reason.TOO_MANY_ATTEMPTS
    if found.state is not ReservationState.BOOKED:
        return Reason.RESERVATION_USED
    if found.expires_us <= now_us:
        return Reason.RESERVATION_EXPIRED
    return Reason.OK


def _otp_reason(
    core: Core, tx: Transaction, found: Reservation, typed: str, now_us: int
) -> tuple[Reason, int]:
    """Check the OTP of an OTP booking; a wrong one costs an attempt (FAILED at zero)."""
    attempts = found.attempts_left
    expected = issuer.one_time_password(master_key(core), found.reservation_id)
    if not typed:
        return Reason.OTP_REQUIRED, attempts
    if hmac.compare_digest(expected, typed):
        return Reason.OK, attempts
    attempts -= 1
    state = ReservationState.BOOKED if attempts > 0 else ReservationState.FAILED
    tx.update_reservation(found.reservation_id, ReservationState.BOOKED, state, attempts, now_us)
    return (Reason.OTP_WRONG if attempts > 0 else Reason.TOO_MANY_ATTEMPTS), attempts


def redeem(
    core: Core,
    tx: Transaction,
    terminal_id: str,
    request: RedemptionRequest,
    checked: ProofResult,
) -> Redemption:
    """Check the card again, the reservation and the OTP; return the issuer authorisation.

    ``checked``: the check of the certificate of ``PROOF_KIND[operation]``.
    """
    master = master_key(core)
    der = request.proof.certificate_der
    checked = core.screen(Operation.RESET, checked)
    credential, claimed = checked.credential, request.proof.presented
    used = use_session(
        core,
        tx,
        session_id=request.session_id,
        terminal_id=terminal_id,
        purpose=Purpose.PIN_RESET,
        checked=checked,
        signature=request.proof.signature,
        bound=(request.card_id, request.card_challenge),
    )
    now_us = to_us(core.now())
    reason = used.reason
    by_auth_key = PROOF_KIND[request.operation] is CertKind.AUTH
    if (
        reason is Reason.OK
        and by_auth_key
        and not hmac.compare_digest(issuer.card_id(der), request.card_id)
    ):
        reason = Reason.RESERVATION_OTHER_CARD
    found = None
    if reason is Reason.OK:
        found = tx.find_reservation(fingerprint(der), request.operation)
        reason = _reservation_reason(found, now_us)
    attempts = found.attempts_left if found is not None else 0
    if reason is Reason.OK and found is not None and found.policy is ResetPolicy.OTP:
        reason, attempts = _otp_reason(core, tx, found, request.one_time_password, now_us)
    target = request.card_id.hex()  # the card the authorisation is (or would be) for
    action = AuditAction.REDEEM_RESET
    if reason is not Reason.OK or found is None:
        core.audit(
            tx,
            action,
            reason,
            terminal_id=terminal_id,
            serial=used.serial,
            card_id=target,
            credential=credential,
            claimed=claimed,
        )
        return Redemption(reason, max(attempts, 0))
    tx.update_reservation(
        found.reservation_id,
        ReservationState.BOOKED,
        ReservationState.REDEEMED,
        attempts,
        now_us,
        redeemed_by=terminal_id,
    )
    core.audit(
        tx,
        action,
        Reason.OK,
        terminal_id=terminal_id,
        serial=used.serial,
        subject_id=found.reservation_id,
        card_id=target,
        credential=credential,
        claimed=claimed,
    )
    authorization = issuer.issuer_authorization(
        master,
        request.card_id,
        request.card_challenge,
        int(request.operation),
        proof_certificate_der=der,
    )
    return Redemption(Reason.OK, attempts, found.reservation_id, authorization)


def confirm(
    core: Core, tx: Transaction, *, terminal_id: str, reservation_id: str, succeeded: bool
) -> None:
    """Record whether the card accepted the reset.

    Raises:
        NotFoundError: no such reservation.
        PermissionDeniedError: another terminal redeemed it.
        PreconditionError: it is not redeemed (or was confirmed already).
    """
    found = tx.get_reservation(reservation_id)
    if found is None:
        raise NotFoundError(ErrorReason.RESERVATION_NOT_FOUND, "no such reservation")
    if found.redeemed_by is not None and found.redeemed_by != terminal_id:
        raise PermissionDeniedError(
            ErrorReason.TERMINAL_MISMATCH, "the reservation was redeemed by another terminal"
        )
    state = ReservationState.CONFIRMED if succeeded else ReservationState.FAILED
    if not tx.update_reservation(
        found.reservation_id,
        ReservationState.REDEEMED,
        state,
        found.attempts_left,
        to_us(core.now()),
    ):
        raise PreconditionError(
            ErrorReason.RESERVATION_NOT_REDEEMED, "the reservation is not redeemed"
        )
    reason = Reason.OK if succeeded else Reason.RESET_FAILED_ON_CARD
    core.audit(
        tx,
        AuditAction.CONFIRM_RESET,
        reason,
        terminal_id=terminal_id,
        serial=found.certificate_serial,
        subject_id=found.reservation_id,
    )
