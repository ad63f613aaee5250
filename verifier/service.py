# SPDX-License-Identifier: Apache-2.0
"""The ``VerifierService`` servicer: identity, validation, idempotency, errors.

Why every RPC goes through ``_call`` and ``_idempotent``: the cross-cutting
rules are written once. The terminal is the CN of its mTLS client
certificate (never a request field); input is validated before anything
touches storage; a state-changing RPC claims its idempotency key in the same
transaction as its work and stores the answer, errors included, so a retry
gets the same answer and the same key with another body is refused
(terminal-conventions §3).

Where work runs: cheap checks run on the event loop (no thread hop):
identity, validation, and the certificate check when its revocation answer
is known without I/O (``Core.check_certificate_cached``); otherwise that
check runs in a worker thread, because it may download. The transactional
part (``verifier.idempotency``) is handed to ``Storage.submit`` and awaited:
on SQLite concurrent calls share one group commit, and nothing is answered
before its transaction is durable. VerifyCard checks the card's signature
inside its unit, where the session nonce is read. The PIN-reset RPCs keep
their thread (``_call`` with ``run``) and block on the same commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final, NoReturn, TypeVar

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from verifier import resets, transfers
from verifier import validation as v
from verifier.canonical import card_challenge_digest
from verifier.core import PURPOSE_NAMES, Core, ProofResult, to_us
from verifier.errors import (
    DeadlineError,
    InvalidRequestError,
    PermissionDeniedError,
    RequestError,
    StorageUnavailableError,
    UnauthenticatedError,
)
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
_KINDS: Final = {pb.CERTIFICATE_KIND_AUTHENTICATION: "auth", pb.CERTIFICATE_KIND_SIGNING: "sign"}

R = TypeVar("R", bound=Message)


def _stamp(value_us: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromMicroseconds(value_us)
    return stamp


class VerifierServicer(pb_grpc.VerifierServiceServicer):
    """grpc.aio implementation of ``myna.edge.v1.VerifierService``."""

    def __init__(
        self,
        core: Core,
        *,
        insecure_dev: bool = False,
        denylist: TerminalDenyList | None = None,
    ) -> None:
        """``denylist``: the terminal deny-list; by default the configured file.

        Raises:
            ConfigError: the deny-list file does not parse.
        """
        self.core = core
        self._insecure_dev = insecure_dev
        self._denylist = denylist or TerminalDenyList(core.config.tls.path("revoked_terminals"))
        self._trailer: tuple[tuple[str, str | bytes], ...] = (
            ((INSECURE_DEV_METADATA_KEY, _INSECURE_WARNING),) if insecure_dev else ()
        )

    # -- cross-cutting -----------------------------------------------------
    def _terminal(self, context: grpc.aio.ServicerContext[object, object]) -> str:
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
        raise UnauthenticatedError("NO_TERMINAL_CERTIFICATE", "a terminal certificate is required")

    async def _abort(
        self, context: grpc.aio.ServicerContext[object, object], exc: RequestError
    ) -> NoReturn:
        info = pb.ErrorInfo(reason=exc.reason, domain=_DOMAIN, metadata=exc.metadata)
        context.set_trailing_metadata(
            ((ERROR_METADATA_KEY, info.SerializeToString()), *self._trailer)
        )
        await context.abort(exc.code, str(exc))

    async def _call(
        self,
        context: grpc.aio.ServicerContext[object, object],
        request: Message,
        validate: Callable[[], object],
        run: Callable[[str], R] | None = None,
        *,
        run_async: Callable[[str], Awaitable[R]] | None = None,
    ) -> R:
        """Identity, size, validation and deadline, then ``run`` (in a thread) or ``run_async``."""
        if self._trailer:
            context.set_trailing_metadata(self._trailer)
        try:
            terminal = self._terminal(context)
            v.require_size(request)
            validate()
            remaining = context.time_remaining()
            if remaining is not None and remaining <= 0:
                # The caller gave up already: doing the work could only surprise it.
                raise DeadlineError("DEADLINE_EXCEEDED", "the deadline passed before work began")
            if run_async is not None:
                return await run_async(terminal)
            assert run is not None
            return await asyncio.to_thread(run, terminal)
        except RequestError as exc:
            await self._abort(context, exc)
        except StorageUnavailableError:
            # A database restart or a lost connection: nothing was committed, or
            # it was with its idempotency answer, so the client's gRPC may retry
            # (UNAVAILABLE) the same request with the same key. No DB text leaks.
            _log.warning("the database is unavailable; answering UNAVAILABLE")
            unavailable = RequestError("STORAGE_UNAVAILABLE", "the database is unavailable")
            unavailable.code = grpc.StatusCode.UNAVAILABLE
            await self._abort(context, unavailable)

    def _idempotent(
        self,
        terminal: str,
        method: str,
        request: Message,
        response_type: type[R],
        work: Callable[[Transaction], R],
    ) -> R:
        """The idempotent unit committed, from a worker thread (blocks until durable)."""
        unit = self._unit(terminal, method, request, response_type, work)
        return raise_refusal(self.core.storage.submit(unit).result())

    async def _idempotent_async(
        self,
        terminal: str,
        method: str,
        request: Message,
        response_type: type[R],
        work: Callable[[Transaction], R],
    ) -> R:
        """The idempotent unit committed, awaited on the event loop."""
        unit = self._unit(terminal, method, request, response_type, work)
        return raise_refusal(await asyncio.wrap_future(self.core.storage.submit(unit)))

    def _unit(
        self,
        terminal: str,
        method: str,
        request: Message,
        response_type: type[R],
        work: Callable[[Transaction], R],
    ) -> Callable[[Transaction], R | RequestError]:
        return idempotent_unit(
            terminal, method, request, response_type, work, lambda: to_us(self.core.now())
        )

    # -- sessions and cards ----------------------------------------------------
    async def OpenSession(  # noqa: N802 - gRPC method names
        self, request: pb.OpenSessionRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.OpenSessionResponse:
        """Open a session with a fresh single-use nonce."""

        def validate() -> None:
            v.check_idempotency_key(request.idempotency_key)
            v.check_enum(request.purpose, pb.SessionPurpose, "purpose")

        async def run(terminal: str) -> pb.OpenSessionResponse:
            def work(tx: Transaction) -> pb.OpenSessionResponse:
                session = self.core.open_session(tx, terminal, request.purpose)
                return pb.OpenSessionResponse(
                    session_id=session.session_id,
                    nonce=session.nonce,
                    expire_time=_stamp(session.expires_us),
                )

            return await self._idempotent_async(
                terminal, "OpenSession", request, pb.OpenSessionResponse, work
            )

        return await self._call(context, request, validate, run_async=run)

    def _session_proof(
        self, terminal: str, session_id: str, purpose: int, kind: str, proof: pb.CardProof
    ) -> ProofResult | None:
        """Check a proof over the session's challenge; None when the session is not usable."""
        with self.core.storage.reading() as tx:
            session = tx.get_session(session_id)
        if session is None or session.terminal_id != terminal:
            return None
        name = PURPOSE_NAMES[pb.SessionPurpose.ValueType(purpose)]
        digest = card_challenge_digest(name, terminal, session.nonce)
        return self.core.check_proof(
            kind, proof.certificate_der, proof.signature, digest, self.core.now()
        )

    async def VerifyCard(  # noqa: N802
        self, request: pb.VerifyCardRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.VerifyCardResponse:
        """Check the card's authentication certificate and its signature over the nonce."""

        def validate() -> None:
            v.check_idempotency_key(request.idempotency_key)
            v.check_id(request.session_id, "session_id", "ses")
            v.check_terminal_id(request.terminal_id)
            v.check_proof(request.proof, "proof")

        async def run(terminal: str) -> pb.VerifyCardResponse:
            if request.terminal_id != terminal:
                raise PermissionDeniedError(
                    "TERMINAL_MISMATCH", "terminal_id does not match the client certificate"
                )
            purpose = pb.SESSION_PURPOSE_CARD_VERIFICATION
            der, signature = request.proof.certificate_der, request.proof.signature
            # Chain, validity, revocation: on the loop when known without I/O.
            checked = self.core.check_certificate_cached("auth", der, self.core.now())
            if checked is None:
                checked = await asyncio.to_thread(
                    self.core.check_certificate, "auth", der, self.core.now()
                )
            challenge = PURPOSE_NAMES[purpose]

            def work(tx: Transaction) -> pb.VerifyCardResponse:
                now = self.core.now()
                session = tx.get_session(request.session_id)
                proof = None
                if session is not None and session.terminal_id == terminal:
                    # The signature covers the session's nonce, read in this transaction.
                    digest = card_challenge_digest(challenge, terminal, session.nonce)
                    proof = self.core.finish_proof(checked, digest, signature)
                reason = self.core.nonce_reason(session, terminal, purpose, now)
                if reason == "OK":
                    tx.consume_session(request.session_id, to_us(now))
                    reason = proof.reason if proof is not None else "NONCE_UNKNOWN"
                serial = proof.serial_hex if proof is not None else ""
                self.core.audit(tx, terminal, "VERIFY_CARD", reason, serial)
                return pb.VerifyCardResponse(
                    verdict=pb.VERDICT_ACCEPTED if reason == "OK" else pb.VERDICT_REJECTED,
                    reason=pb.Reason.Value(f"REASON_{reason}"),
                    certificate_serial=serial,
                    revocation_source=proof.source if proof is not None else 0,  # type: ignore[arg-type]
                )

            return await self._idempotent_async(
                terminal, "VerifyCard", request, pb.VerifyCardResponse, work
            )

        return await self._call(context, request, validate, run_async=run)

    async def CheckRevocation(  # noqa: N802
        self, request: pb.CheckRevocationRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.CheckRevocationResponse:
        """Revocation status by kind and serial (OCSP preferred, CRL fallback)."""

        def validate() -> None:
            v.check_enum(request.kind, pb.CertificateKind, "kind")
            serial = request.serial_hex
            if not 0 < len(serial) <= 40 or any(c not in "0123456789abcdefABCDEF" for c in serial):
                raise InvalidRequestError("serial_hex", "1-40 hexadecimal digits")

        def run(terminal: str) -> pb.CheckRevocationResponse:
            kind = _KINDS[request.kind]
            answer = self.core.revocation.status(kind, int(request.serial_hex, 16), self.core.now())
            response = pb.CheckRevocationResponse(
                status=pb.RevocationStatus.Value(f"REVOCATION_STATUS_{answer.status}"),
                source=pb.RevocationSource.Value(
                    f"REVOCATION_SOURCE_{answer.source or 'UNSPECIFIED'}"
                ),
            )
            if answer.revocation_time is not None:
                response.revocation_time.FromDatetime(answer.revocation_time)
            if answer.checked_time is not None:
                response.checked_time.FromDatetime(answer.checked_time)
            return response

        return await self._call(context, request, validate, run)

    # -- transfers ---------------------------------------------------------------
    async def AuthorizeTransfer(  # noqa: N802
        self,
        request: pb.AuthorizeTransferRequest,
        context: grpc.aio.ServicerContext[object, object],
    ) -> pb.AuthorizeTransferResponse:
        """Authorise a transfer; over the threshold an identity proof is required."""

        def validate() -> None:
            v.check_idempotency_key(request.idempotency_key)
            v.check_id(request.session_id, "session_id", "ses")
            if not request.HasField("statement"):
                raise InvalidRequestError("statement", "required")
            v.check_statement(request.statement)
            if request.HasField("identity_proof"):
                v.check_proof(request.identity_proof, "identity_proof")

        async def run(terminal: str) -> pb.AuthorizeTransferResponse:
            now = self.core.now()
            pre = transfers.precheck_authorize(self.core, terminal, request, now, allow_io=False)
            if pre is None:  # a revocation download may be needed: not on the event loop
                pre = await asyncio.to_thread(
                    transfers.precheck_authorize, self.core, terminal, request, now
                )
            assert pre is not None
            return await self._idempotent_async(
                terminal,
                "AuthorizeTransfer",
                request,
                pb.AuthorizeTransferResponse,
                lambda tx: transfers.authorize(self.core, tx, terminal, request, pre, now),
            )

        return await self._call(context, request, validate, run_async=run)

    async def CommitTransfer(  # noqa: N802
        self, request: pb.CommitTransferRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.CommitTransferResponse:
        """Commit exactly once; a repeat returns the first result."""

        def validate() -> None:
            v.check_idempotency_key(request.idempotency_key)
            v.check_id(request.authorization_id, "authorization_id", "aut")

        async def run(terminal: str) -> pb.CommitTransferResponse:
            def work(tx: Transaction) -> pb.CommitTransferResponse:
                state, when = transfers.change(
                    self.core, tx, terminal, request.authorization_id, pb.TRANSFER_STATE_COMMITTED
                )
                return pb.CommitTransferResponse(state=state, commit_time=_stamp(when))  # type: ignore[arg-type]

            return await self._idempotent_async(
                terminal, "CommitTransfer", request, pb.CommitTransferResponse, work
            )

        return await self._call(context, request, validate, run_async=run)

    async def ReverseTransfer(  # noqa: N802
        self, request: pb.ReverseTransferRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.ReverseTransferResponse:
        """Reverse an uncommitted authorisation; a repeat returns the first result."""

        def validate() -> None:
            v.check_idempotency_key(request.idempotency_key)
            v.check_id(request.authorization_id, "authorization_id", "aut")

        async def run(terminal: str) -> pb.ReverseTransferResponse:
            def work(tx: Transaction) -> pb.ReverseTransferResponse:
                state, when = transfers.change(
                    self.core, tx, terminal, request.authorization_id, pb.TRANSFER_STATE_REVERSED
                )
                return pb.ReverseTransferResponse(state=state, reverse_time=_stamp(when))  # type: ignore[arg-type]

            return await self._idempotent_async(
                terminal, "ReverseTransfer", request, pb.ReverseTransferResponse, work
            )

        return await self._call(context, request, validate, run_async=run)

    # -- PIN reset ---------------------------------------------------------------
    async def ReserveReset(  # noqa: N802
        self, request: pb.ReserveResetRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.ReserveResetResponse:
        """Book a reset for a card (smartphone side)."""
        return await self._call(
            context,
            request,
            lambda: resets.validate_reserve(request),
            lambda terminal: resets.reserve(self, terminal, request),
        )

    async def RedeemReset(  # noqa: N802
        self, request: pb.RedeemResetRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.RedeemResetResponse:
        """Redeem a booking at the kiosk; returns the issuer authorisation."""
        return await self._call(
            context,
            request,
            lambda: resets.validate_redeem(request),
            lambda terminal: resets.redeem(self, terminal, request),
        )

    async def ConfirmReset(  # noqa: N802
        self, request: pb.ConfirmResetRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.ConfirmResetResponse:
        """Record the card's answer to the reset (audit trail)."""
        return await self._call(
            context,
            request,
            lambda: resets.validate_confirm(request),
            lambda terminal: resets.confirm(self, terminal, request),
        )
