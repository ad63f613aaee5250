# SPDX-License-Identifier: Apache-2.0
"""The centre (証明書交付センター): sessions, the card's proof, routing, exactly-once issuance.

Why here and not in the servicer (STYLE §11): every rule is a function of
``Core`` (clock, trust, revocation, storage) and a ``MunicipalPort``, so the
unit tests drive it with a behavioural fake municipality and no server.

The rules (issue 14, "exactly once"):

* a session serves the terminal that opened it, and only after the card
  signed its nonce with the user-authentication key (chain, revocation and
  signature checked as VerifyCard does); the nonce is single-use;
* one RequestDocument (terminal, idempotency key) is one request row, made
  before the municipality is asked, whose id is the municipality's
  idempotency key: a retry, a concurrent duplicate or a retry after a crash
  asks with the same key and gets the same document, never a second one;
  the same key with another body is refused;
* the request is bound to the session, the card's certificate fingerprint,
  the terminal, the serial, the document's SHA-256 and the fee;
* ConfirmPrinted (ISSUED -> CHARGED) and ReportPrintFailure (ISSUED ->
  REFUNDED) are conditional updates: the first wins, the other answers the
  final state; what the municipality must hear goes to the outbox
  (``verifier.issuance_outbox``) in the same transaction;
* a municipality that cannot be reached: MUNICIPALITY_UNAVAILABLE, nothing
  charged, and the outbox voids whatever it may have issued.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.serialization import Encoding

from verifier.codes import CertKind, ErrorReason, Reason
from verifier.core import Core, ProofResult, fingerprint, new_id, to_us
from verifier.errors import (
    IdempotencyConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionError,
    RequestError,
)
from verifier.issuance_codes import (
    DocumentKind,
    ErrorText,
    HouseholdScope,
    IssuanceAction,
    IssuanceRefusal,
    IssuanceState,
    MunicipalRefusal,
    OutboxAction,
    PrintFailure,
)
from verifier.issuance_config import IssuanceConfig
from verifier.issuance_port import (
    DocumentChoice,
    IssueAnswer,
    IssueOrder,
    MunicipalCallError,
    MunicipalityUnavailableError,
    MunicipalPort,
    in_service_hours,
)
from verifier.storage import AuditEntry, Transaction
from verifier.storage.issuance import (
    IssuanceRequest,
    IssuanceSession,
    IssuanceTables,
    OutboxEntry,
)

__all__ = [
    "NONCE_BYTES",
    "PROOF_KIND",
    "DocumentOrder",
    "Opened",
    "PrintOutcome",
    "ProveOutcome",
    "RequestOutcome",
    "audit",
    "challenge_digest",
    "choice_from_text",
    "confirm_printed",
    "issue_order",
    "open_session",
    "prove_card",
    "proven_session",
    "report_failure",
    "request_document",
    "session_refusal",
    "settle_stale",
]

_log = logging.getLogger(__name__)

NONCE_BYTES = 32
_ACCEPTED = frozenset({"OK", *IssuanceState, *OutboxAction})
#: The certificate the card proves with (the signing certificate is not used).
PROOF_KIND = CertKind.AUTH


def challenge_digest(nonce: bytes) -> bytes:
    """What the card signs (RSASSA-PKCS1-v1_5, SHA-256): the digest of the nonce itself.

    The issuance proto says the card signs exactly the nonce; the session
    binds it to one terminal in storage, and a VerifierService challenge
    (whose digest covers a labelled canonical encoding) can never equal it.
    """
    return hashlib.sha256(nonce).digest()


def _error(cls: type[RequestError], text: ErrorText, message: str) -> RequestError:
    error = cls(ErrorReason.FIELD_INVALID, message)
    error.reason = text.value
    return error


def audit(
    core: Core,
    tx: Transaction,
    action: IssuanceAction,
    reason: str,
    *,
    terminal_id: str,
    serial: str = "",
    subject_id: str = "",
) -> None:
    """Append an issuance decision to the audit log (serials and ids only, never a document)."""
    # Accepted: OK, a state reached, a duty delivered; anything else is a refusal.
    verdict = "ACCEPTED" if reason in _ACCEPTED else "REJECTED"
    tx.append_audit(
        AuditEntry(
            at_us=to_us(core.now()),
            terminal_id=terminal_id,
            action=action.value,
            verdict=verdict,
            reason=reason,
            certificate_serial=serial,
            subject_id=subject_id,
        )
    )
    _log.info("%s %s by %s: %s %s %s", action, verdict, terminal_id, reason, serial, subject_id)


# -- sessions and the card's proof -------------------------------------------------
@dataclass(frozen=True)
class Opened:
    """OpenIssuanceSession's answer."""

    refusal: IssuanceRefusal
    session: IssuanceSession | None = None


