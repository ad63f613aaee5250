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
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from myna.edge.v1 import verifier_pb2 as pb
from verifier import issuer
from verifier import validation as v
from verifier.canonical import card_challenge_digest, encode
from verifier.core import fingerprint, new_id, to_us
from verifier.errors import (
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionError,
)
from verifier.storage import Reservation, Transaction

if TYPE_CHECKING:
    from verifier.service import VerifierServicer

__all__ = [
    "FACE_MATCH_DOMAIN",
    "PROOF_KIND",
    "confirm",
    "face_match_bytes",
    "redeem",
    "reserve",
    "validate_confirm",
    "validate_redeem",
    "validate_reserve",
]

FACE_MATCH_DOMAIN: Final = "MYNA-EDGE/FACE-MATCH/1"
#: The key that proves the card for each operation: the *other* secret's key.
PROOF_KIND: Final = {
    pb.RESET_OPERATION_SIGNING_PASSWORD: "auth",
    pb.RESET_OPERATION_AUTHENTICATION_PIN: "sign",
}
_POLICIES: Final = {
    "otp": pb.RESET_POLICY_OTP,
    "reservation_only": pb.RESET_POLICY_RESERVATION_ONLY,
}


def face_match_bytes(certificate_der: bytes, nonce: bytes) -> bytes:
    """What the face-authentication provider signs for one booking."""
    return encode(FACE_MATCH_DOMAIN, [(1, fingerprint(certificate_der)), (2, nonce)])


def validate_reserve(request: pb.ReserveResetRequest) -> None:
    """Field checks for ReserveReset."""
    v.check_idempotency_key(request.idempotency_key)
    v.check_id(request.session_id, "session_id", "ses")
    v.check_terminal_id(request.terminal_id)
    v.check_enum(request.operation, pb.ResetOperation, "operation")
    v.check_proof(request.proof, "proof")
    if len(request.face_match.signature) != v.SIGNATURE_BYTES:
        raise InvalidRequestError("face_match.signature", "exactly 256 bytes")


def validate_redeem(request: pb.RedeemResetRequest) -> None:
    """Field checks for RedeemReset."""
    v.check_idempotency_key(request.idempotency_key)
    v.check_id(request.session_id, "session_id", "ses")
    v.check_terminal_id(request.terminal_id)
    v.check_enum(request.operation, pb.ResetOperation, "operation")
    v.check_proof(request.proof, "proof")
    otp = request.one_time_password
    if otp and (len(otp) != 8 or not otp.isascii() or not otp.isdigit()):
        raise InvalidRequestError("one_time_password", "8 ASCII digits")
    if len(request.card_challenge) != issuer.CARD_CHALLENGE_BYTES:
        raise InvalidRequestError("card_challenge", "exactly 8 bytes")
    if len(request.card_id) != issuer.CARD_ID_BYTES:
        raise InvalidRequestError("card_id", "exactly 16 bytes")


def validate_confirm(request: pb.ConfirmResetRequest) -> None:
    """Field checks for ConfirmReset."""
    v.check_idempotency_key(request.idempotency_key)
    v.check_id(request.reservation_id, "reservation_id", "res")
    v.check_terminal_id(request.terminal_id)


def _master(servicer: VerifierServicer) -> bytes:
    key = servicer.core.issuer_master_key
    if key is None:
        raise PreconditionError("RESET_NOT_CONFIGURED", "no issuer master key is configured")
    return key


def _check_terminal(terminal: str, claimed: str) -> None:
    if claimed != terminal:
        raise PermissionDeniedError(
            "TERMINAL_MISMATCH", "terminal_id does not match the client certificate"
        )


