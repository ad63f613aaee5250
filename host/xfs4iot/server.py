# SPDX-License-Identifier: Apache-2.0
"""``Xfs4IotServer``: the WebSocket endpoints, local-only, in front of the agent.

Why the ``websockets`` library (its asyncio server): a well-kept RFC 6455
implementation with handshake hooks, message size limits and clean
close handling; nothing of the protocol is written here.

Endpoints (XFS4IoT's URI shape ``ws://HOST:PORT/xfs4iot/v1.0[/SERVICE]``):
the service publisher at ``/xfs4iot/v1.0`` answers
``ServicePublisher.GetServices`` with one ``ServiceDetailEvent`` and a
completion listing the services (``CardReader``, ``PinPad``, ``Printer``,
``MynaEdge``); each service has its own path. XFS4IoT's own port range
starts at 5846 (the default); 0 picks a free port (tests).

Who may connect: by default the server binds 127.0.0.1 and a handshake
whose peer is not loopback, whose ``Host`` is not this server, or which
carries an ``Origin`` not in ``allowed_origins`` (a web page: browsers
always send one) is refused 403 before any XFS4IoT message is read. A
native XFS4IoT application sends no Origin. Another bind address is
refused at configuration unless it is loopback, or ``allow_remote`` is set
explicitly together with a TLS certificate and key (``wss://``): the
services drive the card's chip and the PIN pad, so they are never offered
in clear beyond this machine.

A background task follows the agent's ``WatchStatus`` and sends
``Common.StatusChangedEvent`` to the clients of the service whose device
changed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from host.xfs4iot.agent import AgentLink, AgentUnavailableError
from host.xfs4iot.cardreader import CardReaderService
from host.xfs4iot.messages import MAX_MESSAGE_BYTES
from host.xfs4iot.pinpad import PinPadService
from host.xfs4iot.printer import PrinterService
from host.xfs4iot.schema import SchemaBook
from host.xfs4iot.service import (
    DEVICE_STATES,
    CommandContext,
    CommandSpec,
    Outcome,
    Service,
)
from host.xfs4iot.session import Session
from host.xfs4iot.transfer import TransferService

__all__ = ["BASE_PATH", "DEFAULT_PORT", "Xfs4IotConfig", "Xfs4IotServer"]

_log = logging.getLogger(__name__)

BASE_PATH: Final = "/xfs4iot/v1.0"
#: The first port of XFS4IoT's range (5846-5856).
DEFAULT_PORT: Final = 5846
VENDOR_NAME: Final = "myna-edge"
_LOOPBACK: Final = "127.0.0.1"
_RETRY_S: Final = (0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class Xfs4IotConfig:
    """Where the front end listens and which agent it fronts.

    Attributes:
        agent: the agent's API (``unix:PATH`` or ``127.0.0.1:PORT``).
        port: local TCP port (0 = any free port).
        allowed_origins: browser origins allowed besides none at all.
        host: the address to bind (an IP address; loopback unless
            ``allow_remote``).
        allow_remote: serve a non-loopback address and non-loopback peers;
            requires ``tls_cert`` and ``tls_key``.
        tls_cert: PEM certificate chain for ``wss://`` (with ``tls_key``).
        tls_key: PEM private key of ``tls_cert``.

    Raises:
        ValueError: a bad port or address, a non-loopback address without
            ``allow_remote``, or ``allow_remote`` without TLS.
    """

    agent: str
    port: int = DEFAULT_PORT
    allowed_origins: frozenset[str] = field(default_factory=frozenset)
    host: str = _LOOPBACK
    allow_remote: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be 0-65535")
        try:
            address = ipaddress.ip_address(self.host)
        except ValueError:
            raise ValueError("the bind address must be an IP address") from None
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("a TLS certificate and its key go together")
        if address.is_loopback:
            return
        if not self.allow_remote:
            raise ValueError(
                f"{self.host} is not a loopback address: the XFS4IoT services are local-only "
                "unless --allow-remote is given (with --tls-cert and --tls-key)"
            )
        if self.tls_cert is None:
            raise ValueError("--allow-remote requires --tls-cert and --tls-key (wss://)")

    @property
    def scheme(self) -> str:
        """``wss`` with TLS, else ``ws``."""
        return "wss" if self.tls_cert is not None else "ws"

    def tls_context(self) -> ssl.SSLContext | None:
        """The server's TLS context, or None (plain ``ws://`` on loopback)."""
        if self.tls_cert is None or self.tls_key is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.tls_cert, self.tls_key)
        return context


class _Publisher(Service):
    """The service publisher endpoint (ServicePublisher.GetServices only)."""