def open_session(core: Core, tx: Transaction, terminal_id: str) -> Opened:
    """A fresh session with a single-use nonce, or OUTSIDE_SERVICE_HOURS."""
    now = core.now()
    if not _open_now(core):
        return Opened(IssuanceRefusal.OUTSIDE_SERVICE_HOURS)
    ttl_us = int(core.config.policy.nonce_ttl_seconds * 1_000_000)
    session = IssuanceSession(
        session_id=new_id("iss"),
        terminal_id=terminal_id,
        nonce=secrets.token_bytes(NONCE_BYTES),
        expires_us=to_us(now) + ttl_us,
    )
    tx.issuance.insert_session(session)
    audit(
        core,
        tx,
        IssuanceAction.OPEN_ISSUANCE_SESSION,
        "OK",
        terminal_id=terminal_id,
        subject_id=session.session_id,
    )
    return Opened(IssuanceRefusal.NONE, session)


@dataclass(frozen=True)
class ProveOutcome:
    """ProveIssuanceCard's answer: the refusal and, for a card, VerifyCard's reason."""

    refusal: IssuanceRefusal
    reason: Reason


def _nonce_reason(session: IssuanceSession | None, terminal_id: str, now_us: int) -> Reason:
    if session is None:
        return Reason.NONCE_UNKNOWN
    if session.terminal_id != terminal_id:
        return Reason.NONCE_OTHER_TERMINAL
    if session.used_us is not None:
        return Reason.NONCE_REPLAYED
    if session.expires_us <= now_us:
        return Reason.NONCE_EXPIRED
    return Reason.OK


def prove_card(
    core: Core,
    tx: Transaction,
    *,
    terminal_id: str,
    session_id: str,
    checked: ProofResult,
    signature: bytes,
) -> ProveOutcome:
    """Check the card's signature over the nonce; bind the card to the session, once.

    ``checked``: the authentication certificate's chain, validity and
    revocation (``Core.check_certificate``), done before the transaction.
    Another terminal's session is left untouched; a bad proof burns the nonce.
    """
    now_us = to_us(core.now())
    action = IssuanceAction.PROVE_ISSUANCE_CARD
    if not _open_now(core):
        return ProveOutcome(IssuanceRefusal.OUTSIDE_SERVICE_HOURS, Reason.OK)
    session = tx.issuance.get_session(session_id)
    reason = _nonce_reason(session, terminal_id, now_us)
    if reason is not Reason.OK or session is None:
        audit(core, tx, action, reason, terminal_id=terminal_id, subject_id=session_id)
        return ProveOutcome(IssuanceRefusal.SESSION_INVALID, reason)
    proof = core.finish_proof(checked, challenge_digest(session.nonce), signature)
    if not proof.accepted or proof.certificate is None:
        tx.issuance.burn_session(session_id, now_us)
        audit(
            core,
            tx,
            action,
            proof.reason,
            terminal_id=terminal_id,
            serial=proof.serial_hex,
            subject_id=session_id,
        )
        return ProveOutcome(IssuanceRefusal.CARD_REJECTED, proof.reason)
    der = proof.certificate.public_bytes(Encoding.DER)
    ttl_us = int(_issuance(core).session_ttl_seconds * 1_000_000)
    if not tx.issuance.prove_session(
        session_id,
        now_us=now_us,
        expires_us=now_us + ttl_us,
        certificate_der=der,
        fingerprint=fingerprint(der),
        serial=proof.serial_hex,
    ):
        return ProveOutcome(IssuanceRefusal.SESSION_INVALID, Reason.NONCE_REPLAYED)
    audit(
        core,
        tx,
        action,
        "OK",
        terminal_id=terminal_id,
        serial=proof.serial_hex,
        subject_id=session_id,
    )
    return ProveOutcome(IssuanceRefusal.NONE, Reason.OK)


def _open_now(core: Core) -> bool:
    """Whether the centre is open now, on the hours clock (``IssuanceConfig.hours_clock``)."""
    config = core.config.issuance
    clock = config.hours_clock if config is not None and config.hours_clock else core.now
    return in_service_hours(clock())


def _issuance(core: Core) -> IssuanceConfig:
    config = core.config.issuance
    if config is None:
        raise RuntimeError("the centre role is not configured ([issuance])")
    return config


