# SPDX-License-Identifier: Apache-2.0
"""Requests into domain inputs, domain results into responses: the servicer's edge.

Why one module: the domain (``sessions``, ``readings``, ``resets``,
``transfers``) never sees a proto, and the servicer only validates, calls
and answers; what a field means on each side is written here once, with
the enums crossing through the tables of ``verifier.wire``. Requests reach
these functions validated (``verifier.validation``), so a ``from_wire``
here cannot fail.
"""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from myna.edge.v1 import verifier_pb2 as pb
from verifier import wire
from verifier.canonical import TransferFields
from verifier.readings import Reading
from verifier.resets import Booking, BookingRequest, Redemption, RedemptionRequest
from verifier.revocation import RevocationAnswer
from verifier.sessions import CardProof
from verifier.storage import Session
from verifier.transfers import Authorization, StateChange, TransferRequest

__all__ = [
    "authorization_response",
    "booking_request",
    "booking_response",
    "card_proof",
    "commit_response",
    "opened_response",
    "reading_response",
    "redemption_request",
    "redemption_response",
    "reverse_response",
    "revocation_response",
    "stamp",
    "transfer_request",
]


def stamp(value_us: int) -> Timestamp:
    """A protobuf timestamp from microseconds since the epoch."""
    out = Timestamp()
    out.FromMicroseconds(value_us)
    return out


def card_proof(proof: pb.CardProof) -> CardProof:
    """A card proof as the domain takes it (UNSPECIFIED device: the terminal did not say)."""
    device = proof.credential_device
    presented = wire.CREDENTIAL_KINDS.from_wire(device) if device else None
    return CardProof(proof.certificate_der, proof.signature, presented)


def opened_response(session: Session) -> pb.OpenSessionResponse:
    """OpenSession's answer."""
    return pb.OpenSessionResponse(
        session_id=session.session_id, nonce=session.nonce, expire_time=stamp(session.expires_us)
    )


def reading_response(reading: Reading) -> pb.VerifyCardResponse:
    """VerifyCard's answer."""
    return pb.VerifyCardResponse(
        verdict=wire.VERDICTS.to_wire(reading.reason.verdict),
        reason=wire.REASONS.to_wire(reading.reason),
        certificate_serial=reading.serial,
        revocation_source=wire.REVOCATION_SOURCES.to_wire(reading.source),
        credential_device=(
            wire.CREDENTIAL_KINDS.to_wire(reading.credential)
            if reading.credential is not None
            else pb.CREDENTIAL_DEVICE_UNSPECIFIED
        ),
    )


def revocation_response(answer: RevocationAnswer) -> pb.CheckRevocationResponse:
    """CheckRevocation's answer."""
    response = pb.CheckRevocationResponse(
        status=wire.REVOCATION_STATUSES.to_wire(answer.status),
        source=wire.REVOCATION_SOURCES.to_wire(answer.source),
    )
    if answer.revocation_time is not None:
        response.revocation_time.FromDatetime(answer.revocation_time)
    if answer.checked_time is not None:
        response.checked_time.FromDatetime(answer.checked_time)
    return response


def transfer_request(request: pb.AuthorizeTransferRequest) -> TransferRequest:
    """An AuthorizeTransfer request as the domain takes it."""
    s = request.statement
    statement = TransferFields(
        nonce=s.nonce,
        terminal_id=s.terminal_id,
        amount_yen=s.amount_yen,
        payee_bank_code=s.payee_bank_code,
        payee_branch_code=s.payee_branch_code,
        payee_account_type=s.payee_account_type,
        payee_account_number=s.payee_account_number,
        payee_name=s.payee_name,
        remitter_name=s.remitter_name,
        remitter_phone=s.remitter_phone,
    )
    proof = card_proof(request.identity_proof) if request.HasField("identity_proof") else None
    return TransferRequest(request.session_id, statement, proof)


def authorization_response(decision: Authorization) -> pb.AuthorizeTransferResponse:
    """AuthorizeTransfer's answer (the identity only when the basic four were verified)."""
    response = pb.AuthorizeTransferResponse(
        verdict=wire.VERDICTS.to_wire(decision.reason.verdict),
        reason=wire.REASONS.to_wire(decision.reason),
    )
    if not decision.authorization_id:
        return response
    response.authorization_id = decision.authorization_id
    response.expire_time.CopyFrom(stamp(decision.expires_us))
    response.identity_verified = decision.identity is not None
    four = decision.identity
    if four is not None:
        response.identity.CopyFrom(
            pb.VerifiedIdentity(
                name=four.name,
                address=four.address,
                birth_date=four.birth_date,
                gender=four.gender,
                certificate_serial=decision.serial,
                revocation_source=wire.REVOCATION_SOURCES.to_wire(decision.source),
            )
        )
    return response


def commit_response(change: StateChange) -> pb.CommitTransferResponse:
    """CommitTransfer's answer (``late``: committed after the authorisation expired)."""
    state = wire.TRANSFER_STATES.to_wire(change.state)
    return pb.CommitTransferResponse(state=state, commit_time=stamp(change.at_us), late=change.late)


def reverse_response(change: StateChange) -> pb.ReverseTransferResponse:
    """ReverseTransfer's answer."""
    state = wire.TRANSFER_STATES.to_wire(change.state)
    return pb.ReverseTransferResponse(state=state, reverse_time=stamp(change.at_us))


def booking_request(request: pb.ReserveResetRequest) -> BookingRequest:
    """A ReserveReset request as the domain takes it."""
    return BookingRequest(
        session_id=request.session_id,
        operation=wire.RESET_OPERATIONS.from_wire(request.operation),
        proof=card_proof(request.proof),
        face_match_signature=request.face_match.signature,
    )


def booking_response(booking: Booking) -> pb.ReserveResetResponse:
    """ReserveReset's answer, without the OTP (added after the commit, never stored)."""
    response = pb.ReserveResetResponse(
        verdict=wire.VERDICTS.to_wire(booking.reason.verdict),
        reason=wire.REASONS.to_wire(booking.reason),
    )
    if booking.policy is not None:
        response.reservation_id = booking.reservation_id
        response.policy = wire.RESET_POLICIES.to_wire(booking.policy)
        response.expire_time.FromMicroseconds(booking.expires_us)
    return response


def redemption_request(request: pb.RedeemResetRequest) -> RedemptionRequest:
    """A RedeemReset request as the domain takes it."""
    return RedemptionRequest(
        session_id=request.session_id,
        operation=wire.RESET_OPERATIONS.from_wire(request.operation),
        proof=card_proof(request.proof),
        card_id=request.card_id,
        card_challenge=request.card_challenge,
        one_time_password=request.one_time_password,
    )


def redemption_response(redemption: Redemption) -> pb.RedeemResetResponse:
    """RedeemReset's answer."""
    return pb.RedeemResetResponse(
        verdict=wire.VERDICTS.to_wire(redemption.reason.verdict),
        reason=wire.REASONS.to_wire(redemption.reason),
        reservation_id=redemption.reservation_id,
        issuer_authorization=redemption.issuer_authorization,
        attempts_left=redemption.attempts_left,
    )
