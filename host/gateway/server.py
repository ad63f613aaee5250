# SPDX-License-Identifier: Apache-2.0
"""``Gateway``: serves the kiosk touchscreen app on 127.0.0.1 and bridges it to the agent.

The touchscreen app is static files (``static/``); the terminal API stays the
source of truth and the gateway adds no flow logic. Routes:

=======================  ====  ==============================================
``/``, ``/static/NAME``  GET   the app's files (a fixed list, read at start)
``/api/config``          GET   the idle timeout, voice guidance on or off and
                               the agent's capabilities
``/api/messages``        GET   the message table (``host.messages``) as JSON
``/api/status``          GET   Server-Sent Events: WatchStatus, as it changes
``/api/execute``         POST  Server-Sent Events: the Execute stream of the
                               ``ExecuteRequest`` in the body (ack, events,
                               completion); closing it cancels the command
``/api/answer``          POST  AnswerPrompt (a sealed touch entry or a yes/no)
``/api/cancel``          POST  Cancel
=======================  ====  ==============================================

Every request passes ``guard``: loopback peer, own Host, own Origin (POST).
At most ``max_connections`` connections are open at once (a request on one
more gets 503 at once), so a hostile page cannot exhaust the agent.
An embedding program (the demo) may add routes of its own with
``extra_routes``; they pass the same guard. Logs carry method, path and
status only, never a body (aiohttp's access log is off).

Why aiohttp: a well-kept asyncio HTTP/1.1 server (llhttp's parser, SSE by
``StreamResponse``, handler cancellation when the browser leaves) replaces
the gateway's own parser; ``http.py`` keeps only the gateway's stricter
rules. One application, one middleware (the guard, the framing rules and
the error translation), one handler per route.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from host.errors import GatewayRequestError
from host.gateway.bridge import AgentBridge, parse_message
from host.gateway.guard import check_host, check_origin, check_peer
from host.gateway.http import (
    MAX_BODY_BYTES,
    MAX_HEADER_BYTES,
    Request,
    Response,
    check_framing,
    event_stream,
    json_response,
    read_request,
    to_web,
)
from host.gateway.texts import message_table
from myna.edge.v1 import terminal_pb2 as tpb

__all__ = ["STATIC_DIR", "Gateway", "GatewayConfig", "Handler"]

_log = logging.getLogger(__name__)
#: aiohttp's own messages (malformed requests), tamed by ``_ProtocolNoise``.
_protocol_log = logging.getLogger(f"{__name__}.protocol")

#: The touchscreen application shipped with the gateway.
STATIC_DIR: Final = Path(__file__).parent / "static"
#: A route an embedding program adds (``extra_routes``).
Handler = Callable[[Request], Awaitable[Response]]
_WebHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_STATIC_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
#: Open streams get this long to end when the gateway stops (they are cancelled first).
_SHUTDOWN_S: Final = 1.0


class _ProtocolNoise(logging.Filter):
    """aiohttp logs each malformed request as an error with a traceback.

    For the gateway that is a refusal a hostile page may cause at will (a
    400), not a fault: it becomes one DEBUG line naming the exception type,
    never its text (which may quote the request) nor a traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if record.levelno < logging.ERROR or exc is None:
            return True
        refusal = isinstance(exc, HttpProcessingError | ConnectionError)
        record.levelno = logging.DEBUG if refusal else logging.WARNING
        record.levelname = logging.getLevelName(record.levelno)
        args = record.args if isinstance(record.args, tuple) else ()
        record.msg, record.args = f"{record.msg}: %s", (*args, type(exc).__name__)
        record.exc_info, record.exc_text = None, None
        return _protocol_log.isEnabledFor(record.levelno)


_protocol_log.addFilter(_ProtocolNoise())


