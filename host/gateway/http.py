# SPDX-License-Identifier: Apache-2.0
"""The little HTTP/1.1 the kiosk gateway speaks: one request per connection, bounded.

Why not a framework: the gateway serves one local browser a handful of
routes, and a standard-library server leaves nothing to audit or pin. The
parser is deliberately strict and small: a request line, at most
``MAX_HEADER_BYTES`` of headers, a body only with ``Content-Length`` (ASCII
digits only: ``"²".isdigit()`` is true) and no chunked uploads, of at most
``MAX_BODY_BYTES``, and JSON nested at most ``MAX_JSON_DEPTH`` deep (checked
before parsing, so a hostile page cannot make the parser recurse until it
fails). Every response closes the connection (``Connection: close``), so
there is no keep-alive state to get wrong. Anything else is a
``GatewayRequestError`` carrying its HTTP status.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import parse_qsl, urlsplit

from host.errors import GatewayRequestError

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_JSON_DEPTH",
    "SECURITY_HEADERS",
    "Request",
    "Response",
    "json_response",
    "read_request",
    "response_head",
]

#: Request line plus headers; a browser's are well under 4 KiB.
MAX_HEADER_BYTES: Final = 8192
#: The largest JSON body a route accepts (a sealed entry is ~200 bytes).
MAX_BODY_BYTES: Final = 16384
#: The deepest JSON a route accepts (an ExecuteRequest is 3 levels deep).
MAX_JSON_DEPTH: Final = 16

_CONTENT_LENGTH: Final = re.compile(r"[0-9]{1,9}")

_REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}

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
    """One parsed request; header names are lower-case."""

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


def response_head(status: int, content_type: str, length: int | None = None) -> bytes:
    """Status line and headers (with the security headers); ``length`` None = streamed."""
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", f"Content-Type: {content_type}"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{name}: {value}" for name, value in SECURITY_HEADERS.items()]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str], dict[str, str]]:
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise GatewayRequestError(400, "undecodable request head") from None
    request_line, *header_lines = text.split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[1].startswith("/"):
        raise GatewayRequestError(400, "malformed request line")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise GatewayRequestError(505, "only HTTP/1.x is spoken")
    headers: dict[str, str] = {}
    for line in header_lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or not name.isascii():
            raise GatewayRequestError(400, "malformed header line")
        key = name.lower()
        if key in headers and key in ("host", "origin", "content-length"):
            raise GatewayRequestError(400, f"repeated {key} header")
        headers[key] = value.strip()
    split = urlsplit(target)
    query = dict(parse_qsl(split.query, keep_blank_values=True))
    return method, split.path, headers, query


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """Read one request; None when the client closed before sending one.

    Raises:
        GatewayRequestError: malformed or oversized request (400, 411, 413, 431, 505).
    """
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise GatewayRequestError(400, "truncated request head") from None
    except asyncio.LimitOverrunError:
        raise GatewayRequestError(431, "request head too large") from None
    if len(head) > MAX_HEADER_BYTES:
        raise GatewayRequestError(431, "request head too large")
    method, path, headers, query = _parse_head(head[:-4])
    if "transfer-encoding" in headers:
        raise GatewayRequestError(411, "chunked bodies are not accepted")
    body = b""
    if "content-length" in headers:
        raw = headers["content-length"]
        if not _CONTENT_LENGTH.fullmatch(raw):
            raise GatewayRequestError(400, "bad Content-Length")
        length = int(raw)
        if length > MAX_BODY_BYTES:
            raise GatewayRequestError(413, "body too large")
        try:
            body = await reader.readexactly(length)
        except asyncio.IncompleteReadError:
            raise GatewayRequestError(400, "truncated body") from None
    elif method == "POST":
        raise GatewayRequestError(411, "a POST needs Content-Length")
    return Request(method, path, query, headers, body)
