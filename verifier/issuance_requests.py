# SPDX-License-Identifier: Apache-2.0
"""The centre's request lifecycle: RequestDocument, then ConfirmPrinted or ReportPrintFailure.

Why apart from ``verifier.issuance`` (sessions and the card's proof): this
is the exactly-once part (issue 14), and the one call that spans two
transactions with the municipality asked between them:

* one RequestDocument (terminal, idempotency key) is one request row, made
  PENDING before the municipality is asked, whose id is the municipality's
  idempotency key: a retry, a concurrent duplicate or a retry after a crash
  asks with the same key and gets the same document, never a second one;
  the same key with another body is refused; the row is the idempotency
  record and keeps the document;
* the row binds the session, the card's certificate fingerprint, the
  terminal, the serial, the document's SHA-256 and the fee; PENDING ->
  ISSUED or FAILED by a conditional UPDATE (the loser reads the winner's);
* ConfirmPrinted (ISSUED -> CHARGED) and ReportPrintFailure (ISSUED ->
  REFUNDED) are conditional updates: the first wins, the other answers the
  final state; what the municipality must hear goes to the outbox
  (``verifier.issuance_outbox``) in the same transaction;
* a municipality that cannot be reached (or whose answer was lost):
  MUNICIPALITY_UNAVAILABLE, nothing charged, and the outbox voids whatever
  it may have issued; a request left PENDING by a crash is settled so too.

Everything here works on ``Core``, storage and a ``MunicipalPort``: no gRPC.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

from verifier.codes import ErrorReason
from verifier.core import Core, new_id, to_us
from verifier.errors import (
    IdempotencyConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionError,
)
from verifier.issuance import audit, centre_config, proven_session, refusal_error
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
from verifier.issuance_port import (
    DocumentChoice,
    IssueAnswer,
    IssueOrder,
    MunicipalCallError,
    MunicipalityUnavailableError,
    MunicipalPort,
)
from verifier.storage import Transaction
from verifier.storage.issuance import IssuanceRequest, IssuanceTables, OutboxEntry

__all__ = [
    "DocumentOrder",
    "PrintOutcome",
    "RequestOutcome",
    "choice_from_text",
    "confirm_printed",
    "issue_order",
    "report_failure",
    "request_document",
    "settle_stale",
]

_log = logging.getLogger(__name__)


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
        if order.municipality_code not in centre_config(core).routes:
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
    config = centre_config(core)
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
        raise refusal_error(NotFoundError, ErrorText.ISSUANCE_REQUEST_NOT_FOUND, "no such request")
    if row.terminal_id != terminal_id:
        raise PermissionDeniedError(
            ErrorReason.TERMINAL_MISMATCH, "the request is another terminal's"
        )
    if row.state in (IssuanceState.PENDING, IssuanceState.FAILED):
        raise refusal_error(
            PreconditionError, ErrorText.DOCUMENT_NOT_ISSUED, "no document was issued"
        )
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
        raise refusal_error(
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