def reserve(
    servicer: VerifierServicer, terminal: str, request: pb.ReserveResetRequest
) -> pb.ReserveResetResponse:
    """Book a reset after checking the card proof and the face-match attestation."""
    _check_terminal(terminal, request.terminal_id)
    core = servicer.core
    master = _master(servicer)
    kind = PROOF_KIND[request.operation]
    purpose = pb.SESSION_PURPOSE_PIN_RESET
    proof = servicer._session_proof(terminal, request.session_id, purpose, kind, request.proof)
    policy = _POLICIES[core.config.policy.reset_policy]

    def work(tx: Transaction) -> pb.ReserveResetResponse:
        now = core.now()
        session = tx.get_session(request.session_id)
        reason = core.nonce_reason(session, terminal, purpose, now)
        if reason == "OK":
            tx.consume_session(request.session_id, to_us(now))
            reason = proof.reason if proof is not None else "NONCE_UNKNOWN"
        if (
            reason == "OK"
            and session is not None
            and not _face_ok(servicer, request, session.nonce)
        ):
            reason = "ATTESTATION_INVALID"
        serial = proof.serial_hex if proof is not None else ""
        if reason != "OK":
            core.audit(tx, terminal, "RESERVE_RESET", reason, serial)
            return pb.ReserveResetResponse(
                verdict=pb.VERDICT_REJECTED, reason=pb.Reason.Value(f"REASON_{reason}")
            )
        now_us = to_us(now)
        expires_us = now_us + int(core.config.policy.reservation_ttl_seconds * 1_000_000)
        reservation = Reservation(
            new_id("res"),
            terminal,
            request.operation,
            policy,
            fingerprint(request.proof.certificate_der),
            serial,
            None,
            core.config.policy.otp_max_attempts,
            "BOOKED",
            now_us,
            expires_us,
        )
        tx.insert_reservation(reservation)
        core.audit(tx, terminal, "RESERVE_RESET", "OK", serial, reservation.reservation_id)
        response = pb.ReserveResetResponse(
            verdict=pb.VERDICT_ACCEPTED,
            reason=pb.REASON_OK,
            reservation_id=reservation.reservation_id,
            policy=policy,
        )
        response.expire_time.FromMicroseconds(expires_us)
        return response

    response = servicer._idempotent(
        terminal, "ReserveReset", request, pb.ReserveResetResponse, work
    )
    # The OTP is derived, never stored (not even in the idempotency record).
    if response.policy == pb.RESET_POLICY_OTP and response.reservation_id:
        response.one_time_password = issuer.one_time_password(master, response.reservation_id)
    return response


