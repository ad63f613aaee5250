# SPDX-License-Identifier: Apache-2.0
"""The grpc.aio servicer of ``myna.edge.v1.MunicipalService``: validate, call, translate.

Why so thin (STYLE §11): the rules live in ``municipal.issuing`` and the
ledger; this module checks the request's shape (idempotency key, a parsable
certificate, known enums), runs the blocking domain call in a worker thread
(rendering and the ledger's fsync must not stall the event loop), and maps
the outcome once: a ``Refusal`` becomes a normal response carrying a
``MunicipalRefusal``; a malformed request INVALID_ARGUMENT, an unknown
serial NOT_FOUND, a reused key ALREADY_EXISTS, a ledger failure
UNAVAILABLE (the centre retries with the same key). Details never carry
personal data: only the serial, the kind and the fee are logged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Callable
from typing import Any, Final, NoReturn, TypeVar

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from google.protobuf.timestamp_pb2 import Timestamp

from municipal.document.code import key_id
from municipal.document.content import DocumentKind
from municipal.errors import (
    DigestMismatchError,
    IdempotencyConflictError,
    LedgerError,
    RefusedError,
    UnknownDocumentError,
)
from municipal.fees import FeeTable
from municipal.issuing import IssueRequest, IssuingOffice
from municipal.registry import CertificateLink
from municipal.wire import (
    KIND_FROM_WIRE,
    KIND_TO_WIRE,
    PRINT_FAILURE_FROM_WIRE,
    REFUSAL_TO_WIRE,
    SCOPE_FROM_WIRE,
    SCOPE_TO_WIRE,
    STATE_TO_WIRE,
)
from myna.edge.v1 import municipal_pb2 as pb
from myna.edge.v1 import municipal_pb2_grpc as pb_grpc

__all__ = ["MunicipalServicer", "certificate_link"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")
_Context = grpc.aio.ServicerContext[Any, Any]
_KEY: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_TEXT: Final = re.compile(r"[A-Za-z0-9._:-]{0,128}")
_SERIAL: Final = re.compile(r"[0-9A-Za-z-]{1,64}")
_MAX_CERTIFICATE: Final = 8192


def certificate_link(der: bytes) -> CertificateLink:
    """The registry's key from a card's authentication certificate (issuer + serial).

    Raises:
        ValueError: empty, too large or not a DER certificate.
    """
    if not der or len(der) > _MAX_CERTIFICATE:
        raise ValueError("the certificate is empty or too large")
    try:
        certificate = x509.load_der_x509_certificate(der)
    except x509.InvalidVersion as exc:  # not a ValueError (found by the fuzz campaign)
        raise ValueError("the certificate has an invalid X.509 version") from exc
    return CertificateLink(certificate.issuer.rfc4514_string(), certificate.serial_number)


async def _invalid(context: _Context, detail: str) -> NoReturn:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, detail)
    raise AssertionError("unreachable")  # abort raises


class MunicipalServicer(pb_grpc.MunicipalServiceServicer):
    """grpc.aio implementation of ``myna.edge.v1.MunicipalService``."""

    def __init__(self, office: IssuingOffice, fees: FeeTable) -> None:
        self._office = office
        self._fees = fees

    async def _run(self, context: _Context, call: Callable[[], _T]) -> _T:
        """Run a blocking domain call in a thread; map its failures to statuses."""
        try:
            return await asyncio.to_thread(call)
        except IdempotencyConflictError:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, "idempotency key reused")
        except UnknownDocumentError:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no document has this serial")
        except DigestMismatchError:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION, "the digest is not the issued document's"
            )
        except LedgerError:
            _log.exception("ledger failure")
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the ledger is unavailable")
        raise AssertionError("unreachable")  # abort raises

    async def _link(self, context: _Context, credential: pb.ResidentCredential) -> CertificateLink:
        try:
            return certificate_link(credential.authentication_certificate)
        except ValueError:
            await _invalid(context, "credential.authentication_certificate is not a certificate")

    @staticmethod
    def _key(value: str) -> bool:
        return _KEY.fullmatch(value) is not None

    async def ListResidentDocuments(  # noqa: N802 - gRPC method names
        self, request: pb.ListResidentDocumentsRequest, context: _Context
    ) -> pb.ListResidentDocumentsResponse:
        """The documents this certificate's holder may obtain here, with fees."""
        link = await self._link(context, request.credential)
        place = self._office.municipality
        response = pb.ListResidentDocumentsResponse(
            municipality_code=place.code, municipality_name=place.name
        )
        try:
            offers = await self._run(context, lambda: self._office.offers(link))
        except RefusedError as refused:
            response.refusal = REFUSAL_TO_WIRE[refused.refusal]
            return response
        for offer in offers:
            scopes = (
                list(SCOPE_TO_WIRE.values()) if offer.kind is DocumentKind.RESIDENT_RECORD else []
            )
            response.offers.append(
                pb.DocumentOffer(
                    kind=KIND_TO_WIRE[offer.kind],
                    title=offer.kind.title,
                    fee_yen_per_copy=offer.fee_yen_per_copy,
                    household_scopes=scopes,
                    max_copies=self._fees.max_copies,
                )
            )
        return response

    async def IssueDocument(  # noqa: N802
        self, request: pb.IssueDocumentRequest, context: _Context
    ) -> pb.IssueDocumentResponse:
        """Issue one document, once per idempotency key."""
        if not self._key(request.idempotency_key):
            await _invalid(context, "idempotency_key must be 1-128 of [A-Za-z0-9._:-]")
        if not (
            _TEXT.fullmatch(request.centre_request_id) and _TEXT.fullmatch(request.terminal_id)
        ):
            await _invalid(context, "centre_request_id and terminal_id are [A-Za-z0-9._:-]")
        kind = KIND_FROM_WIRE.get(request.kind)
        scope = SCOPE_FROM_WIRE.get(request.options.household_scope)
        if kind is None or scope is None:
            await _invalid(context, "kind or options.household_scope is not a known value")
        link = await self._link(context, request.credential)
        issue = IssueRequest(
            idempotency_key=request.idempotency_key,
            link=link,
            kind=kind,
            fee_yen=request.fee_yen,
            copies=request.options.copies,
            scope=scope,
            terminal_id=request.terminal_id,
            centre_request_id=request.centre_request_id,
        )
        try:
            document = await self._run(context, lambda: self._office.issue(issue))
        except RefusedError as refused:
            return pb.IssueDocumentResponse(refusal=REFUSAL_TO_WIRE[refused.refusal])
        _log.info("issued %s kind=%s fee=%d", document.serial, kind.value, document.fee_yen)
        issued_at = Timestamp()
        issued_at.FromDatetime(document.issued_at.astimezone(dt.UTC))
        return pb.IssueDocumentResponse(
            serial=document.serial,
            document_pdf=document.pdf,
            document_sha256=document.sha256,
            fee_yen=document.fee_yen,
            issued_at=issued_at,
        )

    async def RecordDocumentPrinted(  # noqa: N802
        self, request: pb.RecordDocumentPrintedRequest, context: _Context
    ) -> pb.RecordDocumentPrintedResponse:
        """Record the print: the fee is due (a void document stays void)."""
        if not self._key(request.idempotency_key) or not _SERIAL.fullmatch(request.serial):
            await _invalid(context, "idempotency_key or serial is malformed")
        if len(request.document_sha256) != 32:
            await _invalid(context, "document_sha256 must be 32 bytes")
        state = await self._run(
            context,
            lambda: self._office.record_printed(
                request.idempotency_key, request.serial, request.document_sha256
            ),
        )
        return pb.RecordDocumentPrintedResponse(state=STATE_TO_WIRE[state])

    async def VoidDocument(  # noqa: N802
        self, request: pb.VoidDocumentRequest, context: _Context
    ) -> pb.VoidDocumentResponse:
        """Void an unprinted document (a printed one stays printed)."""
        if not self._key(request.idempotency_key) or not _SERIAL.fullmatch(request.serial):
            await _invalid(context, "idempotency_key or serial is malformed")
        failure = PRINT_FAILURE_FROM_WIRE.get(request.failure)
        if failure is None:
            await _invalid(context, "failure is not a known value")
        state = await self._run(
            context, lambda: self._office.void(request.idempotency_key, request.serial, failure)
        )
        return pb.VoidDocumentResponse(state=STATE_TO_WIRE[state])

    async def ListSigningKeys(  # noqa: N802
        self, request: pb.ListSigningKeysRequest, context: _Context
    ) -> pb.ListSigningKeysResponse:
        """The public key that signs this municipality's documents."""
        public = self._office.public_key
        pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pb.ListSigningKeysResponse(
            municipality_code=self._office.municipality.code,
            keys=[pb.SigningKey(key_id=key_id(public), public_key_pem=pem.decode("ascii"))],
        )
