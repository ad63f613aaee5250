# SPDX-License-Identifier: Apache-2.0
"""``host.gateway.server``: routes, guards and streams, over a real socket to a fake agent.

The agent below the gateway is a behavioural fake TerminalService on a
real grpc.aio server (127.0.0.1): it records every call, so a refused
request is proved to have changed nothing there. Requests are written by
hand on a raw socket so each header (Host, Origin, Sec-Fetch-Site) is
under the test's control.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import grpc.aio
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from host.gateway import Gateway, GatewayConfig, Handler
from host.gateway.http import Request, Response
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc


class FakeAgent(tpb_grpc.TerminalServiceServicer):
    """Records calls; Execute sends ack, one prompt, then waits for ``release``."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.entries: list[tpb.TouchEntry] = []
        self.release = asyncio.Event()
        self.stream_closed = asyncio.Event()

    async def Execute(self, request: Any, context: Any) -> AsyncIterator[tpb.ExecuteResponse]:
        self.calls.append(f"Execute {request.request_id}")
        rid = request.request_id
        try:
            yield tpb.ExecuteResponse(
                request_id=rid, acknowledgement=tpb.Acknowledgement(accepted=True)
            )
            prompt = tpb.PromptEvent(prompt_id="p1", type=tpb.PROMPT_TYPE_AUTH_PIN, tries_left=3,
                                     entry_public_key=bytes(range(32)))  # fmt: skip
            yield tpb.ExecuteResponse(request_id=rid, event=tpb.FlowEvent(prompt=prompt))
            await self.release.wait()
            done = tpb.Completion(code=tpb.COMPLETION_CODE_SUCCESS)
            yield tpb.ExecuteResponse(request_id=rid, completion=done)
        finally:
            self.stream_closed.set()

    async def AnswerPrompt(self, request: Any, context: Any) -> tpb.AnswerPromptResponse:
        self.calls.append(f"AnswerPrompt {request.prompt_id}")
        if request.touch_entry.ciphertext == b"bad":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "does not open")
        self.entries.append(request.touch_entry)
        return tpb.AnswerPromptResponse(accepted=True)

    async def Cancel(self, request: Any, context: Any) -> tpb.CancelResponse:
        self.calls.append(f"Cancel {list(request.request_ids)}")
        return tpb.CancelResponse(cancelled=list(request.request_ids))

    async def GetCapabilities(self, request: Any, context: Any) -> tpb.GetCapabilitiesResponse:
        return tpb.GetCapabilitiesResponse(
            profile=tpb.TERMINAL_PROFILE_KIOSK, read_card=True, pin_reset=True
        )


Scenario = Callable[[Gateway, FakeAgent], Awaitable[None]]


def run(
    scenario: Scenario, *, agent_up: bool = True, routes: dict[str, Handler] | None = None
) -> None:
    async def main() -> None:
        fake = FakeAgent()
        server = grpc.aio.server()
        tpb_grpc.add_TerminalServiceServicer_to_server(fake, server)
        if agent_up:
            port = server.add_insecure_port("127.0.0.1:0")
            await server.start()
        else:
            with socket.socket() as sock:  # a port nothing listens on
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
        try:
            config = GatewayConfig(agent=f"127.0.0.1:{port}", idle_seconds=7)
            async with Gateway(config, extra_routes=routes) as gw:
                await scenario(gw, fake)
        finally:
            await server.stop(None)

    asyncio.run(main())


