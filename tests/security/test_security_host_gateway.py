# SPDX-License-Identifier: Apache-2.0
"""A hostile page or local program against the kiosk gateway (issue 22, finding 7).

Over a real socket to a started ``Gateway``: a ``Content-Length`` of ``²``
(which ``str.isdigit`` accepts and ``int`` refuses), JSON nested 5,000 deep
(which made ``json.loads`` raise ``RecursionError``) and a flood of open
connections. Each gets a 4xx/503 answer, nothing reaches the agent, and the
log carries no traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from host.gateway import Gateway, GatewayConfig

#: Nobody listens there: a request that reached the agent would fail with 503.
AGENT = "unix:/nonexistent/agent.sock"


def _post(port: int, path: str, body: bytes, *, length: bytes | None = None) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Origin: http://127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
    ).encode("latin-1")
    size = str(len(body)).encode() if length is None else length
    return head + b"Content-Length: " + size + b"\r\n\r\n" + body


async def _exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 5.0)
    finally:
        writer.close()
        await writer.wait_closed()


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def _serve(scenario: Callable[[Gateway], Awaitable[None]], *, max_connections: int = 32) -> None:
    async def main() -> None:
        config = GatewayConfig(agent=AGENT, max_connections=max_connections)
        async with Gateway(config) as gateway:
            await scenario(gateway)

    asyncio.run(main())


@pytest.fixture
def quiet_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="host.gateway")
    return caplog


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert bad == []
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("length", ["²".encode("latin-1"), "١".encode(), b"+5", b" 5 5", b"-1"])
def test_non_ascii_digit_content_length_is_400(
    quiet_log: pytest.LogCaptureFixture, length: bytes
) -> None:
    async def scenario(gateway: Gateway) -> None:
        answer = await _exchange(
            gateway.port, _post(gateway.port, "/api/cancel", b"{}", length=length)
        )
        assert _status(answer) == 400, answer[:200]

    _serve(scenario)
    _no_traceback(quiet_log)


@pytest.mark.parametrize("route", ["/api/answer", "/api/cancel", "/api/execute"])
def test_json_nested_5000_deep_is_400(quiet_log: pytest.LogCaptureFixture, route: str) -> None:
    body = b"[" * 5000 + b"]" * 5000

    async def scenario(gateway: Gateway) -> None:
        answer = await _exchange(gateway.port, _post(gateway.port, route, body))
        assert _status(answer) == 400, answer[:200]
        assert b"nested deeper" in answer

    _serve(scenario)
    _no_traceback(quiet_log)


def test_open_connections_are_capped(quiet_log: pytest.LogCaptureFixture) -> None:
    async def scenario(gateway: Gateway) -> None:
        held = [await asyncio.open_connection("127.0.0.1", gateway.port) for _ in range(4)]
        try:
            await asyncio.sleep(0.1)  # let the gateway accept them all
            request = f"GET /nope HTTP/1.1\r\nHost: 127.0.0.1:{gateway.port}\r\n\r\n".encode()
            assert _status(await _exchange(gateway.port, request)) == 503
        finally:
            for _, writer in held:
                writer.close()
                await writer.wait_closed()
        for _ in range(100):  # bounded: the gateway notices the closed ones
            answer = await _exchange(gateway.port, request)
            if _status(answer) != 503:
                break
            await asyncio.sleep(0.05)
        assert _status(answer) == 404  # served again

    _serve(scenario, max_connections=4)
    _no_traceback(quiet_log)


def test_connection_cap_must_be_sensible() -> None:
    with pytest.raises(ValueError, match="max_connections"):
        Gateway(GatewayConfig(agent=AGENT, max_connections=0))
    assert GatewayConfig(agent=AGENT).max_connections == 32
