# SPDX-License-Identifier: Apache-2.0
"""Handler wrappers applied once, when a servicer is registered, instead of per call.

Why (issue 18): grpc.aio runs its interceptor chain on every call, one
coroutine and one ``functools.partial`` per interceptor, each awaiting the
next, only to learn which handler serves the method; with no interceptor
it resolves the handler with one dict look-up. A wrapper that needs nothing
but the method's name and its handler (the access log, the fleet's
tolerant decoding) gives the same handler for a method on every call, so it
can be applied once, here, and the server keeps no interceptor unless
metrics or tracing are configured (those need the call's metadata first,
so they stay interceptors and run outside these wrappers, as before).

``WrappingServer`` stands in for the ``grpc.aio.Server`` that servicers are
registered on: ``add_*_to_server`` functions and ``enable_server_reflection``
call it, and it passes wrapped handlers on. The server itself is started,
bound and stopped as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import grpc
import grpc.aio

__all__ = ["HandlerWrapper", "WrappingServer"]

#: ``(fully qualified method, handler) -> handler``; returns ``handler`` to leave it alone.
HandlerWrapper = Callable[[str, Any], Any]


def _chain(wrappers: Sequence[HandlerWrapper]) -> HandlerWrapper:
    def wrap(method: str, handler: Any) -> Any:
        for wrapper in wrappers:  # the first is innermost
            handler = wrapper(method, handler)
        return handler

    return wrap


class _WrappedGeneric(grpc.GenericRpcHandler):
    """A generic handler whose answers are wrapped, once per method and handler."""

    def __init__(self, inner: grpc.GenericRpcHandler, wrap: HandlerWrapper) -> None:
        self._inner = inner
        self._wrap = wrap
        self._wrapped: dict[str, tuple[Any, Any]] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Any:
        handler = self._inner.service(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is None or cached[0] is not handler:
            cached = self._wrapped[method] = (handler, self._wrap(method, handler))
        return cached[1]


class WrappingServer(grpc.aio.Server):
    """Register servicers through this: each handler is wrapped by ``wrappers`` (first innermost).

    Only registration is wrapped; binding, starting and stopping go to
    ``server`` unchanged (call them on either).
    """

    def __init__(self, server: grpc.aio.Server, wrappers: Sequence[HandlerWrapper]) -> None:
        self.server = server
        self._wrap = _chain(tuple(wrappers))

    def add_generic_rpc_handlers(
        self, generic_rpc_handlers: Iterable[grpc.GenericRpcHandler]
    ) -> None:
        """Register ``generic_rpc_handlers``, each answering with wrapped handlers."""
        wrapped = tuple(_WrappedGeneric(handler, self._wrap) for handler in generic_rpc_handlers)
        self.server.add_generic_rpc_handlers(wrapped)

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: Mapping[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        """Register ``method_handlers`` of ``service_name``, each wrapped."""
        wrapped = {
            name: self._wrap(f"/{service_name}/{name}", handler)
            for name, handler in method_handlers.items()
        }
        self.server.add_registered_method_handlers(service_name, wrapped)

    def add_insecure_port(self, address: str) -> int:
        """As ``grpc.aio.Server.add_insecure_port``."""
        return self.server.add_insecure_port(address)

    def add_secure_port(self, address: str, server_credentials: grpc.ServerCredentials) -> int:
        """As ``grpc.aio.Server.add_secure_port``."""
        return self.server.add_secure_port(address, server_credentials)

    async def start(self) -> None:
        """As ``grpc.aio.Server.start``."""
        await self.server.start()

    async def stop(self, grace: float | None) -> None:
        """As ``grpc.aio.Server.stop``."""
        await self.server.stop(grace)

    async def wait_for_termination(self, timeout: float | None = None) -> bool:
        """As ``grpc.aio.Server.wait_for_termination``."""
        return await self.server.wait_for_termination(timeout)
