# SPDX-License-Identifier: Apache-2.0
"""Attack: a stolen terminal keeps calling the verifier (issue 22, item 3).

Before the fix nothing could shut a terminal out short of replacing the
terminal CA. Now ``myna-edge verifier revoke-terminal`` adds its certificate
serial (or its id) to the deny-list, and the RUNNING verifier refuses the
very next call, on the terminal's already open connection, with
UNAUTHENTICATED / TERMINAL_REVOKED; other terminals are still served. The
service itself no longer creates a terminal CA key: it starts with only the
CA certificate.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509

from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from tests.verifier_support import ServerThread, VerifierEnv, make_env
from verifier.cli import add_parser
from verifier.config import TlsConfig
from verifier.errors import ConfigError
from verifier.server import VerifierServer
from verifier.service import ERROR_METADATA_KEY
from verifier.tls import issue_terminal_certificate


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("security-revocation"))


@pytest.fixture
def server(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config())
    thread.start()
    yield thread
    thread.stop()


def _open(stub: pb_grpc.VerifierServiceStub, key: str) -> pb.OpenSessionResponse:
    request = pb.OpenSessionRequest(purpose=pb.SESSION_PURPOSE_TRANSFER, idempotency_key=key)
    return stub.OpenSession(request, timeout=10)


def _reason(error: grpc.RpcError) -> str:
    for key, value in error.trailing_metadata() or ():
        if key == ERROR_METADATA_KEY:
            return pb.ErrorInfo.FromString(value).reason
    return ""


def _revoke(env: VerifierEnv, tmp_path: Path, *args: str) -> int:
    config = tmp_path / "verifier.toml"
    config.write_text(f'[tls]\ndirectory = "{env.tls.directory}"\n', encoding="utf-8")
    parser = argparse.ArgumentParser(prog="myna-edge")
    add_parser(parser.add_subparsers(dest="command"))
    parsed = parser.parse_args(["verifier", "revoke-terminal", *args, "--config", str(config)])
    result: int = parsed.handler(parsed)
    return result


def _credentials(
    env: VerifierEnv, terminal: str, tmp_path: Path
) -> tuple[grpc.ChannelCredentials, Path]:
    issued = issue_terminal_certificate(env.tls, terminal)
    pem = (
        tmp_path
        / f"{terminal}-{x509.load_pem_x509_certificate(issued.certificate_pem).serial_number:x}.pem"
    )
    pem.write_bytes(issued.certificate_pem)
    credentials = grpc.ssl_channel_credentials(
        issued.ca_pem, issued.key_pem, issued.certificate_pem
    )
    return credentials, pem


def test_a_revoked_certificate_is_refused_at_the_next_call(
    env: VerifierEnv, server: ServerThread, tmp_path: Path
) -> None:
    stolen, pem = _credentials(env, "atm-stolen", tmp_path)
    sibling, _ = _credentials(env, "atm-stolen", tmp_path)  # re-enrolled: a new certificate
    with server.stub(stolen) as stub, server.stub(sibling) as fresh:
        assert _open(stub, "before").session_id
        serial = x509.load_pem_x509_certificate(pem.read_bytes()).serial_number
        assert _revoke(env, tmp_path, "--certificate", str(pem), "--note", "stolen") == 0
        # Same channel, no restart: refused at once, with a clear status.
        with pytest.raises(grpc.RpcError) as refused:
            _open(stub, "after")
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert _reason(refused.value) == "TERMINAL_REVOKED"
        assert "revoked" in (refused.value.details() or "")
        # The terminal's new certificate (other serial, same id) is still served.
        assert _open(fresh, "re-enrolled").session_id
    assert f"serial {serial:x}" in env.tls.path("revoked_terminals").read_text()


def test_revoking_a_terminal_id_refuses_all_its_certificates(
    env: VerifierEnv, server: ServerThread, tmp_path: Path
) -> None:
    bad, _ = _credentials(env, "kiosk-gone", tmp_path)
    good, _ = _credentials(env, "kiosk-ok", tmp_path)
    with server.stub(bad) as stub, server.stub(good) as other:
        assert _open(stub, "1").session_id
        assert _revoke(env, tmp_path, "--terminal-id", "kiosk-gone") == 0
        with pytest.raises(grpc.RpcError) as refused:
            _open(stub, "2")
        assert _reason(refused.value) == "TERMINAL_REVOKED"
        assert _open(other, "3").session_id


def test_a_damaged_deny_list_fails_closed(
    env: VerifierEnv, server: ServerThread, tmp_path: Path
) -> None:
    credentials, _ = _credentials(env, "atm-77", tmp_path)
    path = env.tls.path("revoked_terminals")
    saved = path.read_bytes() if path.exists() else None
    try:
        with server.stub(credentials) as stub:
            assert _open(stub, "1").session_id
            path.write_text("serial not-hex\n", encoding="utf-8")
            with pytest.raises(grpc.RpcError) as refused:
                _open(stub, "2")
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            assert _reason(refused.value) == "TERMINAL_DENYLIST_INVALID"
            # The CLI will not append to a file the service refuses.
            assert _revoke(env, tmp_path, "--terminal-id", "atm-78") == 2
    finally:
        if saved is None:
            path.unlink()
        else:
            path.write_bytes(saved)


def test_the_service_starts_without_the_terminal_ca_key(env: VerifierEnv, tmp_path: Path) -> None:
    # The verifier host holds the CA certificate and its own server certificate only.
    folder = tmp_path / "verifier-host"
    folder.mkdir(mode=0o700)
    for name in ("terminal_ca", "server_cert", "server_key"):
        shutil.copy(env.tls.path(name), folder / env.tls.path(name).name)
    tls = TlsConfig(directory=folder)
    config = env.config()
    thread = ServerThread(dataclasses.replace(config, tls=tls))
    thread.start()
    try:
        credentials, _ = _credentials(env, "atm-08", tmp_path)
        with thread.stub(credentials) as stub:
            assert _open(stub, "k").session_id
    finally:
        thread.stop()
    assert not tls.path("terminal_ca_key").exists()


def test_the_service_never_creates_a_terminal_ca(env: VerifierEnv, tmp_path: Path) -> None:
    tls = TlsConfig(directory=tmp_path / "empty")
    server = VerifierServer(dataclasses.replace(env.config(), tls=tls))
    try:
        with pytest.raises(ConfigError, match="terminal CA certificate"):
            asyncio.run(server.start())
    finally:
        server.core.storage.close()
    assert not tls.path("terminal_ca_key").exists()