def session_refusal(
    session: IssuanceSession | None, terminal_id: str, now_us: int
) -> IssuanceRefusal:
    """Whether a proven session may serve this terminal now (NONE) or why not."""
    if (
        session is None
        or session.terminal_id != terminal_id
        or session.proven_us is None
        or session.certificate_der is None
        or session.expires_us <= now_us
    ):
        return IssuanceRefusal.SESSION_INVALID
    return IssuanceRefusal.NONE


def proven_session(
    core: Core, tx: Transaction, *, terminal_id: str, session_id: str
) -> tuple[IssuanceRefusal, IssuanceSession | None]:
    """The proven session for this terminal, or the refusal (hours first)."""
    if not _open_now(core):
        return IssuanceRefusal.OUTSIDE_SERVICE_HOURS, None
    session = tx.issuance.get_session(session_id)
    refusal = session_refusal(session, terminal_id, to_us(core.now()))
    return refusal, session if refusal is IssuanceRefusal.NONE else None


# -- RequestDocument ----------------------------------------------------------------
@dataclass(frozen=True)
class DocumentOrder:
    """What a terminal asks for (validated by the servicer)."""

    idempotency_key: str
    session_id: str
    municipality_code: str
    kind: DocumentKind
    choice: DocumentChoice
    fee_yen: int

    def options_text(self) -> str:
        """The choice as canonical JSON (stored, and hashed into the request's identity)."""
        c = self.choice
        return json.dumps(
            [
                int(c.household_scope),
                c.show_registered_domicile,
                c.show_relationship,
                c.copies,
                c.fiscal_year,
            ],
            separators=(",", ":"),
        )

    def digest(self) -> bytes:
        """SHA-256 over every field: the same key with another body is refused."""
        text = json.dumps(
            [
                self.session_id,
                self.municipality_code,
                int(self.kind),
                self.options_text(),
                self.fee_yen,
            ],
            separators=(",", ":"),
        )
        return hashlib.sha256(text.encode()).digest()


def choice_from_text(text: str) -> DocumentChoice:
    """The inverse of ``DocumentOrder.options_text``."""
    scope, domicile, relationship, copies, year = json.loads(text)
    return DocumentChoice(HouseholdScope(scope), bool(domicile), bool(relationship), copies, year)


@dataclass(frozen=True)
class RequestOutcome:
    """RequestDocument's answer: a refusal, or the request with its document."""

    refusal: IssuanceRefusal
    municipal_refusal: MunicipalRefusal = MunicipalRefusal.NONE
    request: IssuanceRequest | None = None


def _outcome(row: IssuanceRequest) -> RequestOutcome:
    if row.state is IssuanceState.FAILED:
        return RequestOutcome(IssuanceRefusal(row.refusal), MunicipalRefusal(row.municipal_refusal))
    return RequestOutcome(IssuanceRefusal.NONE, request=row)


@dataclass(frozen=True)
class _Begun:
    """Phase A's result: an answer already, or a PENDING row to ask the municipality for."""

    outcome: RequestOutcome | None = None
    row: IssuanceRequest | None = None


def _begin(core: Core, tx: Transaction, terminal_id: str, order: DocumentOrder) -> _Begun:
    """Claim the request (or find the key's row); refusals before a claim store nothing."""
    digest = order.digest()
    row = tx.issuance.find_request(terminal_id, order.idempotency_key)
    if row is None:
        refusal, session = proven_session(
            core, tx, terminal_id=terminal_id, session_id=order.session_id
        )
        if session is None or session.certificate_der is None:
            audit(
                core,
                tx,
                IssuanceAction.REQUEST_DOCUMENT,
                refusal,
                terminal_id=terminal_id,
                subject_id=order.session_id,
            )
            return _Begun(RequestOutcome(refusal))
        if order.municipality_code not in _issuance(core).routes:
            raise InvalidRequestError("municipality_code", "not a municipality this centre serves")
        fresh = IssuanceRequest(
            request_id=new_id("isr"),
            terminal_id=terminal_id,
            idem_key=order.idempotency_key,
            request_hash=digest,
            session_id=session.session_id,
            certificate_fingerprint=session.certificate_fingerprint or b"",
            certificate_serial=session.certificate_serial,
            certificate_der=session.certificate_der,
            municipality_code=order.municipality_code,
            kind=int(order.kind),
            options=order.options_text(),
            fee_yen=order.fee_yen,
            state=IssuanceState.PENDING,
            created_us=to_us(core.now()),
        )
        row = tx.issuance.claim_request(fresh) or fresh
    if row.request_hash != digest:
        raise IdempotencyConflictError(
            ErrorReason.IDEMPOTENCY_KEY_REUSED, "the key was used with a different request"
        )
    if row.state is IssuanceState.PENDING:
        return _Begun(row=row)
    return _Begun(_outcome(row))