def _face_ok(servicer: VerifierServicer, request: pb.ReserveResetRequest, nonce: bytes) -> bool:
    key = servicer.core.face_provider_key
    if key is None:
        return False
    data = face_match_bytes(request.proof.certificate_der, nonce)
    try:
        key.verify(request.face_match.signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def redeem(
    servicer: VerifierServicer, terminal: str, request: pb.RedeemResetRequest
) -> pb.RedeemResetResponse:
    """Check the card again, the reservation and the OTP; return the issuer authorisation."""
    _check_terminal(terminal, request.terminal_id)
    core = servicer.core
    master = _master(servicer)
    kind = PROOF_KIND[request.operation]
    purpose = pb.SESSION_PURPOSE_PIN_RESET
    with core.storage.transaction() as tx:
        session = tx.get_session(request.session_id)
    proof = None
    if session is not None and session.terminal_id == terminal:
        digest = card_challenge_digest(
            "SESSION_PURPOSE_PIN_RESET",
            terminal,
            session.nonce,
            (request.card_id, request.card_challenge),
        )
        proof = core.check_proof(
            kind, request.proof.certificate_der, request.proof.signature, digest, core.now()
        )

    def work(tx: Transaction) -> pb.RedeemResetResponse:
        now = core.now()
        now_us = to_us(now)
        current = tx.get_session(request.session_id)
        reason = core.nonce_reason(current, terminal, purpose, now)
        if reason == "OK":
            tx.consume_session(request.session_id, now_us)
            reason = proof.reason if proof is not None else "NONCE_UNKNOWN"
        serial = proof.serial_hex if proof is not None else ""
        if (
            reason == "OK"
            and kind == "auth"
            and not hmac.compare_digest(
                issuer.card_id(request.proof.certificate_der), request.card_id
            )
        ):
            reason = "RESERVATION_OTHER_CARD"
        found = None
        if reason == "OK":
            found = tx.find_reservation(
                fingerprint(request.proof.certificate_der), request.operation
            )
            reason = _reservation_reason(found, now_us)
        attempts = found.attempts_left if found is not None else 0
        if reason == "OK" and found is not None and found.policy == pb.RESET_POLICY_OTP:
            expected = issuer.one_time_password(master, found.reservation_id)
            if not request.one_time_password:
                reason = "OTP_REQUIRED"
            elif not hmac.compare_digest(expected, request.one_time_password):
                attempts -= 1
                state = "BOOKED" if attempts > 0 else "FAILED"
                tx.update_reservation(found.reservation_id, "BOOKED", state, attempts, now_us)
                reason = "OTP_WRONG" if attempts > 0 else "TOO_MANY_ATTEMPTS"
        target = request.card_id.hex()  # the card the authorisation is (or would be) for
        if reason != "OK" or found is None:
            core.audit(tx, terminal, "REDEEM_RESET", reason, serial, card_id=target)
            return pb.RedeemResetResponse(
                verdict=pb.VERDICT_REJECTED,
                reason=pb.Reason.Value(f"REASON_{reason}"),
                attempts_left=max(attempts, 0),
            )
        tx.update_reservation(
            found.reservation_id, "BOOKED", "REDEEMED", attempts, now_us, redeemed_by=terminal
        )
        core.audit(tx, terminal, "REDEEM_RESET", "OK", serial, found.reservation_id, card_id=target)
        return pb.RedeemResetResponse(
            verdict=pb.VERDICT_ACCEPTED,
            reason=pb.REASON_OK,
            reservation_id=found.reservation_id,
            issuer_authorization=issuer.issuer_authorization(
                master,
                request.card_id,
                request.card_challenge,
                request.operation,
                proof_certificate_der=request.proof.certificate_der,
            ),
            attempts_left=attempts,
        )

    return servicer._idempotent(terminal, "RedeemReset", request, pb.RedeemResetResponse, work)


def _reservation_reason(found: Reservation | None, now_us: int) -> str:
    if found is None:
        return "RESERVATION_NOT_FOUND"
    if found.state == "FAILED" or found.attempts_left <= 0:
        return "TOO_MANY_ATTEMPTS"
    if found.state != "BOOKED":
        return "RESERVATION_USED"
    if found.expires_us <= now_us:
        return "RESERVATION_EXPIRED"
    return "OK"


def confirm(
    servicer: VerifierServicer, terminal: str, request: pb.ConfirmResetRequest
) -> pb.ConfirmResetResponse:
    """Record whether the card accepted the reset."""
    _check_terminal(terminal, request.terminal_id)
    core = servicer.core

    def work(tx: Transaction) -> pb.ConfirmResetResponse:
        found = tx.get_reservation(request.reservation_id)
        if found is None:
            raise NotFoundError("RESERVATION_NOT_FOUND", "no such reservation")
        if found.redeemed_by is not None and found.redeemed_by != terminal:
            raise PermissionDeniedError(
                "TERMINAL_MISMATCH", "the reservation was redeemed by another terminal"
            )
        state = "CONFIRMED" if request.succeeded else "FAILED"
        if not tx.update_reservation(
            found.reservation_id, "REDEEMED", state, found.attempts_left, to_us(core.now())
        ):
            raise PreconditionError("RESERVATION_NOT_REDEEMED", "the reservation is not redeemed")
        reason = "OK" if request.succeeded else "RESET_FAILED_ON_CARD"
        core.audit(
            tx, terminal, "CONFIRM_RESET", reason, found.certificate_serial, found.reservation_id
        )
        return pb.ConfirmResetResponse(recorded=True)

    return servicer._idempotent(terminal, "ConfirmReset", request, pb.ConfirmResetResponse, work)
