# SPDX-License-Identifier: Apache-2.0
"""A behavioural fake VerifierService on a real grpc.aio server (127.0.0.1, plaintext).

Used only by the client's unit tests: it scripts status codes per method
(UNAVAILABLE twice, then an answer) and records every request it saw, so the
tests observe real gRPC retries, deadlines and trailers.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import grpc.aio

from host.client import ClientConfig, VerifierClient
from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc

__all__ = ["FakeVerifier", "fake_verifier"]


class FakeVerifier(pb_grpc.VerifierServiceServicer):
    """Answers from a script; ``failures[method]`` is a list of codes to fail with first."""

    def __init__(self) -> None:
        self.failures: dict[str, list[grpc.StatusCode]] = defaultdict(list)
        self.error_info: pb.ErrorInfo | None = None
        self.details = ""
        self.delay = 0.0
        self.seen: dict[str, list[Any]] = defaultdict(list)
        self.metadata: list[tuple[tuple[str, Any], ...]] = []

    async def _script(self, method: str, request: Any, context: grpc.aio.ServicerContext) -> None:
        self.seen[method].append(request)
        self.metadata.append(tuple(context.invocation_metadata() or ()))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures[method]:
            code = self.failures[method].pop(0)
            if self.error_info is not None:
                context.set_trailing_metadata(
                    (("myna-error-bin", self.error_info.SerializeToString()),)
                )
            await context.abort(code, self.details or f"scripted {code.name}")

    async def OpenSession(self, request: Any, context: Any) -> pb.OpenSessionResponse:
        await self._script("OpenSession", request, context)
        return pb.OpenSessionResponse(session_id="s-1", nonce=bytes(range(32)))

    async def VerifyCard(self, request: Any, context: Any) -> pb.VerifyCardResponse:
        await self._script("VerifyCard", request, context)
        return pb.VerifyCardResponse(
            verdict=pb.VERDICT_REJECTED,
            reason=pb.REASON_CERTIFICATE_REVOKED,
            certificate_serial="0a",
            revocation_source=pb.REVOCATION_SOURCE_CRL,
        )

    async def AuthorizeTransfer(self, request: Any, context: Any) -> pb.AuthorizeTransferResponse:
        await self._script("AuthorizeTransfer", request, context)
        return pb.AuthorizeTransferResponse(
            verdict=pb.VERDICT_ACCEPTED,
            reason=pb.REASON_OK,
            authorization_id="auth-1",
            identity_verified=True,
            identity=pb.VerifiedIdentity(name="N", certificate_serial="0b"),
        )

    async def CommitTransfer(self, request: Any, context: Any) -> pb.CommitTransferResponse:
        await self._script("CommitTransfer", request, context)
        return pb.CommitTransferResponse(state=pb.TRANSFER_STATE_COMMITTED)

    async def ReverseTransfer(self, request: Any, context: Any) -> pb.ReverseTransferResponse:
        await self._script("ReverseTransfer", request, context)
        return pb.ReverseTransferResponse(state=pb.TRANSFER_STATE_REVERSED)

    async def RedeemReset(self, request: Any, context: Any) -> pb.RedeemResetResponse:
        await self._script("RedeemReset", request, context)
        return pb.RedeemResetResponse(
            verdict=pb.VERDICT_REJECTED, reason=pb.REASON_OTP_WRONG, attempts_left=2
        )

    async def ConfirmReset(self, request: Any, context: Any) -> pb.ConfirmResetResponse:
        await self._script("ConfirmReset", request, context)
        return pb.ConfirmResetResponse(recorded=True)


@asynccontextmanager
async def fake_verifier(**options: Any) -> AsyncIterator[tuple[FakeVerifier, VerifierClient]]:
    """Start the fake on a free port and yield it with a plaintext-dev client."""
    fake = FakeVerifier()
    server = grpc.aio.server()
    pb_grpc.add_VerifierServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    config = ClientConfig(f"127.0.0.1:{port}", "atm-01", insecure_dev=True, **options)
    client = VerifierClient(config)
    try:
        yield fake, client
    finally:
        await client.close()
        await server.stop(None)