def issue_order(row: IssuanceRequest) -> IssueOrder:
    """The municipality's IssueDocument for a request row (its id is the key)."""
    return IssueOrder(
        idempotency_key=row.request_id,
        certificate_der=row.certificate_der,
        kind=DocumentKind(row.kind),
        choice=choice_from_text(row.options),
        fee_yen=row.fee_yen,
        terminal_id=row.terminal_id,
    )


async def _ask(port: MunicipalPort, row: IssuanceRequest) -> IssueAnswer | None:
    """IssueDocument; None when the answer is unknown (unreachable, or an error status)."""
    try:
        return await port.issue(row.municipality_code, issue_order(row))
    except MunicipalityUnavailableError as exc:
        _log.warning(
            "municipality %s unavailable for %s: %s", row.municipality_code, row.request_id, exc
        )
    except MunicipalCallError as exc:
        _log.error(
            "municipality %s refused %s with %s", row.municipality_code, row.request_id, exc.status
        )
    return None


def _settle(
    core: Core, tx: Transaction, row: IssuanceRequest, answer: IssueAnswer | None
) -> RequestOutcome:
    """Phase C: PENDING -> ISSUED or FAILED, once; the loser reads the winner's answer."""
    now_us = to_us(core.now())
    x = tx.issuance
    action = IssuanceAction.REQUEST_DOCUMENT
    good = (
        answer is not None
        and answer.refusal is MunicipalRefusal.NONE
        and answer.fee_yen == row.fee_yen
        and answer.serial != ""
        and hashlib.sha256(answer.document).digest() == answer.document_sha256
    )
    if good and answer is not None:
        if x.settle_issued(
            row.request_id,
            serial=answer.serial,
            document=answer.document,
            document_sha256=answer.document_sha256,
            now_us=now_us,
        ):
            audit(
                core,
                tx,
                action,
                IssuanceState.ISSUED,
                terminal_id=row.terminal_id,
                serial=row.certificate_serial,
                subject_id=row.request_id,
            )
            _log.info(
                "issued %s kind %d fee %d for %s",
                answer.serial,
                row.kind,
                row.fee_yen,
                row.request_id,
            )
    else:
        refusal, municipal = IssuanceRefusal.MUNICIPALITY_UNAVAILABLE, MunicipalRefusal.NONE
        if answer is not None and answer.refusal is not MunicipalRefusal.NONE:
            refusal, municipal = IssuanceRefusal.MUNICIPALITY_REFUSED, answer.refusal
        if x.settle_failed(
            row.request_id, refusal=refusal.value, municipal_refusal=int(municipal), now_us=now_us
        ):
            audit(
                core,
                tx,
                action,
                refusal,
                terminal_id=row.terminal_id,
                serial=row.certificate_serial,
                subject_id=row.request_id,
            )
            if answer is None or answer.serial:
                # Unknown or unacceptable: whatever the municipality holds is voided.
                _owe(
                    x,
                    row,
                    OutboxAction.VOID_UNANSWERED if answer is None else OutboxAction.VOID,
                    serial=answer.serial if answer else "",
                    now_us=now_us,
                    failure=PrintFailure.CANCELLED,
                )
    latest = x.get_request(row.request_id)
    assert latest is not None
    return _outcome(latest)


def _owe(
    x: IssuanceTables,
    row: IssuanceRequest,
    action: OutboxAction,
    *,
    serial: str,
    now_us: int,
    failure: PrintFailure | None = None,
) -> None:
    x.add_outbox(
        OutboxEntry(
            request_id=row.request_id,
            action=action,
            municipality_code=row.municipality_code,
            serial=serial,
            document_sha256=row.document_sha256 or b"",
            failure=int(failure) if failure is not None else 0,
            attempts=0,
            next_us=now_us,
        )
    )


async def request_document(
    core: Core, port: MunicipalPort, *, terminal_id: str, order: DocumentOrder
) -> RequestOutcome:
    """Issue one document for the session's card, exactly once per (terminal, key).

    Raises:
        IdempotencyConflictError: the key was used with another request.
        InvalidRequestError: a municipality this centre does not route to.
        StorageError: the database failed (nothing was issued by this call's
            own transaction; a retry with the same key resumes the request).
    """
    begun = await core.storage.run(lambda tx: _begin(core, tx, terminal_id, order))
    if begun.outcome is not None:
        return begun.outcome
    row = begun.row
    assert row is not None
    answer = await _ask(port, row)
    return await core.storage.run(lambda tx: _settle(core, tx, row, answer))


