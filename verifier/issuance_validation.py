# SPDX-License-Identifier: Apache-2.0
"""Field checks for every ``IssuanceService`` request, before anything reaches storage.

Why apart from ``verifier.validation``: the same rules (``check_*`` there)
applied to the centre's messages; each raises ``InvalidRequestError`` naming
the field and never echoing the value. The fuzz harnesses
(``verifier.issuance_fuzz``) drive these through the servicer.
"""

from __future__ import annotations

import re
from typing import Final

from myna.edge.v1 import issuance_pb2 as ipb
from myna.edge.v1 import municipal_pb2 as mpb
from verifier.errors import InvalidRequestError
from verifier.pki import MAX_CERTIFICATE_BYTES
from verifier.validation import (
    SIGNATURE_BYTES,
    check_enum,
    check_id,
    check_idempotency_key,
    check_terminal_id,
)

__all__ = [
    "MAX_COPIES",
    "MAX_FEE_YEN",
    "confirm_printed_request",
    "list_documents_request",
    "open_issuance_session_request",
    "prove_issuance_card_request",
    "report_print_failure_request",
    "request_document_request",
]

#: The service's own cap (municipal.proto: 1-10 copies).
MAX_COPIES: Final = 10
#: Far above any certificate fee (¥200-¥450 a copy); keeps a typo from escrow.
MAX_FEE_YEN: Final = 100_000
_CODE: Final = re.compile(r"[0-9]{6}")
_JOB: Final = re.compile(r"[\x21-\x7e]{0,64}")


def open_issuance_session_request(request: ipb.OpenIssuanceSessionRequest) -> None:
    """Field checks for OpenIssuanceSession."""
    check_idempotency_key(request.idempotency_key)
    check_terminal_id(request.terminal_id)


def prove_issuance_card_request(request: ipb.ProveIssuanceCardRequest) -> None:
    """Field checks for ProveIssuanceCard."""
    check_idempotency_key(request.idempotency_key)
    check_id(request.session_id, "session_id", "iss")
    if not 0 < len(request.authentication_certificate) <= MAX_CERTIFICATE_BYTES:
        raise InvalidRequestError("authentication_certificate", "1-8192 bytes of DER")
    if len(request.signature) != SIGNATURE_BYTES:
        raise InvalidRequestError("signature", "exactly 256 bytes")


def list_documents_request(request: ipb.ListDocumentsRequest) -> None:
    """Field checks for ListDocuments."""
    check_id(request.session_id, "session_id", "iss")


def _options(options: mpb.DocumentOptions) -> None:
    scope = options.household_scope
    if scope != mpb.HOUSEHOLD_SCOPE_UNSPECIFIED:
        check_enum(scope, mpb.HouseholdScope, "options.household_scope")
    if not 1 <= options.copies <= MAX_COPIES:
        raise InvalidRequestError("options.copies", f"1-{MAX_COPIES}")
    if options.fiscal_year and not 2000 <= options.fiscal_year <= 2100:
        raise InvalidRequestError("options.fiscal_year", "0 or 2000-2100")


def request_document_request(request: ipb.RequestDocumentRequest) -> None:
    """Field checks for RequestDocument."""
    check_idempotency_key(request.idempotency_key)
    check_id(request.session_id, "session_id", "iss")
    if not _CODE.fullmatch(request.municipality_code):
        raise InvalidRequestError("municipality_code", "6 digits")
    check_enum(request.kind, mpb.DocumentKind, "kind")
    if not request.HasField("options"):
        raise InvalidRequestError("options", "required")
    _options(request.options)
    if not 0 < request.fee_yen <= MAX_FEE_YEN:
        raise InvalidRequestError("fee_yen", f"1-{MAX_FEE_YEN} yen")


def confirm_printed_request(request: ipb.ConfirmPrintedRequest) -> None:
    """Field checks for ConfirmPrinted."""
    check_idempotency_key(request.idempotency_key)
    check_id(request.request_id, "request_id", "isr")
    if len(request.document_sha256) != 32:
        raise InvalidRequestError("document_sha256", "exactly 32 bytes")
    if not _JOB.fullmatch(request.print_job_id):
        raise InvalidRequestError("print_job_id", "0-64 visible ASCII characters")


def report_print_failure_request(request: ipb.ReportPrintFailureRequest) -> None:
    """Field checks for ReportPrintFailure."""
    check_idempotency_key(request.idempotency_key)
    check_id(request.request_id, "request_id", "isr")
    check_enum(request.failure, mpb.PrintFailure, "failure")
