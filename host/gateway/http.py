# SPDX-License-Identifier: Apache-2.0
"""What the kiosk gateway adds to aiohttp: strict request framing, bounded JSON, SSE.

aiohttp parses HTTP/1.1 (and refuses a malformed request line, header or
``Content-Length`` such as ``²`` before any handler runs); this module holds
the few rules the gateway keeps on top of it, as before the port. A body
only with an ASCII-digit ``Content-Length`` and no chunked upload, of at most
``MAX_BODY_BYTES``, one ``Host``/``Origin``/``Content-Length`` each, and JSON
nested at most ``MAX_JSON_DEPTH`` deep (checked before parsing, so a hostile
page cannot make the parser recurse until it fails). Every response closes
the connection and carries ``SECURITY_HEADERS``. Handlers see a small frozen
``Request`` whose body never reaches a repr (or a log). Anything refused is
a ``GatewayRequestError`` carrying its HTTP status.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web

from host.errors import GatewayRequestError

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_JSON_DEPTH",
    "SECURITY_HEADERS",
    "Request",
    "Response",
    "check_framing",
    "event_stream",
    "json_response",
    "read_request",
    "to_web",
]

#: One request line or header line; a browser's are well under 4 KiB.
MAX_HEADER_BYTES: Final = 8192
#: The largest JSON body a route accepts (a sealed entry is ~200 bytes).
MAX_BODY_BYTES: Final = 16384
#: The deepest JSON a route accepts (an ExecuteRequest is 3 levels deep).
MAX_JSON_DEPTH: Final = 16

_CONTENT_LENGTH: Final = re.compile(r"[0-9]{1,9}")
_SINGLE: Final = ("Host", "Origin", "Content-Length")

#: Sent with every response: only this origin's own files run, nothing frames
#: the kiosk page, and no answer is cached (it may carry personal data).
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@dataclass(frozen=True)
class Request:
    """One request as a route sees it; header names are lower-case."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = field(default=b"", repr=False)

    def json(self) -> object:
        """The body as JSON (a POST route's only input).

        Raises:
            GatewayRequestError: 415 when not ``application/json``, 400 when
                not valid UTF-8 JSON or nested deeper than ``MAX_JSON_DEPTH``.
        """
        kind = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise GatewayRequestError(415, "the body must be application/json")
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise GatewayRequestError(400, "the body is not valid JSON") from None
        if _too_deep(text):
            raise GatewayRequestError(400, f"JSON nested deeper than {MAX_JSON_DEPTH}")
        try:
            return json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            raise GatewayRequestError(400, "the body is not valid JSON") from None


def _too_deep(text: str) -> bool:
    """Whether ``text`` opens more than ``MAX_JSON_DEPTH`` arrays/objects at once.

    One linear pass that skips brackets inside strings; malformed JSON is
    left for the parser to refuse.
    """
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False


@dataclass(frozen=True)
class Response:
    """A complete (not streamed) response."""

    status: int
    body: bytes = field(default=b"", repr=False)
    content_type: str = "application/json"


def json_response(status: int, value: object) -> Response:
    """A JSON response."""
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(status, data, "application/json; charset=utf-8")


def check_framing(request: web.BaseRequest) -> None:
    """Refuse what aiohttp accepts but the gateway does not (before the body is read).

    Raises:
        GatewayRequestError: 400 for a repeated Host/Origin/Content-Length or
            a Content-Length that is not ASCII digits, 411 for a chunked
            upload or a POST without Content-Length, 413 for a large body,
            505 for anything but HTTP/1.0 or 1.1 (aiohttp takes 0.9 and 2.0).
    """
    if request.version not in ((1, 0), (1, 1)):
        raise GatewayRequestError(505, "only HTTP/1.x is spoken")
    headers = request.headers
    for name in _SINGLE:
        if len(headers.getall(name, ())) > 1:
            raise GatewayRequestError(400, f"repeated {name.lower()} header")
    if "Transfer-Encoding" in headers:
        raise GatewayRequestError(411, "chunked bodies are not accepted")
    raw = headers.get("Content-Length")
    if raw is None:
        if request.method == "POST":
            raise GatewayRequestError(411, "a POST needs Content-Length")
        return
    # aiohttp's parser already refuses "²"; this keeps the rule where it is read.
    if not _CONTENT_LENGTH.fullmatch(raw):
        raise GatewayRequestError(400, "bad Content-Length")
    if int(raw) > MAX_BODY_BYTES:
        raise GatewayRequestError(413, "body too large")


async def read_request(request: web.BaseRequest) -> Request:
    """The route's view of ``request``, its body read (call ``check_framing`` first)."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    body = await request.read() if request.body_exists else b""
    return Request(request.method, request.path, dict(request.query), headers, body)


def to_web(response: Response) -> web.Response:
    """The aiohttp response: security headers, and the connection closes after it."""
    out = web.Response(status=response.status, body=response.body, headers=SECURITY_HEADERS)
    out.content_type, _, charset = response.content_type.partition("; charset=")
    out.charset = charset or None
    out.force_close()
    return out


async def event_stream(
    request: web.BaseRequest, events: AsyncIterator[tuple[str, object]]
) -> web.StreamResponse:
    """Relay ``events`` as Server-Sent Events until they end or the browser leaves.

    The browser leaving cancels this handler (the runner's handler
    cancellation); closing ``events`` then cancels the agent call.
    """
    stream = web.StreamResponse(status=200, headers=SECURITY_HEADERS)
    stream.content_type, stream.charset = "text/event-stream", "utf-8"
    stream.force_close()
    try:
        await stream.prepare(request)
        async for kind, data in events:
            text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            await stream.write(f"event: {kind}\ndata: {text}\n\n".encode())
        await stream.write_eof()
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
    return stream
