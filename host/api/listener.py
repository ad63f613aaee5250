# SPDX-License-Identifier: Apache-2.0
"""``TerminalServer``: the grpc.aio server that serves ``TerminalServicer`` locally.

Apart from the servicer so that binding (a Unix socket with its mode and
group, or 127.0.0.1 only) and the orderly stop (cancel, drain, then close
the device desk) read in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import grpc.aio

from host.api.decoding import DecodeGuardInterceptor
from host.api.runtime import AgentRuntime, check_listen
from host.api.server import TerminalServicer
from host.api.unix_socket import SOCKET_MODE, bind_unix
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc

__all__ = ["TerminalServer"]


class TerminalServer:
    """The grpc.aio server of the terminal API; an async context manager.

    Args:
        runtime: flows' dependencies.
        listen: ``unix:PATH`` or ``127.0.0.1:PORT`` (port 0 = any free port).
        socket_mode: a Unix socket's mode, whatever the umask (``unix_socket``).
        socket_group: a Unix socket's group (None: the process's group).
        interceptors: more server interceptors, outermost first (``host.agent.metrics``).
    """

    def __init__(
        self,
        runtime: AgentRuntime,
        listen: str,
        *,
        socket_mode: int = SOCKET_MODE,
        socket_group: str | int | None = None,
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    ) -> None:
        self.listen = check_listen(listen)
        self._socket_mode, self._socket_group = socket_mode, socket_group
        self.servicer = TerminalServicer(runtime)
        # ``interceptors`` (metrics) go first: they see every call, refused ones too.
        self._server = grpc.aio.server(interceptors=(*interceptors, DecodeGuardInterceptor()))
        tpb_grpc.add_TerminalServiceServicer_to_server(self.servicer, self._server)
        self.port = 0

    async def start(self) -> str:
        """Bind and serve; returns the address clients should use.

        Raises:
            UnsafePathError: a Unix socket's folder is writable by another user.
        """
        if self.listen.startswith("unix:"):
            path = Path(self.listen.removeprefix("unix:"))
            mode, group = self._socket_mode, self._socket_group
            self.port = bind_unix(self._server, path, mode=mode, group=group)
        else:
            self.port = self._server.add_insecure_port(self.listen)
        await self._server.start()
        if self.listen.startswith("unix:"):
            return self.listen
        return f"127.0.0.1:{self.port}"

    async def stop(self, grace: float | None = 1.0) -> None:
        """Cancel running commands and stop."""
        for command in list(self.servicer._running.values()):
            command.cancel()
        await self.servicer.drain(grace or 0.0)
        await self._server.stop(grace)
        await self.servicer.devices.aclose()

    async def __aenter__(self) -> TerminalServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