def settle_stale(core: Core, tx: Transaction, limit: int = 100) -> int:
    """Requests PENDING past the timeout (a crash mid-call): FAILED, and voided."""
    config = _issuance(core)
    before_us = to_us(core.now()) - int(config.pending_timeout_seconds * 1_000_000)
    done = 0
    for row in tx.issuance.stale_pending(before_us, limit):
        _settle(core, tx, row, None)
        done += 1
    return done


# -- ConfirmPrinted and ReportPrintFailure ------------------------------------------
@dataclass(frozen=True)
class PrintOutcome:
    """Where the request stands after a confirm or a failure, and the fee moved."""

    state: IssuanceState
    charged_yen: int
    refunded_yen: int


def _issued_row(tx: Transaction, terminal_id: str, request_id: str) -> IssuanceRequest:
    row = tx.issuance.get_request(request_id)
    if row is None:
        raise _error(NotFoundError, ErrorText.ISSUANCE_REQUEST_NOT_FOUND, "no such request")
    if row.terminal_id != terminal_id:
        raise PermissionDeniedError(
            ErrorReason.TERMINAL_MISMATCH, "the request is another terminal's"
        )
    if row.state in (IssuanceState.PENDING, IssuanceState.FAILED):
        raise _error(PreconditionError, ErrorText.DOCUMENT_NOT_ISSUED, "no document was issued")
    return row


def _print_outcome(row: IssuanceRequest) -> PrintOutcome:
    charged = row.fee_yen if row.state is IssuanceState.CHARGED else 0
    refunded = row.fee_yen if row.state is IssuanceState.REFUNDED else 0
    return PrintOutcome(row.state, charged, refunded)


def confirm_printed(
    core: Core,
    tx: Transaction,
    *,
    terminal_id: str,
    request_id: str,
    document_sha256: bytes,
    print_job_id: str,
) -> PrintOutcome:
    """ISSUED -> CHARGED (or the state a reported failure left); owes RecordDocumentPrinted.

    Raises:
        NotFoundError: no such request.
        PermissionDeniedError: another terminal's request.
        PreconditionError: nothing was issued, or the digest is not the document's.
    """
    row = _issued_row(tx, terminal_id, request_id)
    if document_sha256 != row.document_sha256:
        audit(
            core,
            tx,
            IssuanceAction.CONFIRM_PRINTED,
            ErrorText.DOCUMENT_DIGEST_MISMATCH,
            terminal_id=terminal_id,
            serial=row.certificate_serial,
            subject_id=request_id,
        )
        raise _error(
            PreconditionError,
            ErrorText.DOCUMENT_DIGEST_MISMATCH,
            "the printed bytes are not the issued document",
        )
    now_us = to_us(core.now())
    if tx.issuance.finish_print(
        request_id, IssuanceState.CHARGED, now_us=now_us, print_job_id=print_job_id
    ):
        _owe(tx.issuance, row, OutboxAction.RECORD_PRINTED, serial=row.serial, now_us=now_us)
        audit(
            core,
            tx,
            IssuanceAction.CONFIRM_PRINTED,
            IssuanceState.CHARGED,
            terminal_id=terminal_id,
            serial=row.certificate_serial,
            subject_id=request_id,
        )
        _log.info("charged %s fee %d", row.serial, row.fee_yen)
    latest = tx.issuance.get_request(request_id)
    assert latest is not None
    return _print_outcome(latest)


def report_failure(
    core: Core,
    tx: Transaction,
    *,
    terminal_id: str,
    request_id: str,
    failure: PrintFailure,
) -> PrintOutcome:
    """ISSUED -> REFUNDED (or the state a confirm left); owes VoidDocument.

    Raises:
        NotFoundError: no such request.
        PermissionDeniedError: another terminal's request.
        PreconditionError: nothing was issued.
    """
    row = _issued_row(tx, terminal_id, request_id)
    now_us = to_us(core.now())
    if tx.issuance.finish_print(
        request_id, IssuanceState.REFUNDED, now_us=now_us, failure=int(failure)
    ):
        _owe(tx.issuance, row, OutboxAction.VOID, serial=row.serial, now_us=now_us, failure=failure)
        audit(
            core,
            tx,
            IssuanceAction.REPORT_PRINT_FAILURE,
            IssuanceState.REFUNDED,
            terminal_id=terminal_id,
            serial=row.certificate_serial,
            subject_id=request_id,
        )
        _log.info("refunded %s fee %d (%s)", row.serial, row.fee_yen, failure.name)
    latest = tx.issuance.get_request(request_id)
    assert latest is not None
    return _print_outcome(latest)
