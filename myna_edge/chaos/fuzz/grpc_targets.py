# SPDX-License-Identifier: Apache-2.0
"""Fuzz targets for every RPC of both gRPC services, over real servers on 127.0.0.1.

Why over real servers: the bytes an attacker controls are the serialized
request, and the first parser they meet is the server's protobuf
deserializer, then the servicer's validation. Each target sends the fuzzer's
bytes, unchanged, as the request body of one method to a real
``VerifierServer`` (mTLS, SQLite) or a real ``host.agent.Agent`` (journal,
flows, the virtual card over ``sim://``), each on its own event loop thread.

The contract: bytes that are a valid request get an answer or one of the
documented refusals (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION,
PERMISSION_DENIED, ALREADY_EXISTS, UNAUTHENTICATED, OUT_OF_RANGE), never
UNKNOWN or INTERNAL; bytes that do not decode get INVALID_ARGUMENT (the
servers' decode guards; grpc.aio alone said UNKNOWN, the campaign's first
finding); and a refusal writes no row (verifier tables, agent
journal). Deviation, on purpose: an accepted ``Execute`` would wait for a
user, so its ``timeout_ms`` is set to 1 ms before sending (the command then
ends at once, TIMED_OUT).
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Final, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

from host.agent import Agent
from host.agent.config import AgentConfig
from host.api import Profile
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import verifier_pb2 as vpb
from myna_edge.chaos import ChaosInvariantError
from myna_edge.chaos.fuzz.targets import Harness, Target
from myna_edge.demo.world import DemoVerifier, prepare_verifier
from myna_edge.loop_thread import LoopThread
from verifier.server import VerifierServer, build_core
from verifier.tls import issue_terminal_certificate

__all__ = ["GRPC_TARGETS", "REFUSALS", "VERIFIER_TABLES"]

_T = TypeVar("_T")
#: The documented refusals (everything else from a valid request is a crash).
REFUSALS: Final = frozenset({
    grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.OUT_OF_RANGE,
})  # fmt: skip
VERIFIER_TABLES: Final = (
    "sessions", "idempotency", "transfers", "identity_verifications", "reservations",
)  # fmt: skip
_VERIFIER_METHODS: Final = tuple(vpb.DESCRIPTOR.services_by_name["VerifierService"].methods)
_TERMINAL_METHODS: Final = tuple(tpb.DESCRIPTOR.services_by_name["TerminalService"].methods)


class _World:
    """The verifier, and the agents (kiosk, ATM) started when a target first needs them."""

    def __init__(self, stack: ExitStack, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=workdir)))
        self.demo: DemoVerifier = prepare_verifier(root, "default")
        self.thread = LoopThread()
        stack.callback(self.thread.close)
        self.core = build_core(self.demo.config)
        self.server = VerifierServer(self.demo.config, self.core)
        self.port = self.thread.run(self.server.start())
        stack.callback(lambda: self.thread.run(self.server.stop(0.5)))
        issued = issue_terminal_certificate(self.demo.tls, "atm-01")
        credentials = grpc.ssl_channel_credentials(
            issued.ca_pem, issued.key_pem, issued.certificate_pem
        )
        options = (("grpc.ssl_target_name_override", "localhost"),)
        self.verifier = stack.enter_context(
            grpc.secure_channel(f"127.0.0.1:{self.port}", credentials, options=options)
        )
        self.agents: dict[Profile, tuple[Agent, grpc.Channel]] = {}
        self._stack, self._root = stack, root

    def agent(self, profile: Profile) -> tuple[Agent, grpc.Channel]:
        """The agent of ``profile`` and a channel to its API, started on first use."""
        if profile not in self.agents:
            terminal_id = f"{profile.value}-01"
            folder = self._root / terminal_id
            folder.mkdir()
            config = AgentConfig(
                profile=profile, terminal_id=terminal_id, reader="sim://default?persist=0",
                listen="127.0.0.1:0", journal=folder / "journal.sqlite",
                electronic_journal=folder / "ej.txt",
                verifier=self.demo.client(self.port, terminal_id),
            )  # fmt: skip
            agent = Agent(config, retry_interval=30.0)
            address = self.thread.run(agent.start())
            self._stack.callback(self.thread.run, agent.stop())
            channel = self._stack.enter_context(grpc.insecure_channel(address))
            self.agents[profile] = (agent, channel)
        return self.agents[profile]

    def verifier_rows(self) -> dict[str, int]:
        with self.core.storage.transaction() as tx:
            return {table: tx.count(table) for table in VERIFIER_TABLES}

    def journal_rows(self, profile: Profile) -> int:
        journal = self.agents[profile][0].journal  # read through its API, not its table
        assert journal is not None
        return len(journal.entries())


_WORLDS: dict[int, _World] = {}


def _world(stack: ExitStack, workdir: Path) -> _World:
    """One world per exit stack (a worker fuzzes one target; a replay test shares it)."""
    key = id(stack)
    if key not in _WORLDS:
        _WORLDS[key] = _World(stack, workdir)
        stack.callback(_WORLDS.pop, key, None)
    return _WORLDS[key]


def _decodes(cls: type[Message], data: bytes) -> Message | None:
    try:
        return cls.FromString(data)
    except DecodeError:
        return None


def _judge(name: str, request: Message | None, code: grpc.StatusCode, details: str) -> None:
    if request is None:
        if code is not grpc.StatusCode.INVALID_ARGUMENT:
            raise ChaosInvariantError(f"{name}: undecodable bytes answered {code.name}")
    elif code not in REFUSALS:
        raise ChaosInvariantError(f"{name}: valid request answered {code.name}: {details}")


def _unchanged(
    method: str, code: grpc.StatusCode, before: dict[str, int], after: dict[str, int]
) -> None:
    """A refusal writes nothing, but a state refusal (NOT_FOUND, ...) may remember
    its answer under its idempotency key, so that a retry gets the same answer."""
    grown = after["idempotency"] - before["idempotency"]
    allowed = 0 if code is grpc.StatusCode.INVALID_ARGUMENT else 1
    rest = [t for t in VERIFIER_TABLES if t != "idempotency" and after[t] != before[t]]
    if rest or not 0 <= grown <= allowed:
        raise ChaosInvariantError(f"{method}: a {code.name} refusal changed {before} -> {after}")


def _verifier_target(method: str) -> Target:
    cls = getattr(
        vpb,
        vpb.DESCRIPTOR.services_by_name["VerifierService"].methods_by_name[method].input_type.name,
    )

    def build(stack: ExitStack, workdir: Path) -> Harness:
        world = _world(stack, workdir)
        call: Any = world.verifier.unary_unary(f"/myna.edge.v1.VerifierService/{method}")

        def harness(data: bytes) -> None:
            request = _decodes(cls, data)
            before = world.verifier_rows()
            try:
                call(data, timeout=20)
            except grpc.RpcError as exc:
                _judge(method, request, exc.code(), exc.details() or "")
                _unchanged(method, exc.code(), before, world.verifier_rows())

        return harness

    return Target(f"verifier_{method}", f"VerifierService.{method} request", build)


def _terminal_target(method: str, profile: Profile) -> Target:
    descriptor = tpb.DESCRIPTOR.services_by_name["TerminalService"].methods_by_name[method]
    cls = getattr(tpb, descriptor.input_type.name)
    streaming = descriptor.server_streaming
    path = f"/myna.edge.v1.TerminalService/{method}"

    def build(stack: ExitStack, workdir: Path) -> Harness:
        world = _world(stack, workdir)
        channel = world.agent(profile)[1]
        unary: Any = channel.unary_unary(path)
        stream: Any = channel.unary_stream(path)

        def harness(data: bytes) -> None:
            request = _decodes(cls, data)
            if isinstance(request, tpb.ExecuteRequest):
                request.timeout_ms = 1  # an accepted command ends at once (module docstring)
                data = request.SerializeToString()
            before = world.journal_rows(profile)
            try:
                if not streaming:
                    unary(data, timeout=20)
                    return
                # Watch* streams never end by themselves: a short deadline ends them.
                deadline = 20.0 if method == "Execute" else 0.05
                answers = [
                    tpb.ExecuteResponse.FromString(a) if method == "Execute" else a
                    for a in stream(data, timeout=deadline)
                ]
            except grpc.RpcError as exc:
                if method != "Execute" and exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
                    return
                _judge(method, request, exc.code(), exc.details() or "")
                if world.journal_rows(profile) != before:
                    raise ChaosInvariantError(f"{method}: a refusal changed the journal") from None
                return
            if method == "Execute":
                _judge_execute(answers, world.journal_rows(profile) == before)

        return harness

    return Target(f"terminal_{method}_{profile.value}", f"TerminalService.{method} request", build)


def _judge_execute(answers: list[Any], unchanged: bool) -> None:
    ack = answers[0].acknowledgement if answers else None
    if ack is None or not answers[0].HasField("acknowledgement"):
        raise ChaosInvariantError("Execute: the first answer is not an acknowledgement")
    if not ack.accepted:
        if len(answers) != 1 or ack.refusal == tpb.REFUSAL_REASON_UNSPECIFIED or not unchanged:
            raise ChaosInvariantError("Execute: a refusal was not clean")
        return
    done = answers[-1].completion
    bad = (tpb.COMPLETION_CODE_UNSPECIFIED, tpb.COMPLETION_CODE_INTERNAL_ERROR)
    if not answers[-1].HasField("completion") or done.code in bad:
        raise ChaosInvariantError(f"Execute: an accepted command ended {done.code}")


def _terminal_targets() -> list[Target]:
    targets = [_terminal_target("Execute", Profile.KIOSK)]
    targets += [_terminal_target(m.name, Profile.ATM) for m in _TERMINAL_METHODS]
    return targets


GRPC_TARGETS: Final[dict[str, Target]] = {
    t.name: t
    for t in [*(_verifier_target(m.name) for m in _VERIFIER_METHODS), *_terminal_targets()]
}
