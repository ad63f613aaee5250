# SPDX-License-Identifier: Apache-2.0
"""Terminal certificates in service: a stolen terminal, a renewal under load (issue 16, item 6).

Real parts only: the ``VerifierServer`` with mTLS on 127.0.0.1, the CLI's
``issue-terminal-cert``, ``renew-terminal-cert`` and ``revoke-terminal``
handlers on the files an operator would touch, and the agent's
``VerifierClient`` reading its PEM files. Progress is waited for by counting
calls, never by timing them.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from cryptography import x509

from host.client import VerifierClient, new_idempotency_key
from host.client.channel import ClientConfig
from host.client.models import SessionPurpose
from host.errors import ServiceError
from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from tests.verifier_support import ServerThread, VerifierEnv, make_env
from verifier.cli import add_parser
from verifier.service import ERROR_METADATA_KEY
from verifier.tls import issue_terminal_certificate

#: A safety net for a hung test, never an assertion on speed.
_PATIENCE = 120.0


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("terminal-certs"))


@pytest.fixture
def server(env: VerifierEnv) -> Iterator[ServerThread]:
    env.tls.path("revoked_terminals").unlink(missing_ok=True)
    thread = ServerThread(env.config())
    thread.start()
    yield thread
    thread.stop()


def _cli(env: VerifierEnv, tmp_path: Path, *args: str) -> int:
    config = tmp_path / "verifier.toml"
    config.write_text(f'[tls]\ndirectory = "{env.tls.directory}"\n', encoding="utf-8")
    parser = argparse.ArgumentParser(prog="myna-edge")
    add_parser(parser.add_subparsers(dest="command"))
    parsed = parser.parse_args(["verifier", *args, "--config", str(config)])
    result: int = parsed.handler(parsed)
    return result


def _reason(error: grpc.RpcError) -> str:
    for key, value in error.trailing_metadata() or ():
        if key == ERROR_METADATA_KEY:
            return pb.ErrorInfo.FromString(value).reason
    return ""


def _open(stub: pb_grpc.VerifierServiceStub, key: str) -> pb.OpenSessionResponse:
    request = pb.OpenSessionRequest(purpose=pb.SESSION_PURPOSE_TRANSFER, idempotency_key=key)
    return stub.OpenSession(request, timeout=30)


@dataclass
class _Caller:
    """One terminal calling OpenSession in a loop on its own channel."""

    calls: int = 0
    failures: list[str] = field(default_factory=list)
    progressed: threading.Condition = field(default_factory=threading.Condition)

    def run(
        self, server: ServerThread, credentials: grpc.ChannelCredentials, stop: threading.Event
    ) -> None:
        with server.stub(credentials) as stub:
            while not stop.is_set():
                try:
                    _open(stub, new_idempotency_key("test.open"))
                except grpc.RpcError as exc:
                    self.failures.append(f"{exc.code()} {_reason(exc)}")
                with self.progressed:
                    self.calls += 1
                    self.progressed.notify_all()

    def wait_for(self, calls: int) -> None:
        with self.progressed:
            assert self.progressed.wait_for(lambda: self.calls >= calls, _PATIENCE)


def test_a_stolen_terminal_is_refused_at_once_and_the_others_keep_going(
    env: VerifierEnv, server: ServerThread, tmp_path: Path
) -> None:
    issued = issue_terminal_certificate(env.tls, "atm-stolen")
    pem = tmp_path / "atm-stolen.pem"
    pem.write_bytes(issued.certificate_pem)
    stolen = grpc.ssl_channel_credentials(issued.ca_pem, issued.key_pem, issued.certificate_pem)
    callers = [_Caller() for _ in range(3)]
    stop = threading.Event()
    threads = [
        threading.Thread(target=c.run, args=(server, env.credentials(f"atm-{n}"), stop))
        for n, c in enumerate(callers)
    ]
    for thread in threads:
        thread.start()
    try:
        with server.stub(stolen) as stub:
            assert _open(stub, "stolen.before").session_id
            for caller in callers:
                caller.wait_for(10)  # every other terminal is busy when the revocation lands
            assert _cli(env, tmp_path, "revoke-terminal-cert", "--certificate", str(pem)) == 0
            before = [c.calls for c in callers]
            # The same open connection, no restart: the very next call is refused.
            with pytest.raises(grpc.RpcError) as refused:
                _open(stub, "stolen.after")
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert _reason(refused.value) == "TERMINAL_REVOKED"
            for caller, count in zip(callers, before, strict=True):
                caller.wait_for(count + 20)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert [c.failures for c in callers] == [[], [], []]
    assert sum(c.calls for c in callers) >= 90


async def _load(
    client: VerifierClient, counts: list[int], failures: list[str], stop: asyncio.Event, slot: int
) -> None:
    while not stop.is_set():
        try:
            await client.open_session(SessionPurpose.TRANSFER, new_idempotency_key("test.renew"))
        except ServiceError as exc:
            failures.append(type(exc).__name__)
        counts[slot] += 1


async def _until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(_PATIENCE):
        while not predicate():
            await asyncio.sleep(0.01)


def test_a_renewed_certificate_is_used_without_restart_under_load(
    env: VerifierEnv, server: ServerThread, tmp_path: Path
) -> None:
    out = tmp_path / "terminal"
    out.mkdir()
    assert (
        _cli(env, tmp_path, "issue-terminal-cert", "--terminal-id", "atm-renew", "--out", str(out))
        == 0
    )
    old_pem = (out / "atm-renew.pem").read_bytes()
    old_key = (out / "atm-renew.key").read_bytes()
    old_serial = x509.load_pem_x509_certificate(old_pem).serial_number
    config = ClientConfig.from_files(
        f"127.0.0.1:{server.port}",
        "atm-renew",
        ca=out / "ca.pem",
        certificate=out / "atm-renew.pem",
        key=out / "atm-renew.key",
        server_name_override="localhost",
        reload_interval=0.05,
    )
    failures: list[str] = []
    counts = [0] * 4

    async def scenario() -> int:
        stop = asyncio.Event()
        async with VerifierClient(config) as client:
            tasks = [
                asyncio.create_task(_load(client, counts, failures, stop, n)) for n in range(4)
            ]
            await _until(lambda: min(counts) >= 10)
            renewed = await asyncio.to_thread(
                _cli,
                env,
                tmp_path,
                "renew-terminal-cert",
                "--terminal-id",
                "atm-renew",
                "--out",
                str(out),
            )
            assert renewed == 0
            await _until(lambda: client.credential_generation == 1)
            # Each task has finished a call on the new channel: none is left on the old one.
            mark = list(counts)
            await _until(lambda: all(c >= m + 2 for c, m in zip(counts, mark, strict=True)))
            revoked = await asyncio.to_thread(
                _cli, env, tmp_path, "revoke-terminal", "--serial", f"{old_serial:x}"
            )
            assert revoked == 0
            mark = list(counts)
            await _until(lambda: all(c >= m + 20 for c, m in zip(counts, mark, strict=True)))
            stop.set()
            await asyncio.gather(*tasks)
            return client.credential_generation

    assert asyncio.run(scenario()) == 1
    assert failures == []
    new_pem = (out / "atm-renew.pem").read_bytes()
    assert x509.load_pem_x509_certificate(new_pem).serial_number != old_serial
    # The old certificate really is shut out now, so the calls above used the new one.
    old = grpc.ssl_channel_credentials((out / "ca.pem").read_bytes(), old_key, old_pem)
    with server.stub(old) as stub, pytest.raises(grpc.RpcError) as refused:
        _open(stub, "old.certificate")
    assert _reason(refused.value) == "TERMINAL_REVOKED"
    assert sum(counts) >= 4 * 32
