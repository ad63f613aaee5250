# SPDX-License-Identifier: Apache-2.0
"""The ``VerifierService`` servicer: identity, validation, idempotency, errors.

Why it holds no rule of the business: each RPC validates its request
(``verifier.validation``), calls the domain (``sessions``, ``readings``,
``resets``, ``transfers``, which need no server) through ``_call`` and one
idempotent path ``_once``, and answers through ``verifier.translate``. The
cross-cutting rules are written once. The terminal is the CN of its mTLS client
certificate (never a request field); input is validated before anything
touches storage; a state-changing RPC claims its idempotency key in the same
transaction as its work and stores the answer, errors included, so a retry
gets the same answer and the same key with another body is refused
(terminal-conventions §3).

Where work runs: cheap checks run on the event loop (no thread hop):
identity, validation, and the certificate check when its revocation answer
is known without I/O (``Core.check_certificate_cached``); otherwise that
check runs in a worker thread, because it may download. The transactional
part (``verifier.idempotency``) is handed to ``Storage.run`` and awaited:
on SQLite concurrent calls share one group commit, and nothing is answered
before its transaction is durable. The card's signature over a session
challenge is checked inside the unit, where the session nonce is read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final, NoReturn, TypeVar

import grpc
from google.protobuf.message import Message

from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from verifier import readings, resets, sessions, transfers, wire
from verifier import translate as t
from verifier import validation as v
from verifier.codes import CertKind, ErrorReason, ResetPolicy
from verifier.core import Core, ProofResult, to_us
from verifier.errors import (
    DeadlineError,
    RequestError,
    StorageUnavailableError,
    UnauthenticatedError,
)
from verifier.fleet import FleetRegistry
from verifier.idempotency import idempotent_unit, raise_refusal
from verifier.storage import Transaction
from verifier.terminal_denylist import TerminalDenyList

__all__ = [
    "DEV_TERMINAL_HEADER",
    "ERROR_METADATA_KEY",
    "INSECURE_DEV_METADATA_KEY",
    "VerifierServicer",
]

_log = logging.getLogger(__name__)

#: Trailing metadata key carrying a serialized ``ErrorInfo``.
ERROR_METADATA_KEY: Final = "myna-error-bin"
#: Under --insecure-dev only: the header naming the terminal (no certificate).
DEV_TERMINAL_HEADER: Final = "x-myna-dev-terminal-id"
#: Under --insecure-dev only: every response's trailing metadata says so (issue 22).
INSECURE_DEV_METADATA_KEY: Final = "myna-insecure-dev"
_INSECURE_WARNING: Final = (
    "WARNING: insecure development verifier: plaintext, terminals not authenticated"
)
_DOMAIN: Final = "verifier.myna-edge"

Q = TypeVar("Q", bound=Message)
R = TypeVar("R", bound=Message)
_Context = grpc.aio.ServicerContext[object, object]


class VerifierServicer(pb_grpc.VerifierServiceServicer):
    """grpc.aio implementation of ``myna.edge.v1.VerifierService``."""

    def __init__(
        self,
        core: Core,
        *,
        insecure_dev: bool = False,
        denylist: TerminalDenyList | None = None,
        fleet: FleetRegistry | None = None,
    ) -> None:
        """``denylist``: the terminal deny-list; by default the configured file.
        ``fleet``: where status reports go (``verifier.fleet``); by default a new one.

        Raises:
            ConfigError: the deny-list file does not parse.
        """
        self.core = core
        self._insecure_dev = insecure_dev
        self._denylist = denylist or TerminalDenyList(core.config.tls.path("revoked_terminals"))
        self.fleet = fleet if fleet is not None else FleetRegistry()
        self._trailer: tuple[tuple[str, str | bytes], ...] = (
            ((INSECURE_DEV_METADATA_KEY, _INSECURE_WARNING),) if insecure_dev else ()
        )

    # -- cross-cutting -----------------------------------------------------
    def _terminal(self, context: _Context) -> str:
        auth = context.auth_context()
        names = list(auth.get("x509_common_name", ()))
        if names:
            terminal = bytes(names[0]).decode("utf-8", "replace")
            v.check_terminal_id(terminal, "client certificate CN")
            pems = list(auth.get("x509_pem_cert", ()))
            self._denylist.check(terminal, bytes(pems[0]) if pems else None)
            return terminal
        if self._insecure_dev:
            terminal = "dev-terminal"
            for key, value in context.invocation_metadata() or ():
                if key == DEV_TERMINAL_HEADER and isinstance(value, str):
                    v.check_terminal_id(value, DEV_TERMINAL_HEADER)
                    terminal = value
                    break
            self._denylist.check(terminal, None)
            return terminal
        raise UnauthenticatedError(
            ErrorReason.NO_TERMINAL_CERTIFICATE, "a terminal certificate is required"
        )

    async def _abort(self, context: _Context, exc: RequestError) -> NoReturn:
        info = pb.ErrorInfo(reason=exc.reason, domain=_DOMAIN, metadata=exc.metadata)
        context.set_trailing_metadata(
            ((ERROR_METADATA_KEY, info.SerializeToString()), *self._trailer)
        )
        await context.abort(exc.code, str(exc))

    async def _call(
        self,
        context: _Context,
        request: Q,
        validate: Callable[[Q], None],
        handle: Callable[[str, Q], Awaitable[R]],
    ) -> R:
        """Identity, size, ``validate``, deadline, then ``handle``; errors become statuses."""
        if self._trailer:
            context.set_trailing_metadata(self._trailer)
        try:
            terminal = self._terminal(context)
            v.require_size(request)
            validate(request)
            remaining = context.time_remaining()
            if remaining is not None and remaining <= 0:
                # The caller gave up already: doing the work could only surprise it.
                raise DeadlineError(
                    ErrorReason.DEADLINE_EXCEEDED, "the deadline passed before work began"
                )
            return await handle(terminal, request)
        except RequestError as exc:
            await self._abort(context, exc)
        except StorageUnavailableError:
            # A database restart or a lost connection: nothing was committed, or
            # it was with its idempotency answer, so the client's gRPC may retry
            # (UNAVAILABLE) the same request with the same key. No DB text leaks.
            _log.warning("the database is unavailable; answering UNAVAILABLE")
            unavailable = RequestError(
                ErrorReason.STORAGE_UNAVAILABLE, "the database is unavailable"
            )
            unavailable.code = grpc.StatusCode.UNAVAILABLE
            await self._abort(context, unavailable)

    async def _once(
        self,
        terminal: str,
        method: str,
        request: Message,
        response_type: type[R],
        work: Callable[[Transaction], R],
    ) -> R:
        """The one idempotent path: ``work`` and its stored answer, committed, awaited."""
        unit = idempotent_unit(
            terminal, method, request, response_type, work, lambda: to_us(self.core.now())
        )
        return raise_refusal(await self.core.storage.run(unit))

    async def _certificate(self, kind: CertKind, certificate_der: bytes) -> ProofResult:
        """Chain, validity, revocation: on the loop when known without I/O, else in a thread."""
        now = self.core.now()
        checked = self.core.check_certificate_cached(kind, certificate_der, now)
        if checked is None:
            checked = await asyncio.to_thread(
                self.core.check_certificate, kind, certificate_der, now
            )
        return checked

    # -- the RPCs: validate, call the domain, answer --------------------------
    async def OpenSession(  # noqa: N802 - gRPC method names
        self, request: pb.OpenSessionRequest, context: _Context
    ) -> pb.OpenSessionResponse:
        """Open a session with a fresh single-use nonce."""
        return await self._call(context, request, v.open_session_request, self._open_session)

    async def VerifyCard(  # noqa: N802
        self, request: pb.VerifyCardRequest, context: _Context
    ) -> pb.VerifyCardResponse:
        """Check the card's authentication certificate and its signature over the nonce."""
        return await self._call(context, request, v.verify_card_request, self._verify_card)

    async def CheckRevocation(  # noqa: N802
        self, request: pb.CheckRevocationRequest, context: _Context
    ) -> pb.CheckRevocationResponse:
        """Revocation status by kind and serial (OCSP preferred, CRL fallback)."""
        return await self._call(
            context, request, v.check_revocation_request, self._check_revocation
        )

    def _check_still(self, context: _Context) -> None:
        self._terminal(context)  # revoked meanwhile: raises, and the stream ends

    async def ReportStatus(  # noqa: N802
        self, request_iterator: AsyncIterator[pb.ReportStatusRequest], context: _Context
    ) -> pb.ReportStatusResponse:
        """This terminal's status stream (``verifier.fleet``); cut when it is revoked."""
        try:
            terminal = self._terminal(context)
            return await self.fleet.serve(
                terminal, request_iterator, lambda: self._check_still(context)
            )
        except RequestError as exc:
            await self._abort(context, exc)

    async def AuthorizeTransfer(  # noqa: N802
        self, request: pb.AuthorizeTransferRequest, context: _Context
    ) -> pb.AuthorizeTransferResponse:
        """Authorise a transfer; over the threshold an identity proof is required."""
        return await self._call(
            context, request, v.authorize_transfer_request, self._authorize_transfer
        )

    async def CommitTransfer(  # noqa: N802
        self, request: pb.CommitTransferRequest, context: _Context
    ) -> pb.CommitTransferResponse:
        """Commit exactly once; a repeat returns the first result."""
        return await self._call(context, request, v.change_transfer_request, self._commit)

    async def ReverseTransfer(  # noqa: N802
        self, request: pb.ReverseTransferRequest, context: _Context
    ) -> pb.ReverseTransferResponse:
        """Reverse an uncommitted authorisation; a repeat returns the first result."""
        return await self._call(context, request, v.change_transfer_request, self._reverse)

    async def ReserveReset(  # noqa: N802
        self, request: pb.ReserveResetRequest, context: _Context
    ) -> pb.ReserveResetResponse:
        """Book a reset for a card (smartphone side)."""
        return await self._call(context, request, v.reserve_reset_request, self._reserve)

    async def RedeemReset(  # noqa: N802
        self, request: pb.RedeemResetRequest, context: _Context
    ) -> pb.RedeemResetResponse:
        """Redeem a booking at the kiosk; returns the issuer authorisation."""
        return await self._call(context, request, v.redeem_reset_request, self._redeem)

    async def ConfirmReset(  # noqa: N802
        self, request: pb.ConfirmResetRequest, context: _Context
    ) -> pb.ConfirmResetResponse:
        """Record the card's answer to the reset (audit trail)."""
        return await self._call(context, request, v.confirm_reset_request, self._confirm)

    # -- handlers: (terminal, validated request) -> response -------------------
    async def _open_session(
        self, terminal: str, request: pb.OpenSessionRequest
    ) -> pb.OpenSessionResponse:
        purpose = wire.PURPOSES.from_wire(request.purpose)
        return await self._once(
            terminal,
            "OpenSession",
            request,
            pb.OpenSessionResponse,
            lambda tx: t.opened_response(sessions.open_session(self.core, tx, terminal, purpose)),
        )

    async def _verify_card(
        self, terminal: str, request: pb.VerifyCardRequest
    ) -> pb.VerifyCardResponse:
        sessions.check_terminal(terminal, request.terminal_id)
        proof = t.card_proof(request.proof)
        checked = await self._certificate(CertKind.AUTH, proof.certificate_der)

        def work(tx: Transaction) -> pb.VerifyCardResponse:
            reading = readings.verify_card(
                self.core,
                tx,
                terminal_id=terminal,
                session_id=request.session_id,
                checked=checked,
                signature=proof.signature,
                presented=proof.presented,
            )
            return t.reading_response(reading)

        return await self._once(terminal, "VerifyCard", request, pb.VerifyCardResponse, work)

    async def _check_revocation(
        self, terminal: str, request: pb.CheckRevocationRequest
    ) -> pb.CheckRevocationResponse:
        del terminal  # any authenticated terminal may ask; nothing is stored
        kind = wire.CERT_KINDS.from_wire(request.kind)
        answer = await asyncio.to_thread(
            readings.revocation_status, self.core, kind, request.serial_hex
        )
        return t.revocation_response(answer)

    async def _authorize_transfer(
        self, terminal: str, request: pb.AuthorizeTransferRequest
    ) -> pb.AuthorizeTransferResponse:
        wanted = t.transfer_request(request)
        transfers.check_terminal(terminal, wanted)
        checked = None
        if wanted.proof is not None and transfers.needs_proof(self.core, wanted):
            checked = await self._certificate(CertKind.SIGN, wanted.proof.certificate_der)
        pre = transfers.precheck(self.core, terminal, wanted, checked)
        return await self._once(
            terminal,
            "AuthorizeTransfer",
            request,
            pb.AuthorizeTransferResponse,
            lambda tx: t.authorization_response(
                transfers.authorize(self.core, tx, terminal, wanted, pre)
            ),
        )

    async def _commit(
        self, terminal: str, request: pb.CommitTransferRequest
    ) -> pb.CommitTransferResponse:
        aid = request.authorization_id
        return await self._once(
            terminal,
            "CommitTransfer",
            request,
            pb.CommitTransferResponse,
            lambda tx: t.commit_response(
                transfers.commit(self.core, tx, terminal_id=terminal, authorization_id=aid)
            ),
        )

    async def _reverse(
        self, terminal: str, request: pb.ReverseTransferRequest
    ) -> pb.ReverseTransferResponse:
        aid = request.authorization_id
        return await self._once(
            terminal,
            "ReverseTransfer",
            request,
            pb.ReverseTransferResponse,
            lambda tx: t.reverse_response(
                transfers.reverse(self.core, tx, terminal_id=terminal, authorization_id=aid)
            ),
        )

    async def _reserve(
        self, terminal: str, request: pb.ReserveResetRequest
    ) -> pb.ReserveResetResponse:
        sessions.check_terminal(terminal, request.terminal_id)
        resets.master_key(self.core)  # RESET_NOT_CONFIGURED before anything is stored
        booking = t.booking_request(request)
        kind = resets.PROOF_KIND[booking.operation]
        checked = await self._certificate(kind, booking.proof.certificate_der)
        response = await self._once(
            terminal,
            "ReserveReset",
            request,
            pb.ReserveResetResponse,
            lambda tx: t.booking_response(
                resets.reserve(self.core, tx, terminal, booking, checked)
            ),
        )
        # The OTP is derived, never stored (not even in the idempotency record).
        otp_policy = wire.RESET_POLICIES.to_wire(ResetPolicy.OTP)
        if response.reservation_id and response.policy == otp_policy:
            response.one_time_password = resets.one_time_password(
                self.core, response.reservation_id
            )
        return response

    async def _redeem(
        self, terminal: str, request: pb.RedeemResetRequest
    ) -> pb.RedeemResetResponse:
        sessions.check_terminal(terminal, request.terminal_id)
        resets.master_key(self.core)  # RESET_NOT_CONFIGURED before anything is stored
        redemption = t.redemption_request(request)
        kind = resets.PROOF_KIND[redemption.operation]
        checked = await self._certificate(kind, redemption.proof.certificate_der)
        return await self._once(
            terminal,
            "RedeemReset",
            request,
            pb.RedeemResetResponse,
            lambda tx: t.redemption_response(
                resets.redeem(self.core, tx, terminal, redemption, checked)
            ),
        )

    async def _confirm(
        self, terminal: str, request: pb.ConfirmResetRequest
    ) -> pb.ConfirmResetResponse:
        sessions.check_terminal(terminal, request.terminal_id)

        def work(tx: Transaction) -> pb.ConfirmResetResponse:
            resets.confirm(
                self.core,
                tx,
                terminal_id=terminal,
                reservation_id=request.reservation_id,
                succeeded=request.succeeded,
            )
            return pb.ConfirmResetResponse(recorded=True)

        return await self._once(terminal, "ConfirmReset", request, pb.ConfirmResetResponse, work)
