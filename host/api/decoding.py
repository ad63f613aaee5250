# SPDX-License-Identifier: Apache-2.0
"""A server interceptor that refuses undecodable request bodies with INVALID_ARGUMENT.

Why: grpc.aio answers a body that does not parse as the method's request
message with UNKNOWN and the protobuf parser's exception text. A malformed
request is the caller's error, and the API documents INVALID_ARGUMENT for
it (found by the fuzz campaign, ``myna_edge.chaos.fuzz``). The interceptor
wraps each handler's deserializer: a ``DecodeError`` becomes a marker, and
the wrapped handler aborts with INVALID_ARGUMENT before the servicer runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

import grpc
from google.protobuf.message import DecodeError

__all__ = ["UNDECODABLE_DETAILS", "DecodeGuardInterceptor"]

UNDECODABLE_DETAILS: Final = "the request body does not decode as the method's request message"
_UNDECODABLE: Final = object()


def _tolerant(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any]:
    def tolerant(data: bytes) -> Any:
        if deserialize is None:
            return data
        try:
            return deserialize(data)
        except DecodeError:
            return _UNDECODABLE

    return tolerant


class DecodeGuardInterceptor(grpc.aio.ServerInterceptor):
    """Wraps unary-unary and unary-stream handlers (the only kinds the APIs use)."""

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        """Return the method's handler with a guarded deserializer."""
        handler = await continuation(handler_call_details)
        if handler is None or (handler.unary_unary is None and handler.unary_stream is None):
            return handler
        method: str = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is None or cached[0] is not handler:
            cached = (handler, self._wrap(handler))
            self._wrapped[method] = cached
        return cached[1]

    @staticmethod
    def _wrap(handler: Any) -> Any:
        deserializer = _tolerant(handler.request_deserializer)
        if handler.unary_unary is not None:
            unary: Any = handler.unary_unary

            async def guarded_unary(
                request: Any, context: grpc.aio.ServicerContext[Any, Any]
            ) -> Any:
                if request is _UNDECODABLE:
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, UNDECODABLE_DETAILS)
                return await unary(request, context)

            return grpc.unary_unary_rpc_method_handler(
                guarded_unary, deserializer, handler.response_serializer
            )
        stream: Any = handler.unary_stream

        async def guarded_stream(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            if request is _UNDECODABLE:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, UNDECODABLE_DETAILS)
            async for answer in stream(request, context):
                yield answer

        return grpc.unary_stream_rpc_method_handler(
            guarded_stream, deserializer, handler.response_serializer
        )
