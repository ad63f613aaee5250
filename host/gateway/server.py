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
At most ``max_connections`` connections are served at once (a page that
opens more gets 503 at once), so a hostile page cannot exhaust the agent.
An embedding program (the demo) may add routes of its own with
``extra_routes``; they pass the same guard. Logs carry method, path and
status only, never a body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from host.errors import GatewayRequestError
from host.gateway.bridge import AgentBridge, parse_message
from host.gateway.guard import check_host, check_origin, check_peer
from host.gateway.http import (
    MAX_HEADER_BYTES,
    Request,
    Response,
    json_response,
    read_request,
    response_head,
)
from host.gateway.texts import message_table
from myna.edge.v1 import terminal_pb2 as tpb

__all__ = ["STATIC_DIR", "Gateway", "GatewayConfig", "Handler"]

_log = logging.getLogger(__name__)

#: The touchscreen application shipped with the gateway.
STATIC_DIR: Final = Path(__file__).parent / "static"
#: A route an embedding program adds (``extra_routes``).
Handler = Callable[[Request], Awaitable[Response]]

_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_STATIC_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
#: A browser that connects but sends nothing is dropped after this long.
_HEAD_TIMEOUT_S: Final = 10.0


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
    """

    agent: str
    port: int = 0
    idle_seconds: float = 60.0
    voice_guidance: bool = False
    static_dir: Path = STATIC_DIR
    max_connections: int = 32


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
        self.config = config
        self.bridge = AgentBridge(config.agent)
        self._extra = dict(extra_routes or {})
        self._files: dict[str, Path] = {}
        self._messages = json_response(200, message_table())
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
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
        self._server = await asyncio.start_server(
            self._connection, "127.0.0.1", self.config.port, limit=16384
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        _log.info("kiosk gateway on %s for agent %s", self.url, self.config.agent)
        return self.url

    async def stop(self) -> None:
        """Stop serving, end open streams, close the agent channel; harmless twice."""
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None
        await self.bridge.close()

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        method, path, status = "-", "-", 0
        try:
            if len(self._tasks) > self.config.max_connections:
                status = 503
                await _refuse_busy(reader, writer)
                return
            check_peer(writer.get_extra_info("peername"))
            request = await asyncio.wait_for(read_request(reader), _HEAD_TIMEOUT_S)
            if request is None:
                return
            method, path = request.method, request.path
            check_host(request.headers, self.port)
            status = await self._route(request, reader, writer)
        except GatewayRequestError as exc:
            status = exc.status
            _write(writer, json_response(exc.status, {"error": str(exc)}))
        except (ConnectionError, TimeoutError):
            status = status or 408
        except Exception:  # noqa: BLE001 - a gateway bug answers 500, never hangs the kiosk
            status = 500
            _log.exception("%s %s failed", method, path[:80])
            _write(writer, json_response(500, {"error": "internal"}))
        finally:
            self._tasks.discard(task)
            _log.debug("%s %s -> %d", method, path[:80], status)
            with contextlib.suppress(ConnectionError, RuntimeError):
                writer.close()
                await writer.wait_closed()

    async def _route(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> int:
        post = request.method == "POST"
        if request.method not in ("GET", "POST"):
            raise GatewayRequestError(405, "method not allowed")
        check_origin(request.headers, self.port, required=post)
        path = request.path
        if path in self._extra:
            response = await self._extra[path](request)
        elif path.startswith("/api/"):
            wanted = "POST" if path in ("/api/execute", "/api/answer", "/api/cancel") else "GET"
            if request.method != wanted:
                raise GatewayRequestError(405, "method not allowed")
            if path == "/api/execute":
                message = parse_message(request.json(), tpb.ExecuteRequest())
                return await _stream(reader, writer, self.bridge.execute(message))
            if path == "/api/status":
                return await _stream(reader, writer, self.bridge.watch_status())
            response = await self._api(path, request)
        elif post:
            raise GatewayRequestError(405, "method not allowed")
        else:
            response = self._static(path)
        _write(writer, response)
        await writer.drain()
        return response.status

    async def _api(self, path: str, request: Request) -> Response:
        if path == "/api/answer":
            answer = parse_message(request.json(), tpb.AnswerPromptRequest())
            return json_response(200, await self.bridge.answer(answer))
        if path == "/api/cancel":
            cancel = parse_message(request.json(), tpb.CancelRequest())
            return json_response(200, await self.bridge.cancel(cancel))
        if path == "/api/config":
            try:
                capabilities: object = await self.bridge.capabilities()
            except GatewayRequestError:
                capabilities = None  # the app shows "service unavailable"
            config = {
                "idle_seconds": self.config.idle_seconds,
                "voice_guidance": self.config.voice_guidance,
                "capabilities": capabilities,
            }
            return json_response(200, config)
        if path == "/api/messages":
            return self._messages
        raise GatewayRequestError(404, "no such route")

    def _static(self, path: str) -> Response:
        name = "index.html" if path == "/" else path.removeprefix("/static/")
        file = self._files.get(name) if path == "/" or path.startswith("/static/") else None
        if file is None:
            raise GatewayRequestError(404, "not found")
        content_type = _TYPES.get(file.suffix, "application/octet-stream")
        return Response(200, file.read_bytes(), content_type)


async def _refuse_busy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer 503 at once, reading (briefly) what the client sent so closing does not reset it."""
    _write(writer, json_response(503, {"error": "too many open connections"}))
    with contextlib.suppress(ConnectionError, TimeoutError):
        await writer.drain()
        await asyncio.wait_for(reader.read(MAX_HEADER_BYTES), 1.0)


def _write(writer: asyncio.StreamWriter, response: Response) -> None:
    writer.write(response_head(response.status, response.content_type, len(response.body)))
    writer.write(response.body)


async def _stream(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    events: AsyncIterator[tuple[str, object]],
) -> int:
    """Relay ``events`` as Server-Sent Events until they end or the browser leaves."""
    writer.write(response_head(200, "text/event-stream; charset=utf-8"))
    await writer.drain()

    async def pump() -> None:
        async for kind, data in events:
            text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            writer.write(f"event: {kind}\ndata: {text}\n\n".encode())
            await writer.drain()

    pumper = asyncio.ensure_future(pump())
    gone = asyncio.ensure_future(reader.read(1))  # b"" when the browser closes
    try:
        await asyncio.wait({pumper, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pumper, gone):
            task.cancel()
        await asyncio.gather(pumper, gone, return_exceptions=True)
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
    return 200
