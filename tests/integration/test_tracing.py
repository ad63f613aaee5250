# SPDX-License-Identifier: Apache-2.0
"""One connected trace per terminal API command, from the agent into the verifier (issue 16.2).

Both services run in this process, each with its own tracer provider and
its own in-memory exporter (``service.name`` myna-agent / myna-verifier): the
real verifier (``VerifierServer`` over mTLS on its own loop thread, the
``ServerTracingInterceptor`` from its config) and the real terminal API
(``TerminalServer`` on a Unix socket, a ``VerifierClient`` whose channel
carries the ``ClientTracingInterceptor``). The only link between the two
sides' spans is the ``traceparent`` in the gRPC metadata. A transfer at an
ATM (statement, signing password, payee and remitter names) must produce
one trace, correctly parented, whose attributes hold none of the test
card's secrets or personal data.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import grpc.aio
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from host.agent.tracing import SERVICE_NAME as AGENT_SERVICE
from host.api import AgentRuntime, Profile, TerminalServer
from host.client import VerifierClient
from host.flows import Prompt
from host.journal import Journal
from host.secret import Secret
from hw_sim.card import get_profile
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from myna_edge.chaos.atm import transfer_command
from myna_metrics.tracing import (
    REQUEST_ID_ATTRIBUTE,
    TracingConfig,
    build_provider,
    install_agent_tracer,
)
from tests.flows_support import client_config
from tests.verifier_support import ServerThread, VerifierEnv, make_env
from verifier.tracing import SERVICE_NAME as VERIFIER_SERVICE

PROFILE = get_profile("default")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("tracing"))


@pytest.fixture
def verifier(env: VerifierEnv) -> Iterator[tuple[ServerThread, InMemorySpanExporter]]:
    config = dataclasses.replace(env.config(), tracing=TracingConfig(endpoint=None))
    thread = ServerThread(config)
    provider = thread.server.tracing.provider
    assert provider is not None  # config.tracing turned it on
    exported = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    thread.start()
    yield thread, exported
    thread.stop()


def _attribute_text(span: ReadableSpan) -> str:
    return " ".join(f"{k}={v}" for k, v in (span.attributes or {}).items()) + " " + span.name


def test_one_trace_per_command_across_agent_and_verifier(
    env: VerifierEnv, verifier: tuple[ServerThread, InMemorySpanExporter], tmp_path: Path
) -> None:
    server, verifier_spans = verifier
    agent_provider = build_provider(TracingConfig(endpoint=None), AGENT_SERVICE)
    agent_spans = InMemorySpanExporter()
    agent_provider.add_span_processor(SimpleSpanProcessor(agent_spans))

    async def secure_entry(prompt: Prompt) -> Secret:  # stands in for the PIN pad
        return Secret.from_text(PROFILE.sign_password)

    async def scenario() -> list[tpb.ExecuteResponse]:
        install_agent_tracer(agent_provider)  # before the channel opens, as Agent.start does
        try:
            async with VerifierClient(client_config(env, server)) as client:
                with Journal(tmp_path / "journal.db") as journal:
                    runtime = AgentRuntime.for_reader(
                        "sim://default?persist=0",
                        profile=Profile.ATM,
                        terminal_id="atm-01",
                        verifier=client,
                        journal=journal,
                        secure_entry=secure_entry,
                    )
                    address = f"unix:{tmp_path}/api.sock"
                    async with (
                        TerminalServer(runtime, address),
                        grpc.aio.insecure_channel(address) as channel,
                    ):
                        return await _transfer(tpb_grpc.TerminalServiceStub(channel))
        finally:
            install_agent_tracer(None)

    messages = asyncio.run(scenario())
    assert messages[-1].completion.code == tpb.COMPLETION_CODE_SUCCESS
    agent_provider.shutdown()

    agent = agent_spans.get_finished_spans()
    remote = verifier_spans.get_finished_spans()
    assert {s.resource.attributes["service.name"] for s in agent} == {AGENT_SERVICE}
    assert {s.resource.attributes["service.name"] for s in remote} == {VERIFIER_SERVICE}
    (root,) = [s for s in agent if s.parent is None]
    assert root.name == "Execute TRANSFER"
    assert root.attributes is not None
    assert root.attributes[REQUEST_ID_ATTRIBUTE] == "trace-1"
    trace_id = root.context.trace_id
    # one trace: every span of both services
    assert {s.context.trace_id for s in (*agent, *remote)} == {trace_id}

    clients = [s for s in agent if s.kind is SpanKind.CLIENT]
    methods = {s.name.rpartition("/")[2] for s in clients}
    assert {"OpenSession", "AuthorizeTransfer"} <= methods
    for span in clients:  # each verifier call hangs under the command's span
        assert span.parent is not None
        assert span.parent.span_id == root.context.span_id
        assert span.attributes is not None
        assert span.attributes[REQUEST_ID_ATTRIBUTE] == "trace-1"
    # a span per flow step, in the same trace under the command (myna_metrics.flow_steps)
    steps = [s for s in agent if s.name.startswith("step transfer.")]
    assert {"step transfer.start", "step transfer.done"} <= {s.name for s in steps}
    assert all(s.parent is not None and s.parent.span_id == root.context.span_id for s in steps)
    by_id = {s.context.span_id: s for s in clients}
    assert len(remote) == len(clients)  # every call reached the verifier, traced
    for span in remote:  # the server span continues the client span of the same call
        assert span.kind is SpanKind.SERVER
        assert span.parent is not None
        assert span.parent.is_remote
        caller = by_id[span.parent.span_id]
        assert caller.name == span.name
        assert span.attributes is not None
        assert span.attributes[REQUEST_ID_ATTRIBUTE] == "trace-1"
        assert span.attributes["rpc.grpc.status_code"] == 0

    person = PROFILE.person
    secrets = {
        "sign_password": PROFILE.sign_password,
        "auth_pin": PROFILE.auth_pin,
        "text_pin": PROFILE.text_pin,
        "my_number": person.my_number,
        "name": person.name,
        "payee_name": transfer_command(250_000).payee_name,
    }
    text = "\n".join(_attribute_text(s) for s in (*agent, *remote))
    for what, value in secrets.items():
        assert value, what
        assert value not in text, what


async def _transfer(stub: tpb_grpc.TerminalServiceStub) -> list[tpb.ExecuteResponse]:
    request = tpb.ExecuteRequest(request_id="trace-1", transfer=transfer_command(250_000))
    messages = []
    async for message in stub.Execute(request, timeout=30):
        messages.append(message)
        prompt = message.event.prompt
        if message.WhichOneof("message") == "event" and prompt.prompt_id:
            reply = tpb.AnswerPromptRequest(
                request_id="trace-1", prompt_id=prompt.prompt_id, confirmed=True
            )
            assert (await stub.AnswerPrompt(reply, timeout=5)).accepted
    return messages
