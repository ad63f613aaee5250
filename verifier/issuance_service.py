# SPDX-License-Identifier: Apache-2.0
"""The ``IssuanceService`` servicer (the centre role), on the verifier's grpc.aio server.

Why it rides on ``VerifierServicer``: the cross-cutting rules are the same
and written once there (the terminal is its mTLS certificate's CN, the
deny-list, the size cap, the deadline check, errors as statuses with an
``ErrorInfo``, the one idempotent path ``_once``, the certificate check on
or off the loop). Each RPC here validates (``verifier.issuance_validation``),
calls the domain (``verifier.issuance``) and answers through
``verifier.issuance_wire``. RequestDocument is the one state change that
cannot run in a single transaction (it calls the municipality between two),
so its idempotency record is the request row itself (``verifier.issuance``).

It also owns the outbox sweep (``verifier.issuance_outbox``): a task that
settles requests left PENDING by a crash and delivers what the
municipalities are owed, every ``interval`` seconds, and right after each
ConfirmPrinted/ReportPrintFailure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from myna.edge.v1 import issuance_pb2 as ipb
from myna.edge.v1 import issuance_pb2_grpc as ipb_grpc
from verifier import issuance, issuance_outbox, issuance_requests
from verifier import issuance_validation as iv
from verifier.codes import Reason
from verifier.core import Core, from_us, to_us
from verifier.issuance_codes import IssuanceRefusal, MunicipalRefusal
from verifier.issuance_config import check_plaintext
from verifier.issuance_port import MunicipalCallError, MunicipalityUnavailableError, MunicipalPort
from verifier.issuance_wire import (
    DOCUMENT_KINDS,
    ISSUANCE_REFUSALS,
    ISSUANCE_STATES,
    MUNICIPAL_REFUSALS,
    PRINT_FAILURES,
    REASONS,
    choice_from_wire,
    offers_to_wire,
)
from verifier.municipal_client import MunicipalClients
from verifier.service import VerifierServicer
from verifier.sessions import check_terminal
from verifier.storage import Transaction
from verifier.storage.issuance import IssuanceSession

__all__ = ["ISSUANCE_SERVICE_NAME", "IssuanceServicer", "attach_issuance"]

_log = logging.getLogger(__name__)
ISSUANCE_SERVICE_NAME: Final = ipb.DESCRIPTOR.services_by_name["IssuanceService"].full_name
_Context = grpc.aio.ServicerContext[object, object]


def _stamp(us: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(from_us(us))
    return stamp


class IssuanceServicer(ipb_grpc.IssuanceServiceServicer):
    """grpc.aio implementation of ``myna.edge.v1.IssuanceService``."""

    def __init__(self, base: VerifierServicer, port: MunicipalPort) -> None:
        """``base``: the server's VerifierServicer (identity, errors, idempotency)."""
        self._base = base
        self.core: Core = base.core
        self.port = port
        self._sweeper: asyncio.Task[None] | None = None
        self._kicks: set[asyncio.Task[int]] = set()

    # -- the sweep -------------------------------------------------------------
    async def sweep_once(self) -> int:
        """Settle stale PENDING requests, forget old sessions, deliver the outbox.

        Returns the deliveries. A session is forgotten one session lifetime
        after it expired (a late call still hears SESSION_INVALID); requests
        are kept: they are the record of every fee.
        """
        await self.core.storage.run(self._settle_and_purge)
        return await issuance_outbox.deliver_due(self.core, self.port)

    def _settle_and_purge(self, tx: Transaction) -> None:
        issuance_requests.settle_stale(self.core, tx)
        config = self.core.config.issuance
        ttl_us = int(config.session_ttl_seconds * 1_000_000) if config is not None else 0
        tx.issuance.purge_sessions(to_us(self.core.now()) - ttl_us)

    def start_sweeper(self, interval: float = 5.0) -> None:
        """Run ``sweep_once`` every ``interval`` seconds until ``close``."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.sweep_once()
                except Exception:  # noqa: BLE001 - keep sweeping; the error is logged
                    _log.exception("issuance sweep failed")

        self._sweeper = asyncio.create_task(loop())

    def _kick(self) -> None:
        task = asyncio.create_task(issuance_outbox.deliver_due(self.core, self.port))
        self._kicks.add(task)
        task.add_done_callback(self._kicks.discard)

    async def close(self) -> None:
        """Stop the sweeper, let deliveries in flight end, close the channels; harmless twice."""
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        if self._kicks:
            await asyncio.gather(*self._kicks, return_exceptions=True)
        if isinstance(self.port, MunicipalClients):
            await self.port.close()

    # -- the RPCs ----------------------------------------------------------------
    async def OpenIssuanceSession(  # noqa: N802 - gRPC method names
        self, request: ipb.OpenIssuanceSessionRequest, context: _Context
    ) -> ipb.OpenIssuanceSessionResponse:
        """Open an issuance session with a fresh single-use nonce."""
        return await self._base._call(
            context, request, iv.open_issuance_session_request, self._open
        )

    async def ProveIssuanceCard(  # noqa: N802
        self, request: ipb.ProveIssuanceCardRequest, context: _Context
    ) -> ipb.ProveIssuanceCardResponse:
        """Check the card (authentication certificate, signature over the nonce)."""
        return await self._base._call(context, request, iv.prove_issuance_card_request, self._prove)

    async def ListDocuments(  # noqa: N802
        self, request: ipb.ListDocumentsRequest, context: _Context
    ) -> ipb.ListDocumentsResponse:
        """Ask every routed municipality what this resident may obtain."""
        return await self._base._call(context, request, iv.list_documents_request, self._list)

    async def RequestDocument(  # noqa: N802
        self, request: ipb.RequestDocumentRequest, context: _Context
    ) -> ipb.RequestDocumentResponse:
        """Issue one document, exactly once per (terminal, key)."""
        return await self._base._call(context, request, iv.request_document_request, self._request)

    async def ConfirmPrinted(  # noqa: N802
        self, request: ipb.ConfirmPrintedRequest, context: _Context
    ) -> ipb.ConfirmPrintedResponse:
        """Printed: charge the fee (unless a failure was reported first)."""
        return await self._base._call(context, request, iv.confirm_printed_request, self._confirm)

    async def ReportPrintFailure(  # noqa: N802
        self, request: ipb.ReportPrintFailureRequest, context: _Context
    ) -> ipb.ReportPrintFailureResponse:
        """Not printed: refund the fee (unless the print was confirmed first)."""
        return await self._base._call(
            context, request, iv.report_print_failure_request, self._failure
        )

    # -- handlers ------------------------------------------------------------------
    async def _open(
        self, terminal: str, request: ipb.OpenIssuanceSessionRequest
    ) -> ipb.OpenIssuanceSessionResponse:
        check_terminal(terminal, request.terminal_id)

        def work(tx: Transaction) -> ipb.OpenIssuanceSessionResponse:
            opened = issuance.open_session(self.core, tx, terminal)
            response = ipb.OpenIssuanceSessionResponse(
                refusal=ISSUANCE_REFUSALS.to_wire(opened.refusal)
            )
            if opened.session is not None:
                response.session_id = opened.session.session_id
                response.nonce = opened.session.nonce
                response.expires_at.CopyFrom(_stamp(opened.session.expires_us))
            return response

        return await self._base._once(
            terminal, "OpenIssuanceSession", request, ipb.OpenIssuanceSessionResponse, work
        )

    async def _prove(
        self, terminal: str, request: ipb.ProveIssuanceCardRequest
    ) -> ipb.ProveIssuanceCardResponse:
        checked = await self._base._certificate(
            issuance.PROOF_KIND, request.authentication_certificate
        )

        def work(tx: Transaction) -> ipb.ProveIssuanceCardResponse:
            outcome = issuance.prove_card(
                self.core,
                tx,
                terminal_id=terminal,
                session_id=request.session_id,
                checked=checked,
                signature=request.signature,
            )
            reason = outcome.reason if outcome.refusal is IssuanceRefusal.CARD_REJECTED else None
            return ipb.ProveIssuanceCardResponse(
                refusal=ISSUANCE_REFUSALS.to_wire(outcome.refusal),
                card_reason=REASONS.to_wire(reason or Reason.OK),
            )

        return await self._base._once(
            terminal, "ProveIssuanceCard", request, ipb.ProveIssuanceCardResponse, work
        )

    async def _session(
        self, terminal: str, session_id: str
    ) -> tuple[IssuanceRefusal, IssuanceSession | None]:
        def read() -> tuple[IssuanceRefusal, IssuanceSession | None]:
            with self.core.storage.reading() as tx:
                return issuance.proven_session(
                    self.core, tx, terminal_id=terminal, session_id=session_id
                )

        return await asyncio.to_thread(read)

    async def _list(
        self, terminal: str, request: ipb.ListDocumentsRequest
    ) -> ipb.ListDocumentsResponse:
        refusal, session = await self._session(terminal, request.session_id)
        if session is None or session.certificate_der is None:
            return ipb.ListDocumentsResponse(refusal=ISSUANCE_REFUSALS.to_wire(refusal))
        der = session.certificate_der
        codes = self.port.codes()
        answers = await asyncio.gather(
            *(self.port.list_offers(code, der) for code in codes), return_exceptions=True
        )
        response = ipb.ListDocumentsResponse()
        for code, answer in zip(codes, answers, strict=True):
            if isinstance(answer, MunicipalityUnavailableError | MunicipalCallError):
                _log.warning("ListDocuments: municipality %s did not answer: %s", code, answer)
                unavailable = IssuanceRefusal.MUNICIPALITY_UNAVAILABLE
                response.refusal = ISSUANCE_REFUSALS.to_wire(unavailable)
            elif isinstance(answer, BaseException):
                raise answer
            elif answer.refusal is not MunicipalRefusal.NOT_A_RESIDENT:
                # Only where the resident has a record (address, 本籍地): the
                # terminal never learns which others the centre routes to.
                response.municipalities.append(offers_to_wire(answer))
        return response

    async def _request(
        self, terminal: str, request: ipb.RequestDocumentRequest
    ) -> ipb.RequestDocumentResponse:
        order = issuance_requests.DocumentOrder(
            idempotency_key=request.idempotency_key,
            session_id=request.session_id,
            municipality_code=request.municipality_code,
            kind=DOCUMENT_KINDS.from_wire(request.kind),
            choice=choice_from_wire(request.options),
            fee_yen=request.fee_yen,
        )
        outcome = await issuance_requests.request_document(
            self.core, self.port, terminal_id=terminal, order=order
        )
        response = ipb.RequestDocumentResponse(
            refusal=ISSUANCE_REFUSALS.to_wire(outcome.refusal),
            municipal_refusal=MUNICIPAL_REFUSALS.to_wire(outcome.municipal_refusal),
        )
        row = outcome.request
        if row is not None and row.document is not None:
            response.request_id = row.request_id
            response.serial = row.serial
            response.document_pdf = row.document
            response.document_sha256 = row.document_sha256 or b""
            response.fee_yen = row.fee_yen
            response.state = ISSUANCE_STATES.to_wire(row.state)
        return response

    async def _confirm(
        self, terminal: str, request: ipb.ConfirmPrintedRequest
    ) -> ipb.ConfirmPrintedResponse:
        def work(tx: Transaction) -> ipb.ConfirmPrintedResponse:
            outcome = issuance_requests.confirm_printed(
                self.core,
                tx,
                terminal_id=terminal,
                request_id=request.request_id,
                document_sha256=request.document_sha256,
                print_job_id=request.print_job_id,
            )
            return ipb.ConfirmPrintedResponse(
                state=ISSUANCE_STATES.to_wire(outcome.state), charged_yen=outcome.charged_yen
            )

        response = await self._base._once(
            terminal, "ConfirmPrinted", request, ipb.ConfirmPrintedResponse, work
        )
        self._kick()
        return response

    async def _failure(
        self, terminal: str, request: ipb.ReportPrintFailureRequest
    ) -> ipb.ReportPrintFailureResponse:
        failure = PRINT_FAILURES.from_wire(request.failure)

        def work(tx: Transaction) -> ipb.ReportPrintFailureResponse:
            outcome = issuance_requests.report_failure(
                self.core, tx, terminal_id=terminal, request_id=request.request_id, failure=failure
            )
            return ipb.ReportPrintFailureResponse(
                state=ISSUANCE_STATES.to_wire(outcome.state), refunded_yen=outcome.refunded_yen
            )

        response = await self._base._once(
            terminal, "ReportPrintFailure", request, ipb.ReportPrintFailureResponse, work
        )
        self._kick()
        return response


def attach_issuance(
    server: grpc.aio.Server, base: VerifierServicer, *, port: MunicipalPort | None = None
) -> IssuanceServicer | None:
    """Register ``IssuanceService`` when ``[issuance]`` is configured, and start its sweep.

    ``port``: the municipalities (default: ``MunicipalClients`` from the config).

    Raises:
        ConfigError: a plaintext route outside development, or unreadable TLS files.
    """
    config = base.core.config.issuance
    if config is None:
        return None
    check_plaintext(config, insecure_dev=base.core.config.insecure_dev)
    servicer = IssuanceServicer(base, port if port is not None else MunicipalClients(config))
    ipb_grpc.add_IssuanceServiceServicer_to_server(servicer, server)
    servicer.start_sweeper()
    return servicer