@dataclass(frozen=True)
class GatewayConfig:
    """What one gateway serves.

    Args:
        agent: the agent's TerminalService address (``127.0.0.1:PORT``, ``unix:PATH``).
        port: the local port to serve on (0 = any free port); always 127.0.0.1.
        idle_seconds: the app's idle timeout (kiosk guidance: clear and restart);
            the app warns first and allows more on the PIN pad and statement screens.
        voice_guidance: the app speaks each screen's prompt in Japanese
            (``speechSynthesis``) where the kiosk has a speaker; never a secret.
        static_dir: where the app's files are.
        max_connections: open connections served at once (the app holds two
            or three: the status stream, a command stream, a POST).
        head_timeout: a connection that has not sent a whole request head
            by then is closed (a silent or slow client would hold a slot).
    """

    agent: str
    port: int = 0
    idle_seconds: float = 60.0
    voice_guidance: bool = False
    static_dir: Path = STATIC_DIR
    max_connections: int = 32
    head_timeout: float = 10.0


class Gateway:
    """The kiosk app's local web server; an async context manager.

    Args:
        config: what to serve and where the agent is.
        extra_routes: ``path -> handler`` added by an embedding program.
    """

    def __init__(
        self, config: GatewayConfig, *, extra_routes: Mapping[str, Handler] | None = None
    ) -> None:
        if not 0 <= config.port <= 65535 or config.idle_seconds <= 0:
            raise ValueError("port must be 0-65535 and idle_seconds positive")
        if not 1 <= config.max_connections <= 4096:
            raise ValueError("max_connections must be 1-4096")
        if config.head_timeout <= 0:
            raise ValueError("head_timeout must be positive")
        self.config = config
        self.bridge = AgentBridge(config.agent)
        self._extra = dict(extra_routes or {})
        self._files: dict[str, Path] = {}
        self._messages = json_response(200, message_table())
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        self._served: set[RequestHandler] = set()  # pruned to the live ones by the reaper
        self._reaper: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The app's address (valid once started)."""
        return f"http://127.0.0.1:{self.port}/"

    async def start(self) -> str:
        """Read the file list, bind 127.0.0.1 and serve; returns the app's URL."""
        folder = self.config.static_dir
        self._files = {
            p.name: p for p in folder.iterdir() if p.is_file() and _STATIC_NAME.fullmatch(p.name)
        }
        app = web.Application(middlewares=[self._guard], client_max_size=MAX_BODY_BYTES)
        self._add_routes(app.router)
        runner = web.AppRunner(
            app,
            access_log=None,  # a line of ours per request instead: method, path, status
            handler_cancellation=True,  # the browser leaving ends its stream (and command)
            shutdown_timeout=_SHUTDOWN_S,
            logger=_protocol_log,
            max_line_size=MAX_HEADER_BYTES,
            max_field_size=MAX_HEADER_BYTES,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", self.config.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._reaper = asyncio.ensure_future(self._reap_silent(runner))
        self.port = int(runner.addresses[0][1])
        _log.info("kiosk gateway on %s for agent %s", self.url, self.config.agent)
        return self.url

    async def stop(self) -> None:
        """Stop serving, end open streams, close the agent channel; harmless twice."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            if self._reaper is not None:
                reaper, self._reaper = self._reaper, None
                reaper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reaper
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await runner.cleanup()
        await self.bridge.close()

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _reap_silent(self, runner: web.AppRunner) -> None:
        """Close each connection that sent no whole request head within ``head_timeout``.

        aiohttp waits for a first request without a deadline; the gateway's
        connection cap makes that a way to lock the kiosk out, so the old
        server's head timeout is kept here.
        """
        limit = self.config.head_timeout
        first_seen: dict[RequestHandler, float] = {}
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, limit / 2))
            now = loop.time()
            connections = runner.server.connections if runner.server is not None else []
            first_seen = {conn: first_seen.get(conn, now) for conn in connections}
            self._served.intersection_update(first_seen)
            for conn, since in first_seen.items():
                if conn not in self._served and now - since >= limit and conn.transport:
                    conn.transport.close()

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        for path, extra in self._extra.items():  # first: an embedder's route wins
            router.add_route("*", path, _adapt(extra))
        for path in ("/", "/static/{name}"):
            router.add_get(path, self._static, allow_head=False)
        router.add_get("/api/config", self._config, allow_head=False)
        router.add_get("/api/messages", self._message_table, allow_head=False)
        router.add_get("/api/status", self._status, allow_head=False)
        router.add_post("/api/execute", self._execute)
        router.add_post("/api/answer", self._answer)
        router.add_post("/api/cancel", self._cancel)

    @web.middleware
    async def _guard(self, request: web.Request, handler: _WebHandler) -> web.StreamResponse:
        """Every request: the connection cap, the guard, framing; errors as JSON."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._served.add(request.protocol)
        try:
            response = await self._checked(request, handler)
        except GatewayRequestError as exc:
            response = to_web(json_response(exc.status, {"error": str(exc)}))
        except web.HTTPException as exc:  # the router's 404/405, aiohttp's 413
            response = to_web(json_response(exc.status, {"error": exc.reason.lower()}))
        except Exception:  # noqa: BLE001 - a gateway bug answers 500, never hangs the kiosk
            _log.exception("%s %s failed", request.method, request.path[:80])
            response = to_web(json_response(500, {"error": "internal"}))
        finally:
            if task is not None:
                self._tasks.discard(task)
        _log.debug("%s %s -> %d", request.method, request.path[:80], response.status)
        return response

    async def _checked(self, request: web.Request, handler: _WebHandler) -> web.StreamResponse:
        server = self._runner.server if self._runner is not None else None
        if server is not None and len(server.connections) > self.config.max_connections:
            raise GatewayRequestError(503, "too many open connections")
        transport = request.transport
        check_peer(transport.get_extra_info("peername") if transport is not None else None)
        check_host(request.headers, self.port)
        check_framing(request)
        check_origin(request.headers, self.port, required=request.method == "POST")
        return await handler(request)

    async def _static(self, request: web.Request) -> web.StreamResponse:
        file = self._files.get(request.match_info.get("name", "index.html"))
        if file is None:
            raise GatewayRequestError(404, "not found")
        content_type = _TYPES.get(file.suffix, "application/octet-stream")
        return to_web(Response(200, file.read_bytes(), content_type))

    async def _config(self, request: web.Request) -> web.StreamResponse:
        try:
            capabilities: object = await self.bridge.capabilities()
        except GatewayRequestError:
            capabilities = None  # the app shows "service unavailable"
        config = {
            "idle_seconds": self.config.idle_seconds,
            "voice_guidance": self.config.voice_guidance,
            "capabilities": capabilities,
        }
        return to_web(json_response(200, config))

    async def _message_table(self, request: web.Request) -> web.StreamResponse:
        return to_web(self._messages)

    async def _status(self, request: web.Request) -> web.StreamResponse:
        return await event_stream(request, self.bridge.watch_status())

    async def _execute(self, request: web.Request) -> web.StreamResponse:
        body = (await read_request(request)).json()
        message = parse_message(body, tpb.ExecuteRequest())
        return await event_stream(request, self.bridge.execute(message))

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body = (await read_request(request)).json()
        answer = parse_message(body, tpb.AnswerPromptRequest())
        return to_web(json_response(200, await self.bridge.answer(answer)))

    async def _cancel(self, request: web.Request) -> web.StreamResponse:
        body = (await read_request(request)).json()
        cancel = parse_message(body, tpb.CancelRequest())
        return to_web(json_response(200, await self.bridge.cancel(cancel)))


def _adapt(handler: Handler) -> _WebHandler:
    """An embedder's route as an aiohttp handler (it sees the gateway's ``Request``)."""

    async def serve(request: web.Request) -> web.StreamResponse:
        return to_web(await handler(await read_request(request)))

    return serve
