# SPDX-License-Identifier: Apache-2.0
"""Property tests for the terminal API: malformed requests are refused, never crash it.

Why: the touchscreen or ATM application is another process, and its bugs
must not reach the agent as anything worse than a refusal. Hypothesis
builds well-formed protobuf requests with wrong ids, sizes, enum values and
missing fields and sends them over real gRPC to a real ``host.agent.Agent``
(journal, flows, grpc.aio on 127.0.0.1) running on its own event loop
thread. Every answer is a refusal acknowledgement, ``accepted = false`` or
an INVALID_ARGUMENT-class status (never INTERNAL or UNKNOWN); a refused
request writes no journal row; and afterwards a normal command still runs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from host.agent import Agent
from host.agent.config import AgentConfig
from host.api import Profile
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from tests.flows_support import client_config
from tests.verifier_support import ServerThread, VerifierEnv, make_env

_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_TYPED = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.OUT_OF_RANGE}
_INT64 = st.integers(-(2**63), 2**63 - 1)
_ENUM = st.integers(-(2**31), 2**31 - 1)
_TEXT = st.text(max_size=80)
#: Ids the server must refuse: empty, too long, spaces or non-ASCII inside.
_BAD_IDS = st.one_of(
    st.just(""),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=65, max_size=90),
    st.builds(
        lambda head, bad, tail: head + bad + tail,
        st.text(max_size=10),
        st.characters(max_codepoint=0x20) | st.characters(min_codepoint=0x7F),
        st.text(max_size=10),
    ),
)


class AgentThread:
    """A real kiosk ``Agent`` on its own event loop thread (the test is sync)."""

    def __init__(self, config: AgentConfig) -> None:
        self.agent = Agent(config, retry_interval=30.0)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.address = ""

    def start(self) -> AgentThread:
        self._thread.start()
        self.address = asyncio.run_coroutine_threadsafe(self.agent.start(), self._loop).result(30)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.agent.stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("api-fuzz"))


@pytest.fixture(scope="module")
def verifier(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


def _start(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path, profile: Profile
) -> AgentThread:
    terminal_id = "atm-01" if profile is Profile.ATM else "kiosk-01"
    config = AgentConfig(
        profile=profile, terminal_id=terminal_id, reader="sim://default?persist=0",
        listen="127.0.0.1:0", journal=tmp_path / "journal.sqlite",
        electronic_journal=tmp_path / "ej.txt",
        verifier=client_config(env, verifier, terminal_id, timeout=3.0),
    )  # fmt: skip
    return AgentThread(config).start()


@pytest.fixture
def kiosk(env: VerifierEnv, verifier: ServerThread, tmp_path: Path) -> Iterator[AgentThread]:
    thread = _start(env, verifier, tmp_path, Profile.KIOSK)
    yield thread
    thread.stop()


@pytest.fixture(params=[Profile.KIOSK, Profile.ATM], ids=["kiosk", "atm"])
def agent(
    request: pytest.FixtureRequest, env: VerifierEnv, verifier: ServerThread, tmp_path: Path
) -> Iterator[AgentThread]:
    thread = _start(env, verifier, tmp_path, request.param)
    yield thread
    thread.stop()


@pytest.fixture
def stub(kiosk: AgentThread) -> Iterator[tpb_grpc.TerminalServiceStub]:
    with grpc.insecure_channel(kiosk.address) as channel:
        yield tpb_grpc.TerminalServiceStub(channel)


def _rows(kiosk: AgentThread) -> int:
    journal = kiosk.agent.journal  # read through its API, not its table
    assert journal is not None
    return len(journal.entries())


@st.composite
def commands(draw: st.DrawFn) -> tpb.ExecuteRequest:
    """A command of any kind with random field values (or none at all)."""
    request = tpb.ExecuteRequest(timeout_ms=draw(st.integers(0, 2**32 - 1)))
    which = draw(st.sampled_from(["none", "read_card", "pin_reset", "transfer"]))
    if which == "read_card":
        request.read_card.read_basic_four = draw(st.booleans())
        request.read_card.verify_card = draw(st.booleans())
    elif which == "pin_reset":
        request.pin_reset.operation = draw(_ENUM)  # type: ignore[assignment]
    elif which == "transfer":
        t = request.transfer
        t.amount_yen = draw(_INT64)
        t.payee_bank_code, t.payee_branch_code = draw(_TEXT), draw(_TEXT)
        t.payee_account_type = draw(_ENUM)  # type: ignore[assignment]
        t.payee_account_number, t.payee_name = draw(_TEXT), draw(_TEXT)
        t.remitter_name, t.remitter_phone = draw(_TEXT), draw(_TEXT)
    return request


def _execute(stub: tpb_grpc.TerminalServiceStub, request: tpb.ExecuteRequest) -> list[object]:
    return list(stub.Execute(request, timeout=20))


def _healthy(stub: tpb_grpc.TerminalServiceStub, agent: AgentThread) -> None:
    caps = stub.GetCapabilities(tpb.GetCapabilitiesRequest(), timeout=5)
    kiosk = agent.agent.config.profile is Profile.KIOSK
    assert caps.profile == (tpb.TERMINAL_PROFILE_KIOSK if kiosk else tpb.TERMINAL_PROFILE_ATM)
    assert stub.Cancel(tpb.CancelRequest(), timeout=5).cancelled == []


@_SETTINGS
@given(rid=_BAD_IDS, request=commands())
def test_execute_with_a_bad_request_id_is_refused(
    kiosk: AgentThread, stub: tpb_grpc.TerminalServiceStub, rid: str, request: tpb.ExecuteRequest
) -> None:
    request.request_id = rid
    before = _rows(kiosk)
    answers = _execute(stub, request)
    assert len(answers) == 1
    ack = answers[0].acknowledgement  # type: ignore[attr-defined]
    assert not ack.accepted
    assert ack.refusal == tpb.REFUSAL_REASON_INVALID_REQUEST_ID
    assert _rows(kiosk) == before


@_SETTINGS
@given(request=commands())
def test_execute_with_random_fields_is_refused_or_ends_defined(
    agent: AgentThread, request: tpb.ExecuteRequest
) -> None:
    request.request_id = "fuzz-1"
    request.timeout_ms = 1  # accepted commands end at once, as timed out
    before = _rows(agent)
    with grpc.insecure_channel(agent.address) as channel:
        stub = tpb_grpc.TerminalServiceStub(channel)
        answers = _execute(stub, request)
        _healthy(stub, agent)
    ack = answers[0].acknowledgement  # type: ignore[attr-defined]
    event(f"accepted={ack.accepted} refusal={ack.refusal}")
    if not ack.accepted:
        assert len(answers) == 1
        assert ack.refusal != tpb.REFUSAL_REASON_UNSPECIFIED
        assert _rows(agent) == before
        return
    done = answers[-1].completion  # type: ignore[attr-defined]
    assert done.code not in (tpb.COMPLETION_CODE_UNSPECIFIED, tpb.COMPLETION_CODE_INTERNAL_ERROR)


@_SETTINGS
@given(
    rid=_TEXT,
    prompt_id=_TEXT,
    answer=st.one_of(
        st.none(),
        st.booleans(),
        st.tuples(st.binary(max_size=80), st.binary(max_size=40), st.binary(max_size=80)),
    ),
)
def test_answers_and_cancels_without_a_command_are_not_accepted(
    kiosk: AgentThread,
    stub: tpb_grpc.TerminalServiceStub,
    rid: str,
    prompt_id: str,
    answer: bool | tuple[bytes, bytes, bytes] | None,
) -> None:
    request = tpb.AnswerPromptRequest(request_id=rid, prompt_id=prompt_id)
    if isinstance(answer, bool):
        request.confirmed = answer
    elif answer is not None:
        request.touch_entry.ephemeral_public_key, request.touch_entry.nonce = answer[:2]
        request.touch_entry.ciphertext = answer[2]
    assert not stub.AnswerPrompt(request, timeout=5).accepted
    assert stub.Cancel(tpb.CancelRequest(request_ids=[rid, prompt_id]), timeout=5).cancelled == []
    recovery = tpb.AnswerRecoveryRequest(recovery_id=rid, cash_moved=bool(answer))
    assert not stub.AnswerRecovery(recovery, timeout=5).accepted
    assert _rows(kiosk) == 0


def test_sealed_entries_that_do_not_open_are_invalid_argument(
    kiosk: AgentThread, stub: tpb_grpc.TerminalServiceStub
) -> None:
    stream = stub.Execute(
        tpb.ExecuteRequest(
            request_id="read-1", read_card=tpb.ReadCardCommand(read_basic_four=True)
        ),
        timeout=30,
    )
    prompt = None
    for message in stream:
        if message.WhichOneof("message") == "event" and message.event.prompt.entry_public_key:
            prompt = message.event.prompt
            break
    assert prompt is not None, "the read never asked for a PIN"
    seen: set[grpc.StatusCode] = set()

    @settings(max_examples=60, deadline=None)
    @given(
        st.binary(max_size=80),
        st.binary(max_size=40),
        st.binary(max_size=80),
        st.sampled_from(["", "p999", prompt.prompt_id]),
    )
    def answer_garbage(epk: bytes, nonce: bytes, ciphertext: bytes, prompt_id: str) -> None:
        entry = tpb.TouchEntry(ephemeral_public_key=epk, nonce=nonce, ciphertext=ciphertext)
        request = tpb.AnswerPromptRequest(
            request_id="read-1", prompt_id=prompt_id, touch_entry=entry
        )
        try:
            accepted = stub.AnswerPrompt(request, timeout=5).accepted
        except grpc.RpcError as exc:
            seen.add(exc.code())
        else:
            assert not accepted

    answer_garbage()
    assert seen, "no sealed entry was refused with a status"
    assert seen <= _TYPED, seen
    # The prompt still waits: cancel the command, and it ends CANCELED.
    assert stub.Cancel(tpb.CancelRequest(request_ids=["read-1"]), timeout=5).cancelled == ["read-1"]
    rest = list(stream)
    assert rest[-1].completion.code == tpb.COMPLETION_CODE_CANCELED
    # The server is healthy: a normal command still runs to its first prompt.
    _healthy(stub, kiosk)
    again = stub.Execute(
        tpb.ExecuteRequest(request_id="read-2", read_card=tpb.ReadCardCommand(verify_card=True)),
        timeout=30,
    )
    first = next(again)
    assert first.acknowledgement.accepted
    stub.Cancel(tpb.CancelRequest(request_ids=["read-2"]), timeout=5)
    assert list(again)[-1].completion.code == tpb.COMPLETION_CODE_CANCELED
    assert _rows(kiosk) == 0
