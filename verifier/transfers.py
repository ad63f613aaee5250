# SPDX-License-Identifier: Apache-2.0
"""The ATM flow: authorise a transfer (the ¥100,000 rule), commit or reverse it once.

Why the rule is data: the threshold comes from ``PolicyConfig`` (inclusive:
amounts *over* it need identity verification, as the Act on Prevention of
Transfer of Criminal Proceeds says), so a regulatory change is a
configuration change, tested at the boundary.

Exactly-once: state moves only by conditional UPDATE (``AUTHORIZED`` ->
``COMMITTED`` or ``REVERSED``). Committing a committed transfer returns the
first commit's result; committing a reversed one is refused; an
authorisation never committed expires and is reversed by ``expire``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp

from myna.edge.v1 import verifier_pb2 as pb
from verifier.canonical import TransferFields, statement_digest
from verifier.core import Core, ProofResult, new_id, to_us
from verifier.errors import NotFoundError, PermissionDeniedError, PreconditionError
from verifier.pki import basic_four
from verifier.storage import Session, Transaction, Transfer

__all__ = ["AuthorizePrecheck", "authorize", "change", "expire", "precheck_authorize"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuthorizePrecheck:
    """What can be decided before the transaction: the proof and the digest."""

    digest: bytes
    needs_proof: bool
    proof: ProofResult | None


def _fields(statement: pb.TransferStatement) -> TransferFields:
    return TransferFields(
        nonce=statement.nonce,
        terminal_id=statement.terminal_id,
        amount_yen=statement.amount_yen,
        payee_bank_code=statement.payee_bank_code,
        payee_branch_code=statement.payee_branch_code,
        payee_account_type=statement.payee_account_type,
        payee_account_number=statement.payee_account_number,
        payee_name=statement.payee_name,
        remitter_name=statement.remitter_name,
        remitter_phone=statement.remitter_phone,
    )


def precheck_authorize(
    core: Core,
    terminal_id: str,
    request: pb.AuthorizeTransferRequest,
    now: dt.datetime,
    *,
    allow_io: bool = True,
) -> AuthorizePrecheck | None:
    """Check the terminal binding and, over the threshold, the identity proof.

    With ``allow_io`` False this never blocks: it returns None when the
    revocation answer is not known without a download (call again in a
    worker thread with ``allow_io`` True, which always answers).

    Raises:
        PermissionDeniedError: the statement names another terminal.
    """
    statement = request.statement
    if statement.terminal_id != terminal_id:
        raise PermissionDeniedError(
            "TERMINAL_MISMATCH", "the statement names another terminal than the caller"
        )
    digest = statement_digest(_fields(statement))
    needs_proof = statement.amount_yen > core.config.policy.transfer_threshold_yen
    proof = None
    if needs_proof and request.HasField("identity_proof"):
        p = request.identity_proof
        if allow_io:
            checked: ProofResult | None = core.check_certificate("sign", p.certificate_der, now)
        else:
            checked = core.check_certificate_cached("sign", p.certificate_der, now)
        if checked is None:
            return None
        proof = core.finish_proof(checked, digest, p.signature)
    return AuthorizePrecheck(digest, needs_proof, proof)


def _timestamp(value_us: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromMicroseconds(value_us)
    return stamp


def authorize(
    core: Core,
    tx: Transaction,
    terminal_id: str,
    request: pb.AuthorizeTransferRequest,
    pre: AuthorizePrecheck,
    now: dt.datetime,
) -> pb.AuthorizeTransferResponse:
    """Decide and record an authorisation (the nonce is consumed unless a proof is missing)."""
    statement = request.statement
    session: Session | None = tx.get_session(request.session_id)
    reason = core.nonce_reason(session, terminal_id, pb.SESSION_PURPOSE_TRANSFER, now)
    if reason == "OK" and session is not None and session.nonce != statement.nonce:
        reason = "NONCE_UNKNOWN"
    if reason == "OK" and pre.needs_proof and pre.proof is None:
        # Not consumed: the ATM asks the card to sign and retries with this nonce.
        core.audit(tx, terminal_id, "AUTHORIZE_TRANSFER", "IDENTITY_PROOF_REQUIRED")
        return _rejected("IDENTITY_PROOF_REQUIRED")
    if reason == "OK" and not tx.consume_session(request.session_id, to_us(now)):
        reason = "NONCE_REPLAYED"
    proof = pre.proof
    serial = proof.serial_hex if proof is not None else ""
    if reason == "OK" and proof is not None:
        reason = proof.reason
    four = None
    if reason == "OK" and proof is not None and proof.certificate is not None:
        four = basic_four(proof.certificate)
        if four is None:
            reason = "CERTIFICATE_MALFORMED"
    if reason != "OK":
        core.audit(tx, terminal_id, "AUTHORIZE_TRANSFER", reason, serial)
        return _rejected(reason)
    now_us = to_us(now)
    expires_us = now_us + int(core.config.policy.authorization_ttl_seconds * 1_000_000)
    authorization_id = new_id("aut")
    source = proof.source if proof is not None else pb.REVOCATION_SOURCE_UNSPECIFIED
    tx.insert_transfer(
        Transfer(
            authorization_id,
            terminal_id,
            statement.amount_yen,
            pre.digest,
            pb.TRANSFER_STATE_AUTHORIZED,
            four is not None,
            serial,
            source,
            now_us,
            expires_us,
        )
    )
    response = pb.AuthorizeTransferResponse(
        verdict=pb.VERDICT_ACCEPTED,
        reason=pb.REASON_OK,
        authorization_id=authorization_id,
        expire_time=_timestamp(expires_us),
        identity_verified=four is not None,
    )
    if four is not None:
        tx.insert_identity(
            authorization_id,
            serial,
            (four.name, four.address, four.birth_date, four.gender),
            source,
            now_us,
        )
        response.identity.CopyFrom(
            pb.VerifiedIdentity(
                name=four.name,
                address=four.address,
                birth_date=four.birth_date,
                gender=four.gender,
                certificate_serial=serial,
                revocation_source=source,  # type: ignore[arg-type]
            )
        )
    core.audit(tx, terminal_id, "AUTHORIZE_TRANSFER", "OK", serial, authorization_id)
    return response


def _rejected(reason: str) -> pb.AuthorizeTransferResponse:
    return pb.AuthorizeTransferResponse(
        verdict=pb.VERDICT_REJECTED,
        reason=pb.Reason.Value(f"REASON_{reason}"),
    )


def change(
    core: Core, tx: Transaction, terminal_id: str, authorization_id: str, target: int
) -> tuple[int, int]:
    """Commit or reverse (``target``) an authorisation exactly once.

    Returns the final state and when it was reached. A repeat of the same
    change returns the first one's result.

    Raises:
        NotFoundError: no such authorisation.
        PermissionDeniedError: it belongs to another terminal.
        PreconditionError: committed already (for a reversal), reversed
            already (for a commit), or expired (and now reversed).
    """
    action = "COMMIT_TRANSFER" if target == pb.TRANSFER_STATE_COMMITTED else "REVERSE_TRANSFER"
    transfer = tx.get_transfer(authorization_id)
    if transfer is None:
        raise NotFoundError("AUTHORIZATION_NOT_FOUND", "no such authorisation")
    if transfer.terminal_id != terminal_id:
        raise PermissionDeniedError("TERMINAL_MISMATCH", "the authorisation is another terminal's")
    now_us = to_us(core.now())
    if transfer.state == pb.TRANSFER_STATE_AUTHORIZED:
        if target == pb.TRANSFER_STATE_COMMITTED and transfer.expires_us <= now_us:
            if tx.change_transfer_state(
                authorization_id, pb.TRANSFER_STATE_AUTHORIZED, pb.TRANSFER_STATE_REVERSED, now_us
            ):
                core.audit(tx, terminal_id, "EXPIRE_TRANSFER", "OK", "", authorization_id)
            raise PreconditionError("AUTHORIZATION_EXPIRED", "the authorisation expired")
        if tx.change_transfer_state(authorization_id, pb.TRANSFER_STATE_AUTHORIZED, target, now_us):
            core.audit(tx, terminal_id, action, "OK", transfer.certificate_serial, authorization_id)
            return target, now_us
        # Lost a race: read what the winner did.
        latest = tx.get_transfer(authorization_id)
        assert latest is not None
        transfer = latest
    if transfer.state == target:
        return target, transfer.changed_us or now_us
    if transfer.state == pb.TRANSFER_STATE_REVERSED:
        raise PreconditionError("TRANSFER_REVERSED", "the transfer was reversed")
    raise PreconditionError("TRANSFER_COMMITTED", "the transfer was committed")


def expire(core: Core, tx: Transaction, limit: int = 100) -> int:
    """Reverse authorisations past their expiry; returns how many."""
    now_us = to_us(core.now())
    done = 0
    for authorization_id in tx.expired_transfers(pb.TRANSFER_STATE_AUTHORIZED, now_us, limit):
        if tx.change_transfer_state(
            authorization_id, pb.TRANSFER_STATE_AUTHORIZED, pb.TRANSFER_STATE_REVERSED, now_us
        ):
            core.audit(tx, "-", "EXPIRE_TRANSFER", "OK", "", authorization_id)
            done += 1
    return done
