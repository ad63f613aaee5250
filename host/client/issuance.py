# SPDX-License-Identifier: Apache-2.0
"""``IssuanceClient``: typed async methods over ``myna.edge.v1.IssuanceService`` (the centre).

The MFP terminal's client of the 証明書交付センター, with ``VerifierClient``'s
conventions (STYLE §1, §3): mTLS by default (``ClientConfig``), a deadline
on every call, ``grpc.RpcError`` turned once into a ``ServiceError``
subclass (``translate_rpc_error``), plain values out
(``host.client.issuance_models``), and the proto enums mapped by total
tables (a test walks both sides). Idempotency keys are the caller's, one
per logical operation and journaled before the call, so gRPC's own retry
on UNAVAILABLE (``ISSUANCE_RETRYABLE_METHODS``, this client's channel) and
the agent's after a crash send the same key and the centre acts once.
Logs carry the method, the key and the outcome code: never a certificate,
a signature or the document.

The card proves the session with its user-authentication key over
``issuance_digest(nonce)`` (SHA-256 of the nonce: the card wraps it in a
DigestInfo and signs with PKCS#1 v1.5, so the centre checks the signature
over exactly the nonce's bytes, as ``issuance.proto`` says).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Final, TypeVar

import grpc
import grpc.aio

from host.client.channel import ClientConfig, open_channel
from host.client.issuance_models import (
    CardCheck,
    DocumentKind,
    DocumentOffer,
    DocumentOptions,
    HouseholdScope,
    IssuanceRefusal,
    IssuanceSession,
    IssuanceState,
    IssuedDocument,
    MunicipalityOffer,
    MunicipalRefusal,
    PrintFailure,
    PrintSettlement,
)
from host.client.models import CardProof
from host.client.translate import call_rpc
from host.client.verifier import DEV_TERMINAL_HEADER
from myna.edge.v1 import issuance_pb2 as ipb
from myna.edge.v1 import issuance_pb2_grpc as ipb_grpc
from myna.edge.v1 import municipal_pb2 as mpb
from myna.edge.v1 import verifier_pb2 as vpb

__all__ = [
    "DOCUMENT_KINDS",
    "HOUSEHOLD_SCOPES",
    "ISSUANCE_REFUSALS",
    "ISSUANCE_RETRYABLE_METHODS",
    "ISSUANCE_SERVICE_NAME",
    "ISSUANCE_STATES",
    "MUNICIPAL_REFUSALS",
    "PRINT_FAILURES",
    "IssuanceClient",
    "issuance_digest",
]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

ISSUANCE_SERVICE_NAME: Final = "myna.edge.v1.IssuanceService"
#: Every IssuanceService method is idempotent: the state changes carry a key
#: the centre deduplicates (issuance.proto header), ListDocuments is a read.
ISSUANCE_RETRYABLE_METHODS: Final = (
    "OpenIssuanceSession",
    "ProveIssuanceCard",
    "ListDocuments",
    "RequestDocument",
    "ConfirmPrinted",
    "ReportPrintFailure",
)

# Total tables, both ways checked by tests: a new proto value fails a test, not a run.
ISSUANCE_REFUSALS: Final[dict[ipb.IssuanceRefusal.ValueType, IssuanceRefusal | None]] = {
    ipb.ISSUANCE_REFUSAL_UNSPECIFIED: None,
    ipb.ISSUANCE_REFUSAL_CARD_REJECTED: IssuanceRefusal.CARD_REJECTED,
    ipb.ISSUANCE_REFUSAL_SESSION_INVALID: IssuanceRefusal.SESSION_INVALID,
    ipb.ISSUANCE_REFUSAL_MUNICIPALITY_REFUSED: IssuanceRefusal.MUNICIPALITY_REFUSED,
    ipb.ISSUANCE_REFUSAL_MUNICIPALITY_UNAVAILABLE: IssuanceRefusal.MUNICIPALITY_UNAVAILABLE,
    ipb.ISSUANCE_REFUSAL_OUTSIDE_SERVICE_HOURS: IssuanceRefusal.OUTSIDE_SERVICE_HOURS,
}
ISSUANCE_STATES: Final[dict[ipb.IssuanceState.ValueType, IssuanceState]] = {
    ipb.ISSUANCE_STATE_UNSPECIFIED: IssuanceState.UNSPECIFIED,
    ipb.ISSUANCE_STATE_ISSUED: IssuanceState.ISSUED,
    ipb.ISSUANCE_STATE_CHARGED: IssuanceState.CHARGED,
    ipb.ISSUANCE_STATE_REFUNDED: IssuanceState.REFUNDED,
}
MUNICIPAL_REFUSALS: Final[dict[mpb.MunicipalRefusal.ValueType, MunicipalRefusal | None]] = {
    mpb.MUNICIPAL_REFUSAL_UNSPECIFIED: None,
    mpb.MUNICIPAL_REFUSAL_NOT_A_RESIDENT: MunicipalRefusal.NOT_A_RESIDENT,
    mpb.MUNICIPAL_REFUSAL_NO_REGISTERED_SEAL: MunicipalRefusal.NO_REGISTERED_SEAL,
    mpb.MUNICIPAL_REFUSAL_DOCUMENT_NOT_OFFERED: MunicipalRefusal.DOCUMENT_NOT_OFFERED,
    mpb.MUNICIPAL_REFUSAL_OUTSIDE_SERVICE_HOURS: MunicipalRefusal.OUTSIDE_SERVICE_HOURS,
    mpb.MUNICIPAL_REFUSAL_OPTIONS_INVALID: MunicipalRefusal.OPTIONS_INVALID,
    mpb.MUNICIPAL_REFUSAL_FEE_CHANGED: MunicipalRefusal.FEE_CHANGED,
    mpb.MUNICIPAL_REFUSAL_COUNTER_ONLY: MunicipalRefusal.COUNTER_ONLY,
}
#: The wire's kinds (UNSPECIFIED is no kind: an offer of it is skipped).
DOCUMENT_KINDS: Final[dict[DocumentKind, mpb.DocumentKind.ValueType]] = {
    DocumentKind.RESIDENT_RECORD: mpb.DOCUMENT_KIND_RESIDENT_RECORD,
    DocumentKind.SEAL_REGISTRATION: mpb.DOCUMENT_KIND_SEAL_REGISTRATION,
    DocumentKind.TAX: mpb.DOCUMENT_KIND_TAX,
    DocumentKind.FAMILY_REGISTER: mpb.DOCUMENT_KIND_FAMILY_REGISTER,
}
HOUSEHOLD_SCOPES: Final[dict[HouseholdScope, mpb.HouseholdScope.ValueType]] = {
    HouseholdScope.UNSPECIFIED: mpb.HOUSEHOLD_SCOPE_UNSPECIFIED,
    HouseholdScope.SELF: mpb.HOUSEHOLD_SCOPE_SELF,
    HouseholdScope.WHOLE_HOUSEHOLD: mpb.HOUSEHOLD_SCOPE_WHOLE_HOUSEHOLD,
}
PRINT_FAILURES: Final[dict[PrintFailure, mpb.PrintFailure.ValueType]] = {
    PrintFailure.PAPER_OUT: mpb.PRINT_FAILURE_PAPER_OUT,
    PrintFailure.JAM: mpb.PRINT_FAILURE_JAM,
    PrintFailure.COVER_OPEN: mpb.PRINT_FAILURE_COVER_OPEN,
    PrintFailure.PRINTER_OFFLINE: mpb.PRINT_FAILURE_PRINTER_OFFLINE,
    PrintFailure.CANCELLED: mpb.PRINT_FAILURE_CANCELLED,
    PrintFailure.TIMEOUT: mpb.PRINT_FAILURE_TIMEOUT,
}
#: issuance.proto's key rule: 1-128 of [A-Za-z0-9._:-] (VerifierService's too).
_KEY_RE: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_KINDS_BACK: Final = {wire: kind for kind, wire in DOCUMENT_KINDS.items()}
_SCOPES_BACK: Final = {wire: scope for scope, wire in HOUSEHOLD_SCOPES.items()}


def issuance_digest(nonce: bytes) -> bytes:
    """What the card signs for an issuance session: SHA-256 of the nonce (module docstring)."""
    return hashlib.sha256(nonce).digest()


def _check_key(key: str) -> str:
    if not _KEY_RE.fullmatch(key):
        raise ValueError("an idempotency key is 1-128 of [A-Za-z0-9._:-]")
    return key


def _refusal(value: ipb.IssuanceRefusal.ValueType) -> IssuanceRefusal | None:
    # A refusal this build does not know is still a refusal: never "accepted".
    return ISSUANCE_REFUSALS.get(value, IssuanceRefusal.SESSION_INVALID)


def _municipal(value: mpb.MunicipalRefusal.ValueType) -> MunicipalRefusal | None:
    return MUNICIPAL_REFUSALS.get(value, MunicipalRefusal.DOCUMENT_NOT_OFFERED)


def _state(value: ipb.IssuanceState.ValueType) -> IssuanceState:
    return ISSUANCE_STATES.get(value, IssuanceState.UNSPECIFIED)


def _offer(offer: mpb.DocumentOffer) -> DocumentOffer | None:
    kind = _KINDS_BACK.get(offer.kind)
    if kind is None:
        return None  # a kind this agent predates: not offered on this screen
    scopes = tuple(_SCOPES_BACK[s] for s in offer.household_scopes if s in _SCOPES_BACK)
    return DocumentOffer(
        kind=kind,
        title=offer.title,
        fee_yen_per_copy=offer.fee_yen_per_copy,
        household_scopes=scopes,
        max_copies=max(1, offer.max_copies),
    )


def _options(options: DocumentOptions) -> mpb.DocumentOptions:
    return mpb.DocumentOptions(
        household_scope=HOUSEHOLD_SCOPES[options.household_scope],
        show_registered_domicile=options.show_registered_domicile,
        show_relationship=options.show_relationship,
        copies=options.copies,
        fiscal_year=options.fiscal_year,
    )


class IssuanceClient:
    """An async client of the centre's IssuanceService; an async context manager.

    Args:
        config: target, terminal identity and mTLS material, deadlines (the
            verifier's: the centre runs on it).
        channel: an existing channel to use instead (closed with the client);
            without one, a channel whose retry policy names this service.
    """

    def __init__(self, config: ClientConfig, *, channel: grpc.aio.Channel | None = None) -> None:
        self._config = config
        retryable = {ISSUANCE_SERVICE_NAME: ISSUANCE_RETRYABLE_METHODS}
        self._channel = (
            channel if channel is not None else open_channel(config, retryable=retryable)
        )
        self._stub = ipb_grpc.IssuanceServiceStub(self._channel)
        self._metadata: tuple[tuple[str, str], ...] = (
            ((DEV_TERMINAL_HEADER, config.terminal_id),) if config.insecure_dev else ()
        )
        self._closed = False

    @property
    def terminal_id(self) -> str:
        """This terminal's id."""
        return self._config.terminal_id

    async def close(self) -> None:
        """Close the channel; harmless twice."""
        if not self._closed:
            self._closed = True
            await self._channel.close()

    async def __aenter__(self) -> IssuanceClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        mode = "plaintext-dev" if self._config.insecure_dev else "mTLS"
        return f"<IssuanceClient {self._config.target} {mode} as {self._config.terminal_id!r}>"

    async def _call(
        self,
        method: str,
        key: str,
        send: Callable[..., Awaitable[_T]],
        request: object,
        timeout: float | None,
    ) -> _T:
        return await call_rpc(
            send,
            request,
            method=method,
            key=key,
            timeout=self._config.timeout if timeout is None else timeout,
            metadata=self._metadata,
            log=_log,
        )

    async def open_session(
        self, idempotency_key: str, *, timeout: float | None = None
    ) -> IssuanceSession:
        """Open an issuance session for this terminal and get its nonce.

        Raises:
            ValueError: a malformed key.
            ServiceError: a subclass saying why the call failed.
        """
        request = ipb.OpenIssuanceSessionRequest(
            idempotency_key=_check_key(idempotency_key), terminal_id=self.terminal_id
        )
        r = await self._call(
            "OpenIssuanceSession", idempotency_key, self._stub.OpenIssuanceSession, request, timeout
        )
        expires = r.expires_at.ToDatetime(tzinfo=dt.UTC) if r.HasField("expires_at") else None
        return IssuanceSession(r.session_id, r.nonce, expires, _refusal(r.refusal))

    async def prove_card(
        self,
        session_id: str,
        proof: CardProof,
        idempotency_key: str,
        *,
        timeout: float | None = None,
    ) -> CardCheck:
        """Prove the card: its authentication certificate and signature over the nonce.

        Raises:
            ValueError: a malformed key.
            ServiceError: a subclass saying why the call failed.
        """
        request = ipb.ProveIssuanceCardRequest(
            idempotency_key=_check_key(idempotency_key),
            session_id=session_id,
            authentication_certificate=proof.certificate_der,
            signature=proof.signature,
        )
        r = await self._call(
            "ProveIssuanceCard", idempotency_key, self._stub.ProveIssuanceCard, request, timeout
        )
        return CardCheck(
            _refusal(r.refusal), vpb.Reason.Name(r.card_reason).removeprefix("REASON_")
        )

    async def list_documents(
        self, session_id: str, *, timeout: float | None = None
    ) -> tuple[IssuanceRefusal | None, tuple[MunicipalityOffer, ...]]:
        """What this resident may obtain, per municipality, with fees.

        Raises:
            ServiceError: a subclass saying why the call failed.
        """
        request = ipb.ListDocumentsRequest(session_id=session_id)
        r = await self._call("ListDocuments", "", self._stub.ListDocuments, request, timeout)
        municipalities = tuple(
            MunicipalityOffer(
                municipality_code=m.municipality_code,
                municipality_name=m.municipality_name,
                refusal=_municipal(m.refusal),
                offers=tuple(o for o in map(_offer, m.offers) if o is not None),
            )
            for m in r.municipalities
        )
        return _refusal(r.refusal), municipalities

    async def request_document(
        self,
        session_id: str,
        *,
        municipality_code: str,
        kind: DocumentKind,
        options: DocumentOptions,
        fee_yen: int,
        idempotency_key: str,
        timeout: float | None = None,
    ) -> IssuedDocument:
        """Issue one document for the proven card; the fee is the one held in escrow.

        Raises:
            ValueError: a malformed key or a negative fee.
            ServiceError: a subclass saying why the call failed.
        """
        if fee_yen < 0:
            raise ValueError("fee_yen must not be negative")
        request = ipb.RequestDocumentRequest(
            idempotency_key=_check_key(idempotency_key),
            session_id=session_id,
            municipality_code=municipality_code,
            kind=DOCUMENT_KINDS[kind],
            options=_options(options),
            fee_yen=fee_yen,
        )
        r = await self._call(
            "RequestDocument", idempotency_key, self._stub.RequestDocument, request, timeout
        )
        return IssuedDocument(
            refusal=_refusal(r.refusal),
            municipal_refusal=_municipal(r.municipal_refusal),
            request_id=r.request_id,
            serial=r.serial,
            document_pdf=r.document_pdf,
            document_sha256=r.document_sha256,
            fee_yen=r.fee_yen,
            state=_state(r.state),
        )

    async def confirm_printed(
        self,
        request_id: str,
        *,
        document_sha256: bytes,
        print_job_id: str,
        idempotency_key: str,
        timeout: float | None = None,
    ) -> PrintSettlement:
        """The document was printed: the fee is charged (REFUNDED if a failure came first).

        Raises:
            ValueError: a malformed key.
            ServiceError: a subclass (``ServiceStateError`` for a digest that
                is not the issued document's).
        """
        request = ipb.ConfirmPrintedRequest(
            idempotency_key=_check_key(idempotency_key),
            request_id=request_id,
            document_sha256=document_sha256,
            print_job_id=print_job_id,
        )
        r = await self._call(
            "ConfirmPrinted", idempotency_key, self._stub.ConfirmPrinted, request, timeout
        )
        return PrintSettlement(_state(r.state), r.charged_yen)

    async def report_print_failure(
        self,
        request_id: str,
        failure: PrintFailure,
        *,
        idempotency_key: str,
        timeout: float | None = None,
    ) -> PrintSettlement:
        """The document was not printed: refunded, serial void (CHARGED if confirmed first).

        Raises:
            ValueError: a malformed key.
            ServiceError: a subclass saying why the call failed.
        """
        request = ipb.ReportPrintFailureRequest(
            idempotency_key=_check_key(idempotency_key),
            request_id=request_id,
            failure=PRINT_FAILURES[failure],
        )
        r = await self._call(
            "ReportPrintFailure", idempotency_key, self._stub.ReportPrintFailure, request, timeout
        )
        return PrintSettlement(_state(r.state), r.refunded_yen)
