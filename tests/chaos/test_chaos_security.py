# SPDX-License-Identifier: Apache-2.0
"""Security defaults: mTLS by default, no acting for another terminal, a local-only terminal API.

What already exists and is not repeated here: plaintext and certificate-less
clients against a test server (tests/integration/test_verifier_cards.py),
a foreign-CA certificate through the host client
(test_flows_verifier_client.py), a terminal_id field that is not the
certificate's, another terminal's nonce at VerifyCard and another terminal's
authorisation at CommitTransfer (test_verifier_cards.py,
test_verifier_transfers.py), and ``check_listen`` (tests/unit/host/test_api_server.py).

Added here: the server built from a *minimal* ``verifier.toml`` (the
defaults, nothing said about TLS) refuses plaintext, certificate-less and
foreign-CA terminals at the TLS handshake and writes nothing; every RPC
that takes another terminal's session, authorisation or reservation is
refused (PERMISSION_DENIED for objects; the documented NONCE_OTHER_TERMINAL
verdict for sessions, which leaves the owner's session usable) and the
owner can still finish; and the terminal API is unreachable from a
non-loopback address and refuses to be configured on one at every layer.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from host.agent import load_agent_config
from host.api import AgentRuntime, Profile, TerminalServer
from host.card import KeyKind
from host.errors import AgentConfigError
from host.journal import Journal
from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from tests.flows_support import book_reset
from tests.integration.test_verifier_transfers import statement
from tests.verifier_support import ServerThread, VerifierEnv, make_env, prove
from verifier.config import TlsConfig, VerifierConfig, load_config
from verifier.tls import ensure_tls_material, issue_terminal_certificate

TABLES = ("sessions", "idempotency", "transfers", "identity_verifications", "reservations")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("security"))


@pytest.fixture(scope="module")
def server(env: VerifierEnv) -> Iterator[ServerThread]:
    # Only what a minimal verifier.toml says: no tls section, no insecure_dev.
    path = env.root / "verifier.toml"
    path.write_text(
        f'listen = "127.0.0.1:0"\ndatabase = "sqlite:///{env.root / "minimal.sqlite"}"\n'
        f'trust_dir = "{env.trust}"\n[tls]\ndirectory = "{env.tls.directory}"\n',
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.insecure_dev is False
    thread = ServerThread(config).start()
    yield thread
    thread.stop()


def _rows(server: ServerThread) -> dict[str, int]:
    with server.core.storage.transaction() as tx:
        return {table: tx.count(table) for table in TABLES}


def test_production_defaults_say_mtls() -> None:
    # (The host client's side: tests/unit/host/test_client_channel.py.)
    assert VerifierConfig().insecure_dev is False


@pytest.mark.parametrize("client", ["plaintext", "no-certificate", "foreign-ca"])
def test_default_server_refuses_unauthenticated_terminals(
    env: VerifierEnv, server: ServerThread, tmp_path: Path, client: str
) -> None:
    ca = env.tls.path("terminal_ca").read_bytes()
    credentials: grpc.ChannelCredentials | None = None
    if client == "no-certificate":
        credentials = grpc.ssl_channel_credentials(root_certificates=ca)
    elif client == "foreign-ca":
        # Same terminal name, certificate from another CA; it trusts the real server.
        other = TlsConfig(directory=tmp_path / "other-ca")
        ensure_tls_material(other)
        issued = issue_terminal_certificate(other, "atm-01")
        credentials = grpc.ssl_channel_credentials(ca, issued.key_pem, issued.certificate_pem)
    before = _rows(server)
    request = pb.OpenSessionRequest(purpose=pb.SESSION_PURPOSE_TRANSFER, idempotency_key="k")
    with server.stub(credentials) as stub, pytest.raises(grpc.RpcError) as caught:
        stub.OpenSession(request, timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert _rows(server) == before
    with server.stub(env.credentials("atm-01")) as stub:  # the control: a real terminal gets in
        assert stub.OpenSession(request, timeout=10).session_id


def _open(stub: pb_grpc.VerifierServiceStub, purpose: int, key: str) -> pb.OpenSessionResponse:
    request = pb.OpenSessionRequest(purpose=purpose, idempotency_key=key)  # type: ignore[arg-type]
    return stub.OpenSession(request, timeout=10)


def _refused(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        call()  # type: ignore[operator]
    return caught.value.code()


def test_another_terminals_transfer_session_and_authorisation(
    env: VerifierEnv, server: ServerThread
) -> None:
    with server.stub(env.credentials("atm-01")) as a, server.stub(env.credentials("atm-02")) as b:
        session = _open(a, pb.SESSION_PURPOSE_TRANSFER, "x-open")
        stolen = pb.AuthorizeTransferRequest(
            session_id=session.session_id,
            statement=statement(session.nonce, 5_000, terminal="atm-02"),
            idempotency_key="x-steal",
        )
        answer = b.AuthorizeTransfer(stolen, timeout=10)
        assert (answer.verdict, answer.reason) == (
            pb.VERDICT_REJECTED, pb.REASON_NONCE_OTHER_TERMINAL,
        )  # fmt: skip
        own = pb.AuthorizeTransferRequest(
            session_id=session.session_id,
            statement=statement(session.nonce, 5_000),
            idempotency_key="x-own",
        )
        authorised = a.AuthorizeTransfer(own, timeout=10)
        assert authorised.reason == pb.REASON_OK  # the thief did not burn the session
        aid = authorised.authorization_id
        before = _rows(server)
        for method, request in (
            (
                "ReverseTransfer",
                pb.ReverseTransferRequest(authorization_id=aid, idempotency_key="r"),
            ),
            ("CommitTransfer", pb.CommitTransferRequest(authorization_id=aid, idempotency_key="c")),
        ):
            code = _refused(lambda m=method, r=request: getattr(b, m)(r, timeout=10))
            assert code == grpc.StatusCode.PERMISSION_DENIED, method
        assert _rows(server)["transfers"] == before["transfers"]
        done = a.CommitTransfer(pb.CommitTransferRequest(authorization_id=aid, idempotency_key="c"))
        assert done.state == pb.TRANSFER_STATE_COMMITTED


def test_another_terminals_reset_session_and_reservation(
    env: VerifierEnv, server: ServerThread
) -> None:
    purpose = "SESSION_PURPOSE_PIN_RESET"
    with (
        server.stub(env.credentials("kiosk-01")) as a,
        server.stub(env.credentials("kiosk-02")) as b,
    ):
        session = _open(a, pb.SESSION_PURPOSE_PIN_RESET, "r-open")
        proof = prove("default", KeyKind.AUTH, purpose, "kiosk-02", session.nonce)
        reserve = pb.ReserveResetRequest(
            session_id=session.session_id, terminal_id="kiosk-02",
            operation=pb.RESET_OPERATION_SIGNING_PASSWORD, proof=proof,
            face_match=env.face_attestation(proof.certificate_der, session.nonce),
            idempotency_key="r-steal",
        )  # fmt: skip
        assert b.ReserveReset(reserve, timeout=10).reason == pb.REASON_NONCE_OTHER_TERMINAL
        redeem = pb.RedeemResetRequest(
            session_id=session.session_id, terminal_id="kiosk-02",
            operation=pb.RESET_OPERATION_SIGNING_PASSWORD, proof=proof,
            card_challenge=b"c" * 8, card_id=b"i" * 16, idempotency_key="d-steal",
        )  # fmt: skip
        assert b.RedeemReset(redeem, timeout=10).reason == pb.REASON_NONCE_OTHER_TERMINAL
        booked = book_reset(env, server, pb.RESET_OPERATION_SIGNING_PASSWORD)
        spoof = pb.ConfirmResetRequest(
            reservation_id=booked.reservation_id, terminal_id="kiosk-01", succeeded=True,
            idempotency_key="f-spoof",
        )  # fmt: skip
        code = _refused(lambda: b.ConfirmReset(spoof, timeout=10))
        assert code == grpc.StatusCode.PERMISSION_DENIED
        verify = _open(a, pb.SESSION_PURPOSE_CARD_VERIFICATION, "v-open")
        purpose = "SESSION_PURPOSE_CARD_VERIFICATION"
        mine = prove("default", KeyKind.AUTH, purpose, "kiosk-01", verify.nonce)
        own = pb.VerifyCardRequest(
            session_id=verify.session_id, terminal_id="kiosk-01", proof=mine, idempotency_key="v"
        )
        assert _refused(lambda: b.VerifyCard(own, timeout=10)) == grpc.StatusCode.PERMISSION_DENIED
        assert a.VerifyCard(own, timeout=10).reason == pb.REASON_OK


# --- the terminal API: local only -----------------------------------------------


def _non_loopback_ipv4() -> str | None:
    lines = subprocess.run(
        ["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    for line in lines:
        address = line.split()[3].split("/")[0]
        if not address.startswith("127."):
            return address
    return None


def test_terminal_api_config_refuses_public_listen(tmp_path: Path) -> None:
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_bytes(b"PEM")
    for listen in ("0.0.0.0:50061", "192.0.2.2:50061", "[::]:50061", "localhost:50061"):
        (tmp_path / "terminal.toml").write_text(
            f'profile = "atm"\nterminal_id = "atm-01"\nreader = "sim://"\nlisten = "{listen}"\n'
            'journal = "j.sqlite"\n[verifier]\ntarget = "127.0.0.1:1"\nca = "ca.pem"\n'
            'certificate = "cert.pem"\nkey = "key.pem"\n',
            encoding="utf-8",
        )
        with pytest.raises(AgentConfigError, match="listen"):
            load_agent_config(tmp_path / "terminal.toml")
    with Journal(tmp_path / "j.sqlite") as journal:
        runtime = AgentRuntime.for_reader(
            "sim://", profile=Profile.ATM, terminal_id="atm-01", verifier=None, journal=journal
        )
        with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
            TerminalServer(runtime, "0.0.0.0:0")


def test_terminal_api_is_unreachable_from_a_non_loopback_address(tmp_path: Path) -> None:
    address = _non_loopback_ipv4()
    if address is None:
        pytest.fail("this machine has no non-loopback IPv4 address to test from")

    async def scenario() -> None:
        with Journal(tmp_path / "j.sqlite") as journal:
            runtime = AgentRuntime.for_reader(
                "sim://", profile=Profile.ATM, terminal_id="atm-01", verifier=None,
                journal=journal,
            )  # fmt: skip
            async with TerminalServer(runtime, "127.0.0.1:0") as server:
                port = server.port
                loop = asyncio.get_running_loop()
                local = await loop.run_in_executor(None, _connect, "127.0.0.1", port)
                remote = await loop.run_in_executor(None, _connect, address, port)
                assert local == 0, "the control: the API answers on loopback"
                assert remote == errno.ECONNREFUSED, f"{address}:{port} answered {remote}"

    asyncio.run(scenario())


def _connect(host: str, port: int) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(3)
        return sock.connect_ex((host, port))