async def http(
    gw: Gateway,
    method: str,
    path: str,
    body: object = None,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection; the status, headers and body."""
    own = f"http://127.0.0.1:{gw.port}"
    sent = {"Host": f"127.0.0.1:{gw.port}"}
    data = raw if raw is not None else b"" if body is None else json.dumps(body).encode()
    if method == "POST":
        sent |= {"Origin": own, "Content-Type": "application/json"}
        sent["Content-Length"] = str(len(data))
    sent |= headers or {}
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in sent.items() if v != "-"
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    writer.write(head.encode() + b"\r\n" + data)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    top, _, payload = answer.partition(b"\r\n\r\n")
    lines = top.decode().split("\r\n")
    parsed = dict(line.split(": ", 1) for line in lines[1:])
    if parsed.get("Transfer-Encoding") == "chunked":  # an event stream
        payload = _dechunk(payload)
    return int(lines[0].split()[1]), parsed, payload


def _dechunk(data: bytes) -> bytes:
    """The body of a chunked HTTP/1.1 response (how aiohttp sends a stream)."""
    out = b""
    while data:
        size, _, rest = data.partition(b"\r\n")
        length = int(size, 16)
        if length == 0:
            break
        out, data = out + rest[:length], rest[length + 2 :]
    return out


def test_static_app_with_security_headers() -> None:
    async def scenario(gw: Gateway, fake: FakeAgent) -> None:
        status, headers, body = await http(gw, "GET", "/")
        assert status == 200
        assert b"/static/app.js" in body
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        status, headers, _ = await http(gw, "GET", "/static/seal.js")
        assert (status, headers["Content-Type"]) == (200, "text/javascript; charset=utf-8")
        for path in ("/static/../server.py", "/static/%2e%2e/server.py", "/nope", "/static/"):
            assert (await http(gw, "GET", path))[0] == 404

    run(scenario)


def test_config_gives_idle_timeout_and_capabilities() -> None:
    async def scenario(gw: Gateway, fake: FakeAgent) -> None:
        status, _, body = await http(gw, "GET", "/api/config")
        config = json.loads(body)
        assert status == 200
        assert config["idle_seconds"] == 7
        assert config["voice_guidance"] is False  # the operator turns it on (--voice)
        assert config["capabilities"]["profile"] == "TERMINAL_PROFILE_KIOSK"

    run(scenario)


def test_message_table_is_served_without_the_agent() -> None:
    async def scenario(gw: Gateway, fake: FakeAgent) -> None:
        status, headers, body = await http(gw, "GET", "/api/messages")
        table = json.loads(body)
        assert status == 200
        assert headers["Cache-Control"] == "no-store"
        assert table["results"]["card_removed"]["ja"].startswith("カードが取り外されました")
        assert "暗証番号" in table["furigana"]
        assert (await http(gw, "POST", "/api/messages", {}))[0] == 405

    run(scenario, agent_up=False)


@pytest.mark.parametrize(
    ("headers", "why", "refused"),
    [
        ({"Origin": "http://evil.example"}, "foreign origin", 403),
        ({"Origin": "null"}, "opaque origin", 403),
        ({"Origin": "-"}, "no origin on a POST", 403),
        ({"Sec-Fetch-Site": "cross-site"}, "cross-site fetch", 403),
        ({"Host": "evil.example:80"}, "DNS rebinding Host", 403),
        # HTTP/1.1 without Host is malformed (RFC 9112 section 3.2): aiohttp's parser says 400.
        ({"Host": "-"}, "no Host", 400),
    ],
)
def test_foreign_requests_are_refused_before_the_agent(
    headers: dict[str, str], why: str, refused: int
) -> None:
    async def scenario(gw: Gateway, fake: FakeAgent) -> None:
        body = {"request_ids": ["r1"]}
        status, _, payload = await http(gw, "POST", "/api/cancel", body, headers=headers)
        assert status == refused, why
        if refused == 403:  # the gateway's own answer (aiohttp's parser answers in text)
            assert "error" in json.loads(payload)
        assert fake.calls == []

    run(scenario)


@pytest.mark.parametrize(
    ("raw", "headers", "status"),
    [
        (b"{not json", {}, 400),
        (b"[1, 2]", {}, 400),
        (b'{"request_id": "r1", "no_such_field": 1}', {}, 400),
        (b'{"request_id": "r1", "prompt_id": "p1", "touch_entry": {"nonce": 5}}', {}, 400),
        (b"\xff\xfe", {}, 400),
        (b'{"request_id": "r1"}', {"Content-Type": "text/plain"}, 415),
        (b"{}" + b" " * 20000, {}, 413),
    ],
)
def test_malformed_bodies_are_400_and_change_nothing(
    raw: bytes, headers: dict[str, str], status: int
) -> None:
    async def scenario(gw: Gateway, fake: FakeAgent) -> None:
        for path in ("/api/answer", "/api/execute"):
            assert (await http(gw, "POST", path, raw=raw, headers=headers))[0] == status
        assert fake.calls == []

    run(scenario)


def test_wrong_methods_are_405() -> None:
    async def scenario(gw: Gateway, fake: FakeAgent) -> None:
        assert (await http(gw, "GET", "/api/answer"))[0] == 405
        assert (await http(gw, "POST", "/api/config", {}))[0] == 405
        assert (await http(gw, "PUT", "/"))[0] == 405
        assert fake.calls == []

    run(scenario)


def _events(payload: bytes) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in payload.decode().split("\n\n"):
        if block.strip():
            kind = block.split("\n")[0].removeprefix("event: ")
            out.append((kind, json.loads(block.split("\n")[1].removeprefix("data: "))))
    return out


def test_execute_streams_events_and_answers_are_forwarded(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(gw: Gateway, fake: FakeAgent) -> None:
        request = {"request_id": "r1", "timeout_ms": 5000, "read_card": {"read_basic_four": True}}
        stream = asyncio.ensure_future(http(gw, "POST", "/api/execute", request))
        while not fake.calls:
            await asyncio.sleep(0.01)
        marker = b"CIPHERTEXT-MARKER"
        entry = {
            "ephemeral_public_key": base64.b64encode(bytes(32)).decode(),
            "nonce": base64.b64encode(bytes(12)).decode(),
            "ciphertext": base64.b64encode(marker).decode(),
        }
        answer = {"request_id": "r1", "prompt_id": "p1", "touch_entry": entry}
        status, _, body = await http(gw, "POST", "/api/answer", answer)
        assert (status, json.loads(body)) == (200, {"accepted": True})
        assert fake.entries[0].ciphertext == marker
        bad = {**answer, "touch_entry": {**entry, "ciphertext": base64.b64encode(b"bad").decode()}}
        assert (await http(gw, "POST", "/api/answer", bad))[0] == 422
        fake.release.set()
        status, headers, payload = await stream
        assert status == 200
        assert headers["Content-Type"].startswith("text/event-stream")
        events = _events(payload)
        assert [k for k, _ in events] == ["acknowledgement", "event", "completion"]
        prompt = events[1][1]["prompt"]
        assert prompt["type"] == "PROMPT_TYPE_AUTH_PIN"
        assert base64.b64decode(prompt["entry_public_key"]) == bytes(range(32))
        assert events[2][1]["code"] == "COMPLETION_CODE_SUCCESS"

    with caplog.at_level(logging.DEBUG):
        run(scenario)
    assert "/api/answer -> 200" in caplog.text
    assert "/api/answer -> 422" in caplog.text
    assert "CIPHERTEXT-MARKER" not in caplog.text
    assert base64.b64encode(b"CIPHERTEXT-MARKER").decode() not in caplog.text


def test_browser_leaving_cancels_the_command_stream() -> None:
    async def scenario(gw: Gateway, fake: FakeAgent) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        body = json.dumps({"request_id": "r2", "read_card": {}}).encode()
        writer.write(
            f"POST /api/execute HTTP/1.1\r\nHost: 127.0.0.1:{gw.port}\r\n"
            f"Origin: http://127.0.0.1:{gw.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        await asyncio.wait_for(reader.readuntil(b"event: event"), 10)
        writer.close()
        await asyncio.wait_for(fake.stream_closed.wait(), 10)
        cancel = await http(gw, "POST", "/api/cancel", {"request_ids": ["r2"]})
        assert json.loads(cancel[2]) == {"cancelled": ["r2"]}

    run(scenario)


def test_agent_down_is_reported_not_hidden() -> None:
    async def scenario(gw: Gateway, fake: FakeAgent) -> None:
        status, _, body = await http(gw, "GET", "/api/config")
        assert (status, json.loads(body)["capabilities"]) == (200, None)
        status, _, payload = await http(gw, "POST", "/api/execute", {"request_id": "r3"})
        assert _events(payload) == [("error", {"error": "agent_unavailable"})]
        status, _, body = await http(gw, "POST", "/api/cancel", {})
        assert (status, json.loads(body)) == (503, {"error": "agent_unavailable"})

    run(scenario, agent_up=False)


class _Peer:
    """A transport whose peer is ``peer`` (a request relayed from elsewhere)."""

    def __init__(self, peer: object) -> None:
        self.peer = peer

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self.peer if name == "peername" else default


@pytest.mark.parametrize("peer", [("192.0.2.7", 40000), ("10.0.0.1", 1), ("::ffff:8.8.8.8", 5), ""])
def test_non_local_peers_get_403_and_nothing_is_served(peer: object) -> None:
    served: list[str] = []

    async def route(request: web.Request) -> web.StreamResponse:
        served.append(request.path)
        return web.Response(text="<html>")

    async def scenario(gw: Gateway, fake: FakeAgent) -> None:
        headers = {"Host": f"127.0.0.1:{gw.port}"}
        request = make_mocked_request("GET", "/", headers=headers, transport=_Peer(peer))
        response = await gw._guard(request, route)
        assert response.status == 403
        assert served == []
        assert fake.calls == []
        local = make_mocked_request("GET", "/", headers=headers, transport=_Peer(("::1", 5)))
        assert (await gw._guard(local, route)).status == 200  # the same call, a local peer
        assert served == ["/"]

    run(scenario)


def test_gateway_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="idle_seconds"):
        Gateway(GatewayConfig(agent="127.0.0.1:1", idle_seconds=0))


def test_extra_routes_pass_the_same_guard_and_a_bug_is_a_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    async def hello(request: Request) -> Response:
        seen.append(request.method)
        return Response(200, b"hi", "text/plain")

    async def boom(request: Request) -> Response:
        raise RuntimeError("a bug in a route")

    async def scenario(gw: Gateway, fake: FakeAgent) -> None:
        assert (await http(gw, "GET", "/hello"))[2] == b"hi"
        assert (await http(gw, "POST", "/hello", {}))[0] == 200
        evil = {"Origin": "http://evil.example"}
        assert (await http(gw, "POST", "/hello", {}, headers=evil))[0] == 403
        status, _, body = await http(gw, "GET", "/boom")
        assert (status, json.loads(body)) == (500, {"error": "internal"})

    with caplog.at_level(logging.ERROR):
        run(scenario, routes={"/hello": hello, "/boom": boom})
    assert seen == ["GET", "POST"]
    assert "GET /boom failed" in caplog.text


@pytest.mark.parametrize("sent", [b"", b"GET / HTTP/1.1\r\nHost: 127.0.0.1"])
def test_a_client_without_a_whole_request_head_is_dropped(sent: bytes) -> None:
    async def main() -> None:
        config = GatewayConfig(agent="unix:/nonexistent/agent.sock", head_timeout=0.2)
        async with Gateway(config) as gw:
            reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
            writer.write(sent)
            assert await asyncio.wait_for(reader.read(), 10) == b""  # closed, slot freed
            writer.close()
            status, _, _ = await http(gw, "GET", "/api/messages")  # a whole request is served
            assert status == 200

    asyncio.run(main())
    with pytest.raises(ValueError, match="head_timeout"):
        Gateway(GatewayConfig(agent="unix:/x", head_timeout=0))