class Xfs4IotServer:
    """The front end: publisher + four services; an async context manager."""

    def __init__(self, config: Xfs4IotConfig) -> None:
        self.config = config
        self.agent = AgentLink(config.agent)
        self.book = SchemaBook.load()
        self.port = 0
        agent = self.agent
        self.services: dict[str, Service] = {
            "CardReader": CardReaderService("CardReader", ("CardReader",), "reader", agent),
            "PinPad": PinPadService("PinPad", ("Keyboard", "PinPad"), "controller", agent),
            "Printer": PrinterService("Printer", ("Printer",), "printer", agent),
            "MynaEdge": TransferService("MynaEdge", ("MynaEdge",), "reader", agent),
        }
        self.publisher = _Publisher("", ("ServicePublisher",), "", self.agent)
        self.publisher.commands = {"ServicePublisher.GetServices": CommandSpec(self._get_services)}
        self._server: Server | None = None
        self._watch: asyncio.Task[None] | None = None
        self._last_state: dict[str, str] = {}

    @property
    def url(self) -> str:
        """The publisher's URI."""
        host = self.config.host
        shown = f"[{host}]" if ":" in host else host
        return f"{self.config.scheme}://{shown}:{self.port}{BASE_PATH}"

    def service_uri(self, name: str) -> str:
        """A service's URI."""
        return f"{self.url}/{name}"

    async def _get_services(self, context: CommandContext) -> Outcome:
        services = {
            "vendorName": VENDOR_NAME,
            "services": [{"serviceURI": self.service_uri(n)} for n in self.services],
        }
        await context.event("ServicePublisher.ServiceDetailEvent", services)
        return Outcome(payload=services)

    # --- handshake ----------------------------------------------------------

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        peer = connection.remote_address
        try:
            local = ipaddress.ip_address(str(peer[0]).split("%")[0]).is_loopback
        except (ValueError, TypeError, IndexError):
            local = False
        if not local and not self.config.allow_remote:
            return connection.respond(403, "only local clients are served\n")
        host = request.headers.get("Host", "").lower()
        if host not in self._hosts():
            return connection.respond(403, "unknown Host\n")
        origin = request.headers.get("Origin")
        if origin is not None and origin not in self.config.allowed_origins:
            _log.warning("refused a WebSocket from origin %r", origin[:80])
            return connection.respond(403, "cross-origin WebSocket refused\n")
        if self._service_for(request.path) is None:
            return connection.respond(404, "no such XFS4IoT service\n")
        return None

    def _hosts(self) -> set[str]:
        bound = self.config.host
        names = {f"[{bound}]" if ":" in bound else bound}
        if ipaddress.ip_address(bound).is_loopback:
            names |= {_LOOPBACK, "localhost", "[::1]"}
        return {f"{name}:{self.port}" for name in names}

    def _service_for(self, path: str) -> Service | None:
        path = path.split("?", 1)[0].rstrip("/")
        if path == BASE_PATH:
            return self.publisher
        if path.startswith(BASE_PATH + "/"):
            return self.services.get(path[len(BASE_PATH) + 1 :])
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        service = self._service_for(connection.request.path if connection.request else "")
        if service is None:  # pragma: no cover - refused at the handshake
            return
        session = Session(service, connection.send, book=self.book)
        service.sessions.add(session)
        try:
            await service.client_joined(session)
            async for data in connection:
                await session.receive(data)
        except ConnectionClosed:
            pass
        finally:
            service.sessions.discard(session)
            await session.close()
            await service.client_left(session)
            if not service.sessions:
                await service.last_client_left()

    # --- status events ------------------------------------------------------

    async def _follow_status(self) -> None:
        attempt = 0
        while True:
            try:
                async for device, state in self.agent.watch_status():
                    attempt = 0
                    await self._status_changed(device, state)
            except AgentUnavailableError:
                pass
            await asyncio.sleep(_RETRY_S[min(attempt, len(_RETRY_S) - 1)])
            attempt += 1

    async def _status_changed(self, device: str, state: int) -> None:
        """Broadcast a device's new XFS4IoT state; repeats of the same state are not news.

        Why the filter: the agent's status stream also reports changes that
        XFS4IoT's ``common.device`` cannot show (a new firmware version on
        the PIN pad), which arrive with the same state.
        """
        value = DEVICE_STATES.get(state, "offline")
        if self._last_state.get(device) == value:
            return
        self._last_state[device] = value
        for service in self.services.values():
            if service.device == device:
                payload: dict[str, Any] = {"common": {"device": value}}
                await service.broadcast("Common.StatusChangedEvent", payload)

    # --- life ---------------------------------------------------------------

    async def start(self) -> str:
        """Bind the configured address (127.0.0.1 by default) and serve; returns the URI."""
        self._server = await serve(
            self._handle,
            self.config.host,
            self.config.port,
            process_request=self._check,
            max_size=MAX_MESSAGE_BYTES,
            origins=None,
            server_header=None,
            ssl=self.config.tls_context(),
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._watch = asyncio.ensure_future(self._follow_status())
        _log.info("XFS4IoT front end on %s (agent %s)", self.url, self.config.agent)
        return self.url

    async def stop(self) -> None:
        """Close every connection (their commands are cancelled) and the agent link."""
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
            self._watch = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self.agent.close()

    async def __aenter__(self) -> Xfs4IotServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
