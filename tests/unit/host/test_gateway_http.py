# SPDX-License-Identifier: Apache-2.0
"""``host.gateway.http``: the strict little HTTP/1.1 parser and the response heads."""

from __future__ import annotations

import asyncio

import pytest

from host.errors import GatewayRequestError
from host.gateway.http import (
    MAX_BODY_BYTES,
    Request,
    json_response,
    read_request,
    response_head,
)


def parse(data: bytes, *, eof: bool = True) -> Request | None:
    async def main() -> Request | None:
        reader = asyncio.StreamReader(limit=16384)
        reader.feed_data(data)
        if eof:
            reader.feed_eof()
        return await read_request(reader)

    return asyncio.run(main())


def test_get_with_query_and_lower_case_headers() -> None:
    request = parse(b"GET /api/config?idle=2&x= HTTP/1.1\r\nHost: 127.0.0.1:8\r\nX-A:  b \r\n\r\n")
    assert request is not None
    assert (request.method, request.path) == ("GET", "/api/config")
    assert request.query == {"idle": "2", "x": ""}
    assert request.headers == {"host": "127.0.0.1:8", "x-a": "b"}
    assert request.body == b""


def test_post_body_by_content_length_and_json() -> None:
    request = parse(
        b"POST /api/cancel HTTP/1.1\r\nContent-Type: application/json; charset=utf-8\r\n"
        b'Content-Length: 13\r\n\r\n{"a": [1, 2]}'
    )
    assert request is not None
    assert request.json() == {"a": [1, 2]}
    assert "body" not in repr(request)  # bodies never reach a repr (or a log)


def test_client_closing_before_a_request_is_not_an_error() -> None:
    assert parse(b"") is None


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET / HTTP/1.1\r\nHost: a", 400),  # truncated head
        (b"GET /\r\n\r\n", 400),
        (b"GET nohost HTTP/1.1\r\n\r\n", 400),
        (b"GE T / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\nbad header\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431),
        (b"POST / HTTP/1.1\r\n\r\n", 411),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 400),
        (f"POST / HTTP/1.1\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode(), 413),
    ],
)
def test_malformed_requests_carry_their_status(data: bytes, status: int) -> None:
    with pytest.raises(GatewayRequestError) as caught:
        parse(data)
    assert caught.value.status == status


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/plain", b"{}", 415),
        ("application/json", b"{", 400),
        ("application/json", b"\xff", 400),
    ],
)
def test_json_body_errors(content_type: str, body: bytes, status: int) -> None:
    request = Request("POST", "/", {}, {"content-type": content_type}, body)
    with pytest.raises(GatewayRequestError) as caught:
        request.json()
    assert caught.value.status == status


def test_response_heads_close_and_carry_the_security_headers() -> None:
    head = response_head(200, "text/html", 5).decode()
    assert head.startswith("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n")
    assert "Connection: close\r\n" in head
    assert "Content-Security-Policy: default-src 'none'" in head
    assert "Cache-Control: no-store" in head
    assert head.endswith("\r\n\r\n")
    assert "Content-Length" not in response_head(200, "text/event-stream").decode()
    response = json_response(422, {"error": "日本"})
    assert response.body == '{"error":"日本"}'.encode()
    assert response.content_type == "application/json; charset=utf-8"
