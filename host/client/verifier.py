# SPDX-License-Identifier: Apache-2.0
"""``VerifierClient``: typed async methods over ``myna.edge.v1.VerifierService``.

The one place the agent meets gRPC (STYLE §1, §3): each method takes and
returns plain values (``host.client.models``), sets a deadline on the call,
and turns any ``grpc.RpcError`` into a ``ServiceError`` subclass. Idempotency
keys are chosen by the caller per logical operation (``new_idempotency_key``)
and journaled before the call, so a retry — gRPC's own on UNAVAILABLE, or the
agent's after a crash — sends the same key and the service answers once.
Logs carry the method, the key and the outcome code, never a request: the
OTP travels only inside the RedeemReset message the contract defines.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Final, TypeVar

import grpc
import grpc.aio

from host.client.channel import ClientConfig, CredentialWatch, open_channel
from host.client.fleet import StatusReport, wire_reports
from host.client.models import (
    Authorization,
    CardProof,
    CardVerdict,
    Redemption,
    ResetOperation,
    SessionPurpose,
    TransferState,
    TransferStatus,
    VerifiedIdentity,
    VerifierSession,
)
from host.client.statement import TransferStatement
from host.client.translate import call_rpc, translate_rpc_error
from host.client.wire import (
    WIRE_ACCOUNT_TYPE,
    reason_name,
    revocation_source,
    wire_proof,
    wire_time,
)
from host.secret import Secret
from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc

__all__ = ["DEV_TERMINAL_HEADER", "VerifierClient", "new_idempotency_key"]

_log = logging.getLogger(__name__)

DEV_TERMINAL_HEADER: Final = "x-myna-dev-terminal-id"
_KEY_RE: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_T = TypeVar("_T")


def new_idempotency_key(operation: str) -> str:
    """A fresh key for one logical operation, e.g. ``transfer.commit.<uuid>``.

    Raises:
        ValueError: ``operation`` has characters a key may not carry.
    """
    key = f"{operation}.{uuid.uuid4().hex}"
    if not _KEY_RE.fullmatch(key):
        raise ValueError("operation must be short and use [A-Za-z0-9._:-]")
    return key


def _check_key(key: str) -> str:
    if not _KEY_RE.fullmatch(key):
        raise ValueError("an idempotency key is 1-128 of [A-Za-z0-9._:-]")
    return key


class VerifierClient:
    """An async client of the verifier; an async context manager.

    Args:
        config: target, terminal identity and mTLS material, deadlines.
        channel: an existing channel to use instead (closed with the client).
    """

    def __init__(self, config: ClientConfig, *, channel: grpc.aio.Channel | None = None) -> None:
        self._config = config
        self._channel = channel if channel is not None else open_channel(config)
        self._current_stub = pb_grpc.VerifierServiceStub(self._channel)
        # A renewed certificate is used from the next call (host.client.channel);
        # never with a channel passed in, which is not ours to replace.
        self._watch = CredentialWatch(config) if channel is None else None
        self._retired: set[asyncio.Task[None]] = set()
        self._metadata: tuple[tuple[str, str], ...] = (
            ((DEV_TERMINAL_HEADER, config.terminal_id),) if config.insecure_dev else ()
        )
        self._closed = False

    @property
    def terminal_id(self) -> str:
        """This terminal's id."""
        return self._config.terminal_id

    @property
    def _stub(self) -> pb_grpc.VerifierServiceAsyncStub:
        """The stub for the next call: on a new channel once the certificate was renewed."""
        renewed = self._watch.poll() if self._watch is not None and not self._closed else None
        if renewed is not None:
            old, self._channel = self._channel, open_channel(renewed)
            self._current_stub = pb_grpc.VerifierServiceStub(self._channel)
            # The old channel's calls in flight finish (at most one deadline), then it closes.
            task = asyncio.get_running_loop().create_task(old.close(self._config.timeout))
            self._retired.add(task)
            task.add_done_callback(self._retired.discard)
        return self._current_stub

    @property
    def credential_generation(self) -> int:
        """How many renewed certificates this client has switched to (0: none)."""
        return self._watch.generation if self._watch is not None else 0

    async def close(self) -> None:
        """Close the channel; harmless twice."""
        if not self._closed:
            self._closed = True
            await self._channel.close()
            await asyncio.gather(*self._retired)

    async def __aenter__(self) -> VerifierClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def report_status(self, reports: AsyncIterator[StatusReport]) -> int:
        """Stream ``reports`` to the centre until they end or it closes; how many it took.

        No deadline (a stream for the agent's life) and no retry (the agent
        reopens it). Raises ServiceError (a subclass) when the stream fails.
        """
        try:
            answer = await self._stub.ReportStatus(wire_reports(reports), metadata=self._metadata)
        except grpc.RpcError as exc:
            raise translate_rpc_error(exc, "ReportStatus") from None
        return int(answer.reports)

    async def reachable(self, timeout: float = 1.0) -> bool:
        """Whether the channel connects (TLS handshake included) within ``timeout`` s.

        Makes no call and changes nothing: the agent's live verifier status,
        which must not say "online" only because there was nothing to recover.
        """
        try:
            await asyncio.wait_for(self._channel.channel_ready(), timeout)
        except (TimeoutError, grpc.RpcError):
            return False
        return True

    def __repr__(self) -> str:
        mode = "plaintext-dev" if self._config.insecure_dev else "mTLS"
        return f"<VerifierClient {self._config.target} {mode} as {self._config.terminal_id!r}>"

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
        self, purpose: SessionPurpose, idempotency_key: str, *, timeout: float | None = None
    ) -> VerifierSession:
        """Open a session for ``purpose`` and get its single-use nonce.

        Raises:
            ValueError: a malformed key.
            ServiceError: a subclass saying why the call failed.
        """
        request = pb.OpenSessionRequest(
            purpose=pb.SessionPurpose.Value(f"SESSION_PURPOSE_{purpose.value}"),
            idempotency_key=_check_key(idempotency_key),
        )
        r = await self._call(
            "OpenSession", idempotency_key, self._stub.OpenSession, request, timeout
        )
        return VerifierSession(
            r.session_id, r.nonce, wire_time(r.expire_time, r.HasField("expire_time"))
        )

    async def verify_card(
        self,
        session_id: str,
        proof: CardProof,
        idempotency_key: str,
        *,
        timeout: float | None = None,
    ) -> CardVerdict:
        """Check the card's authentication certificate and its signed challenge.

        Raises:
            ValueError: a malformed key.
            ServiceError: a subclass saying why the call failed.
        """
        request = pb.VerifyCardRequest(
            session_id=session_id,
            terminal_id=self.terminal_id,
            proof=wire_proof(proof),
            idempotency_key=_check_key(idempotency_key),
        )
        r = await self._call("VerifyCard", idempotency_key, self._stub.VerifyCard, request, timeout)
        return CardVerdict(
            r.verdict == pb.VERDICT_ACCEPTED,
            reason_name(r.reason),
            r.certificate_serial,
            revocation_source(r.revocation_source),
        )

    async def authorize_transfer(
        self,
        session_id: str,
        statement: TransferStatement,
        proof: CardProof | None,
        idempotency_key: str,
        *,
        timeout: float | None = None,
    ) -> Authorization:
        """Ask the verifier to authorise ``statement`` (proof needed over the threshold).

        Raises:
            ValueError: a malformed key.
            ServiceError: a subclass saying why the call failed.
        """
        request = pb.AuthorizeTransferRequest(
            session_id=session_id,
            statement=pb.TransferStatement(
                nonce=statement.nonce,
                terminal_id=statement.terminal_id,
                amount_yen=statement.amount_yen,
                payee_bank_code=statement.payee_bank_code,
                payee_branch_code=statement.payee_branch_code,
                payee_account_type=WIRE_ACCOUNT_TYPE[statement.payee_account_type],
                payee_account_number=statement.payee_account_number,
                payee_name=statement.payee_name,
                remitter_name=statement.remitter_name,
                remitter_phone=statement.remitter_phone,
            ),
            idempotency_key=_check_key(idempotency_key),
        )
        if proof is not None:
            request.identity_proof.CopyFrom(wire_proof(proof))
        r = await self._call(
            "AuthorizeTransfer", idempotency_key, self._stub.AuthorizeTransfer, request, timeout
        )
        identity = None
        if r.HasField("identity"):
            i = r.identity
            identity = VerifiedIdentity(
                i.name,
                i.address,
                i.birth_date,
                i.gender,
                i.certificate_serial,
                revocation_source(i.revocation_source),
            )
        return Authorization(
            r.verdict == pb.VERDICT_ACCEPTED,
            reason_name(r.reason),
            r.authorization_id,
            wire_time(r.expire_time, r.HasField("expire_time")),
            r.identity_verified,
            identity,
        )

    async def commit_transfer(
        self, authorization_id: str, idempotency_key: str, *, timeout: float | None = None
    ) -> TransferStatus:
        """Commit an authorised transfer (exactly once at the verifier).

        Raises:
            ValueError: a malformed key.
            ServiceError: a subclass (``ServiceStateError`` when already reversed).
        """
        request = pb.CommitTransferRequest(
            authorization_id=authorization_id, idempotency_key=_check_key(idempotency_key)
        )
        r = await self._call(
            "CommitTransfer", idempotency_key, self._stub.CommitTransfer, request, timeout
        )
        state = TransferState(pb.TransferState.Name(r.state).removeprefix("TRANSFER_STATE_"))
        when = wire_time(r.commit_time, r.HasField("commit_time"))
        return TransferStatus(state, when, late=r.late)

    async def reverse_transfer(
        self, authorization_id: str, idempotency_key: str, *, timeout: float | None = None
    ) -> TransferStatus:
        """Reverse an authorised, uncommitted transfer.

        Raises:
            ValueError: a malformed key.
            ServiceError: a subclass (``ServiceStateError`` when already committed).
        """
        request = pb.ReverseTransferRequest(
            authorization_id=authorization_id, idempotency_key=_check_key(idempotency_key)
        )
        r = await self._call(
            "ReverseTransfer", idempotency_key, self._stub.ReverseTransfer, request, timeout
        )
        state = TransferState(pb.TransferState.Name(r.state).removeprefix("TRANSFER_STATE_"))
        return TransferStatus(state, wire_time(r.reverse_time, r.HasField("reverse_time")))

    async def redeem_reset(
        self,
        session_id: str,
        operation: ResetOperation,
        proof: CardProof,
        *,
        card_challenge: bytes,
        card_id: bytes,
        one_time_password: Secret | None,
        idempotency_key: str,
        timeout: float | None = None,
    ) -> Redemption:
        """Redeem a booked reset; the OTP goes only into this request.

        Raises:
            ValueError: a malformed key, or a wiped OTP.
            ServiceError: a subclass saying why the call failed.
        """
        request = pb.RedeemResetRequest(
            session_id=session_id,
            terminal_id=self.terminal_id,
            operation=pb.ResetOperation.Value(f"RESET_OPERATION_{operation.value}"),
            proof=wire_proof(proof),
            card_challenge=card_challenge,
            card_id=card_id,
            idempotency_key=_check_key(idempotency_key),
        )
        if one_time_password is not None:
            request.one_time_password = one_time_password.reveal().decode("ascii")
        try:
            r = await self._call(
                "RedeemReset", idempotency_key, self._stub.RedeemReset, request, timeout
            )
        finally:
            request.Clear()  # drop the only copy of the OTP we made
        return Redemption(
            r.verdict == pb.VERDICT_ACCEPTED,
            reason_name(r.reason),
            r.reservation_id,
            r.issuer_authorization,
            r.attempts_left,
        )

    async def confirm_reset(
        self,
        reservation_id: str,
        succeeded: bool,
        idempotency_key: str,
        *,
        timeout: float | None = None,
    ) -> bool:
        """Report whether the card accepted the reset; returns whether it was recorded.

        Raises:
            ValueError: a malformed key.
            ServiceError: a subclass saying why the call failed.
        """
        request = pb.ConfirmResetRequest(
            reservation_id=reservation_id,
            terminal_id=self.terminal_id,
            succeeded=succeeded,
            idempotency_key=_check_key(idempotency_key),
        )
        r = await self._call(
            "ConfirmReset", idempotency_key, self._stub.ConfirmReset, request, timeout
        )
        return bool(r.recorded)
