# SPDX-License-Identifier: Apache-2.0
"""``host.gateway.http``: the gateway's rules on top of aiohttp, and what reaches the wire.

The framing rules are checked on aiohttp's own mocked requests; what aiohttp's
parser refuses before the gateway sees a request is checked over a real
socket against a started ``Gateway`` (no agent behind it: nothing may reach one).
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.http import HttpVersion
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from host.errors import GatewayRequestError
from host.gateway import Gateway, GatewayConfig
from host.gateway.http import (
    MAX_BODY_BYTES,
    MAX_JSON_DEPTH,
    SECURITY_HEADERS,
    Request,
    Response,
    check_framing,
    json_response,
    to_web,
)


def _mocked(
    method: str, headers: list[tuple[str, str]], version: tuple[int, int] = (1, 1)
) -> web.Request:
    return make_mocked_request(
        method, "/api/cancel", headers=CIMultiDict(headers), version=HttpVersion(*version)
    )


def test_post_body_as_json_and_never_in_a_repr() -> None:
    headers = {"content-type": "application/json; charset=utf-8"}
    request = Request("POST", "/api/cancel", {}, headers, b'{"a": [1, 2]}')
    assert request.json() == {"a": [1, 2]}
    assert "body" not in repr(request)  # bodies never reach a repr (or a log)


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/plain", b"{}", 415),
        ("application/json", b"{", 400),
        ("application/json", b"\xff", 400),
        ("application/json", b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), 400),
        ("application/json", b"[" * 5000 + b"]" * 5000, 400),
    ],
)
def test_json_body_errors(content_type: str, body: bytes, status: int) -> None:
    request = Request("POST", "/", {}, {"content-type": content_type}, body)
    with pytest.raises(GatewayRequestError) as caught:
        request.json()
    assert caught.value.status == status


def test_json_depth_counts_brackets_outside_strings_only() -> None:
    deepest = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    in_string = b'["' + b"[" * 100 + b'\\"{"]'
    for body in (deepest, in_string):
        assert Request("POST", "/", {}, {"content-type": "application/json"}, body).json()


@pytest.mark.parametrize(
    ("method", "headers", "version", "status"),
    [
        ("POST", [("Host", "a"), ("Host", "b"), ("Content-Length", "2")], (1, 1), 400),
        ("POST", [("Origin", "a"), ("Origin", "a"), ("Content-Length", "2")], (1, 1), 400),
        ("POST", [("Content-Length", "²")], (1, 1), 400),
        ("POST", [("Content-Length", "+5")], (1, 1), 400),
        ("POST", [], (1, 1), 411),
        ("POST", [("Transfer-Encoding", "chunked")], (1, 1), 411),
        ("POST", [("Content-Length", str(MAX_BODY_BYTES + 1))], (1, 1), 413),
        ("GET", [], (2, 0), 505),
        ("GET", [], (0, 9), 505),
    ],
)
def test_framing_refusals_carry_their_status(
    method: str, headers: list[tuple[str, str]], version: tuple[int, int], status: int
) -> None:
    with pytest.raises(GatewayRequestError) as caught:
        check_framing(_mocked(method, headers, version))
    assert caught.value.status == status


def test_framing_accepts_what_the_app_sends() -> None:
    check_framing(_mocked("GET", [("Host", "127.0.0.1:8")]))
    check_framing(_mocked("GET", [("Host", "127.0.0.1:8")], (1, 0)))
    check_framing(_mocked("POST", [("Content-Length", str(MAX_BODY_BYTES))]))


def test_responses_close_and_carry_the_security_headers() -> None:
    response = to_web(Response(200, b"hello", "text/html; charset=utf-8"))
    assert response.content_type == "text/html"
    assert response.charset == "utf-8"
    assert response.keep_alive is False  # one request per connection, as before
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert response.headers["Cache-Control"] == "no-store"
    image = to_web(Response(200, b"\x89PNG", "image/png"))
    assert (image.content_type, image.charset) == ("image/png", None)
    answer = json_response(422, {"error": "日本"})
    assert answer.body == '{"error":"日本"}'.encode()
    assert answer.content_type == "application/json; charset=utf-8"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET nohost HTTP/1.1\r\nHost: @\r\n\r\n",
        b"GE T / HTTP/1.1\r\nHost: @\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: @\r\nbad header\r\n\r\n",
        b"GET / HTTP/1.1\r\n Host: @\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: @\r\nHost: @\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: @\r\nX: " + b"a" * 9000 + b"\r\n\r\n",
        b"POST /api/cancel HTTP/1.1\r\nHost: @\r\nContent-Length: -1\r\n\r\n",
        b"POST /api/cancel HTTP/1.1\r\nHost: @\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
        "POST /api/cancel HTTP/1.1\r\nHost: @\r\nContent-Length: ²\r\n\r\n{}".encode(),
    ],
)
def test_malformed_requests_are_400_before_any_route(request_bytes: bytes) -> None:
    async def main() -> bytes:
        async with Gateway(GatewayConfig(agent="unix:/nonexistent/agent.sock")) as gateway:
            data = request_bytes.replace(b"@", f"127.0.0.1:{gateway.port}".encode())
            reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
            writer.write(data)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            await writer.wait_closed()
            return answer

    assert asyncio.run(main()).split(b" ", 2)[1] == b"400"
