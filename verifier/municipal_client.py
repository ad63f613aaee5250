# SPDX-License-Identifier: Apache-2.0
"""The centre's gRPC client to the municipalities (``MunicipalService``), by code.

Why here: it is the one place ``grpc.RpcError`` from a municipality is
translated (STYLE §3): a status that leaves the outcome unknown
(UNAVAILABLE, DEADLINE_EXCEEDED, ...) becomes
``MunicipalityUnavailableError``, a definitive one (INVALID_ARGUMENT,
NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION) ``MunicipalCallError``; the
answers become the port's dataclasses through ``verifier.issuance_wire``.
Calls wait for the channel to be ready within their deadline (a municipality
that restarts is reached again). The centre authenticates with its client
certificate (mTLS) and checks the municipality's server certificate against
the route's CA. Channels are
grpc.aio, opened on first use on the caller's loop; ``close`` is harmless
twice. Bodies (certificates, documents) are never logged.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Final

import grpc

from myna.edge.v1 import municipal_pb2 as mpb
from myna.edge.v1 import municipal_pb2_grpc as mpb_grpc
from verifier.errors import ConfigError
from verifier.issuance_codes import MunicipalRefusal, PrintFailure
from verifier.issuance_config import IssuanceConfig, MunicipalityRoute
from verifier.issuance_port import (
    IssueAnswer,
    IssueOrder,
    MunicipalCallError,
    MunicipalityUnavailableError,
    MunicipalOffers,
    PrintedAnswer,
)
from verifier.issuance_wire import (
    DOCUMENT_KINDS,
    MUNICIPAL_REFUSALS,
    PRINT_FAILURES,
    choice_to_wire,
    offers_from_wire,
)

__all__ = ["MunicipalClients"]

_log = logging.getLogger(__name__)

#: Statuses after which the municipality's outcome is known (and a retry cannot change it).
_DEFINITIVE: Final = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,
    }
)
#: Reconnect soon after a municipality comes back (gRPC's default backoff
#: reaches two minutes); calls wait for the channel within their deadline.
_OPTIONS: Final = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
)
_STATES: Final = {
    mpb.DOCUMENT_STATE_ISSUED: "ISSUED",
    mpb.DOCUMENT_STATE_PRINTED: "PRINTED",
    mpb.DOCUMENT_STATE_VOID: "VOID",
}


def _read(path: Path | None, what: str) -> bytes:
    if path is None:
        raise ConfigError(f"{what} is not configured")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from exc


def _credentials(route: MunicipalityRoute) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=_read(route.ca, "municipality CA"),
        private_key=_read(route.client_key, "centre client key"),
        certificate_chain=_read(route.client_cert, "centre client certificate"),
    )


class MunicipalClients:
    """``MunicipalPort`` over gRPC: one channel per configured municipality."""

    def __init__(self, config: IssuanceConfig) -> None:
        """Reads the TLS material now, so a bad route fails at start-up.

        Raises:
            ConfigError: a CA, key or certificate file cannot be read.
        """
        self._config = config
        self._credentials = {
            r.code: None if r.plaintext else _credentials(r) for r in config.municipalities
        }
        self._channels: dict[str, grpc.aio.Channel] = {}

    def __repr__(self) -> str:
        return f"MunicipalClients({sorted(self._config.routes)})"

    def codes(self) -> tuple[str, ...]:
        """The municipalities this centre routes to."""
        return tuple(self._config.routes)

    def _stub(self, code: str) -> mpb_grpc.MunicipalServiceAsyncStub:
        channel = self._channels.get(code)
        if channel is None:
            route = self._config.routes[code]
            credentials = self._credentials[code]
            channel = (
                grpc.aio.insecure_channel(route.address, options=_OPTIONS)
                if credentials is None
                else grpc.aio.secure_channel(route.address, credentials, options=_OPTIONS)
            )
            self._channels[code] = channel
        return mpb_grpc.MunicipalServiceStub(channel)

    def _translate(self, code: str, exc: grpc.RpcError) -> Exception:
        status = exc.code() if isinstance(exc, grpc.aio.AioRpcError) else grpc.StatusCode.UNKNOWN
        if status in _DEFINITIVE:
            return MunicipalCallError(status.name)
        return MunicipalityUnavailableError(f"municipality {code}: {status.name}")

    async def list_offers(self, code: str, certificate_der: bytes) -> MunicipalOffers:
        """ListResidentDocuments for the card's certificate."""
        request = mpb.ListResidentDocumentsRequest(
            credential=mpb.ResidentCredential(authentication_certificate=certificate_der)
        )
        try:
            answer = await self._stub(code).ListResidentDocuments(
                request, timeout=self._config.call_timeout_seconds, wait_for_ready=True
            )
        except grpc.RpcError as exc:
            raise self._translate(code, exc) from None
        return offers_from_wire(answer)

    async def issue(self, code: str, order: IssueOrder) -> IssueAnswer:
        """IssueDocument with the centre's request id as the key."""
        request = mpb.IssueDocumentRequest(
            idempotency_key=order.idempotency_key,
            credential=mpb.ResidentCredential(authentication_certificate=order.certificate_der),
            kind=DOCUMENT_KINDS.to_wire(order.kind),
            options=choice_to_wire(order.choice),
            fee_yen=order.fee_yen,
            centre_request_id=order.idempotency_key,
            terminal_id=order.terminal_id,
        )
        try:
            answer = await self._stub(code).IssueDocument(
                request, timeout=self._config.call_timeout_seconds, wait_for_ready=True
            )
        except grpc.RpcError as exc:
            raise self._translate(code, exc) from None
        refusal = (
            MUNICIPAL_REFUSALS.from_wire(answer.refusal)
            if answer.refusal in MUNICIPAL_REFUSALS.wire_values()
            else MunicipalRefusal.COUNTER_ONLY
        )
        return IssueAnswer(
            refusal=refusal,
            serial=answer.serial,
            document=answer.document_pdf,
            document_sha256=answer.document_sha256,
            fee_yen=answer.fee_yen,
        )

    async def record_printed(
        self, code: str, *, key: str, serial: str, document_sha256: bytes
    ) -> PrintedAnswer:
        """RecordDocumentPrinted."""
        request = mpb.RecordDocumentPrintedRequest(
            idempotency_key=key, serial=serial, document_sha256=document_sha256
        )
        try:
            answer = await self._stub(code).RecordDocumentPrinted(
                request, timeout=self._config.call_timeout_seconds, wait_for_ready=True
            )
        except grpc.RpcError as exc:
            raise self._translate(code, exc) from None
        return PrintedAnswer(_STATES.get(answer.state, "UNSPECIFIED"))

    async def void(
        self, code: str, *, key: str, serial: str, failure: PrintFailure
    ) -> PrintedAnswer:
        """VoidDocument."""
        request = mpb.VoidDocumentRequest(
            idempotency_key=key, serial=serial, failure=PRINT_FAILURES.to_wire(failure)
        )
        try:
            answer = await self._stub(code).VoidDocument(
                request, timeout=self._config.call_timeout_seconds, wait_for_ready=True
            )
        except grpc.RpcError as exc:
            raise self._translate(code, exc) from None
        return PrintedAnswer(_STATES.get(answer.state, "UNSPECIFIED"))

    async def close(self) -> None:
        """Close every channel; harmless twice."""
        channels, self._channels = self._channels, {}
        for channel in channels.values():
            await channel.close()

    async def __aenter__(self) -> MunicipalClients:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
