# SPDX-License-Identifier: Apache-2.0
"""``myna_metrics.tracing``: off by default, turned on by the TOML or ``--otlp``, honest spans.

The interceptor tests run a real grpc.aio server and channel on 127.0.0.1
with in-memory exporters; the config tests load real TOML files.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from host.agent import cli as agent_cli
from host.agent.config import AgentConfigError, load_agent_config, with_tracing
from myna_metrics import tracing
from myna_metrics.tracing import (
    REQUEST_ID,
    ClientTracingInterceptor,
    ServerTracingInterceptor,
    TracingConfig,
    build_provider,
    command_span,
    tracing_config,
)
from verifier import cli as verifier_cli
from verifier.config import load_config
from verifier.errors import ConfigError

METHOD = "/test.Echo/Say"


def test_tracing_config_checks_endpoint_and_ratio() -> None:
    assert tracing_config("http://127.0.0.1:4318/v1/traces", 0.01).sample_ratio == 0.01
    for bad in ("127.0.0.1:4318", "ftp://x/v1/traces", "http://"):
        with pytest.raises(ValueError, match="endpoint"):
            tracing_config(bad)
    with pytest.raises(ValueError, match="sample_ratio"):
        tracing_config("http://c:4318/v1/traces", 1.5)


def _agent_toml(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "terminal.toml"
    path.write_text(
        'profile = "kiosk"\nterminal_id = "k-1"\nreader = "sim://default"\n'
        f'listen = "unix:{tmp_path}/a.sock"\n{extra}\n'
        '[verifier]\ntarget = "127.0.0.1:1"\ninsecure_dev = true\n',
        encoding="utf-8",
    )
    return path


def test_agent_tracing_is_off_by_default_and_on_from_the_file(tmp_path: Path) -> None:
    plain = load_agent_config(_agent_toml(tmp_path))
    assert plain.tracing is None
    assert plain.log_format == "text"
    traced = load_agent_config(
        _agent_toml(
            tmp_path,
            'log_format = "json"\n[tracing]\nendpoint = "http://127.0.0.1:4318/v1/traces"\n'
            "sample_ratio = 0.01\n",
        )
    )
    assert traced.tracing == TracingConfig("http://127.0.0.1:4318/v1/traces", 0.01)
    assert traced.log_format == "json"
    # --otlp keeps the file's ratio; a bad URL is refused with the flag's name
    flag = with_tracing(traced, "http://collector:4318/v1/traces")
    assert flag.tracing == TracingConfig("http://collector:4318/v1/traces", 0.01)
    with pytest.raises(AgentConfigError, match="--otlp"):
        with_tracing(plain, "collector:4318")
    with pytest.raises(AgentConfigError, match="tracing"):
        load_agent_config(_agent_toml(tmp_path, '[tracing]\nendpoint = "nope"\n'))


def test_verifier_tracing_from_file_and_flags(tmp_path: Path) -> None:
    path = tmp_path / "verifier.toml"
    path.write_text(
        'log_format = "json"\n[tracing]\nendpoint = "https://otel:4318/v1/traces"\n'
        "sample_ratio = 0.5\n",
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.tracing == TracingConfig("https://otel:4318/v1/traces", 0.5)
    assert config.log_format == "json"
    assert load_config(None).tracing is None
    path.write_text('[tracing]\nendpoint = "http://o/v1/traces"\nsample_ratio = 2\n')
    with pytest.raises(ConfigError, match="sample_ratio"):
        load_config(path)
    parser = argparse.ArgumentParser()
    verifier_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(
        ["verifier", "--otlp", "http://o:4318/v1/traces", "--log-format", "json"]
    )
    flagged = verifier_cli._config(args, None)
    assert flagged.tracing == TracingConfig("http://o:4318/v1/traces", 1.0)
    assert flagged.log_format == "json"


def test_agent_cli_refuses_a_bad_otlp_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    agent_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["agent", "--config", str(_agent_toml(tmp_path)), "--otlp", "x"])
    assert agent_cli.run_agent(args) == 2
    assert "--otlp" in capsys.readouterr().err


def test_command_span_without_tracing_only_sets_the_request_id() -> None:
    assert tracing.agent_tracer() is None
    with command_span("TRANSFER", "r-9"):
        assert REQUEST_ID.get() == "r-9"
    assert REQUEST_ID.get() is None


Handler = Callable[[bytes, grpc.aio.ServicerContext[Any, Any]], Awaitable[bytes]]


async def _call(server_tracer: Any, client: Any, handler: Handler) -> grpc.StatusCode:
    """One unary call through both interceptors; returns its status code."""
    generic = grpc.method_handlers_generic_handler(
        "test.Echo", {"Say": grpc.unary_unary_rpc_method_handler(handler)}
    )
    server = grpc.aio.server(interceptors=(ServerTracingInterceptor(server_tracer),))
    server.add_generic_rpc_handlers((generic,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(
            f"127.0.0.1:{port}", interceptors=(ClientTracingInterceptor(client),)
        ) as channel:
            say = channel.unary_unary(METHOD)
            with command_span("READ_CARD", "r-1"):
                try:
                    await say(b"1234", timeout=5)
                except grpc.aio.AioRpcError as exc:
                    return exc.code()
            return grpc.StatusCode.OK
    finally:
        await server.stop(None)


def test_a_refused_call_is_an_error_span_without_the_details_text() -> None:
    exported = InMemorySpanExporter()
    provider = build_provider(TracingConfig(None), "svc")
    provider.add_span_processor(SimpleSpanProcessor(exported))
    tracer = provider.get_tracer("t")

    async def refuse(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, "PIN 1234 was wrong")

    code = asyncio.run(_call(tracer, tracer, refuse))
    assert code is grpc.StatusCode.PERMISSION_DENIED
    spans = exported.get_finished_spans()
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    (client,) = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert server.parent is not None
    assert server.parent.span_id == client.context.span_id
    for span in (server, client):
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == "PERMISSION_DENIED"
        assert span.attributes is not None
        assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.PERMISSION_DENIED.value[0]
        assert span.attributes["myna.request_id"] == "r-1"
        text = repr(dict(span.attributes)) + repr(span.events)
        assert "1234" not in text
    provider.shutdown()


def test_request_ids_without_tracing_reach_the_handler() -> None:
    seen: list[str | None] = []
    provider = build_provider(TracingConfig(None), "svc")

    async def echo(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        seen.append(REQUEST_ID.get())
        return request

    code = asyncio.run(_call(None, provider.get_tracer("t"), echo))
    assert code is grpc.StatusCode.OK
    assert seen == ["r-1"]
    provider.shutdown()
