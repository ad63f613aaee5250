# SPDX-License-Identifier: Apache-2.0
"""Several verifier replicas: config parsing, round robin, retries only where idempotent.

The replicas here are two small fake ``VerifierService`` servers (grpc.aio on
127.0.0.1) that record what reached them; the client is the real
``VerifierClient`` over the real channel, so the balancing and the retries
under test are gRPC's own, driven by our service config.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import grpc.aio
import pytest

from host.agent import load_agent_config
from host.client import ClientConfig, SessionPurpose, VerifierClient
from host.client.channel import replica_target, service_config
from host.errors import AgentConfigError, ServiceError
from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc

BASE = """
profile = "atm"
terminal_id = "atm-01"
reader = "sim://default"
listen = "127.0.0.1:0"

[verifier]
ca = "ca.pem"
certificate = "cert.pem"
key = "key.pem"
"""


def write(tmp_path: Path, verifier_lines: str) -> Path:
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_bytes(b"PEM")
    path = tmp_path / "terminal.toml"
    path.write_text(BASE + verifier_lines, encoding="utf-8")
    return path


def test_targets_become_one_round_robin_target(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'targets = ["127.0.0.1:5001", "127.0.0.1:5002"]\nserver_name = "localhost"\n',
    )
    config = load_agent_config(path).verifier
    assert config.target == "ipv4:127.0.0.1:5001,127.0.0.1:5002"
    assert config.server_name_override == "localhost"
    assert json.loads(service_config(config))["loadBalancingConfig"] == [{"round_robin": {}}]


def test_one_target_as_before_and_a_single_entry_list(tmp_path: Path) -> None:
    old = load_agent_config(write(tmp_path, 'target = "verifier.example:50051"\n'))
    assert old.verifier.target == "verifier.example:50051"  # old configs stay valid
    one = load_agent_config(write(tmp_path, 'targets = ["verifier.example:50051"]\n'))
    assert one.verifier.target == "verifier.example:50051"  # a DNS name may list replicas


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ('target = "a:1"\ntargets = ["127.0.0.1:1"]\n', "give only one"),
        ("targets = []\n", "non-empty list"),
        ('targets = "127.0.0.1:1"\n', "targets must be list"),
        ('targets = ["127.0.0.1:1", 2]\n', "non-empty list of str"),
        ('targets = ["a.example:1", "b.example:1"]\nserver_name = "x"\n', "IP addresses"),
        ('targets = ["127.0.0.1:1", "127.0.0.1"]\nserver_name = "x"\n', "IP:PORT"),
        ('targets = ["127.0.0.1:1", "127.0.0.1:70000"]\nserver_name = "x"\n', "IP:PORT"),
        ('targets = ["127.0.0.1:1", "[::1]:2"]\nserver_name = "x"\n', "IPv4 or all be IPv6"),
        ('targets = ["127.0.0.1:1", "127.0.0.1:2"]\n', "server_name"),
        ("", "verifier.target is required"),
    ],
)
def test_bad_targets_are_refused_with_the_key(tmp_path: Path, lines: str, message: str) -> None:
    with pytest.raises(AgentConfigError, match=message):
        load_agent_config(write(tmp_path, lines))


def test_ipv6_replicas_and_plaintext_dev_without_a_name() -> None:
    assert replica_target(["[::1]:1", "[::1]:2"]) == "ipv6:[::1]:1,[::1]:2"
    config = ClientConfig(replica_target(["127.0.0.1:1", "127.0.0.1:2"]), "t", insecure_dev=True)
    assert config.server_name_override is None
    with pytest.raises(ValueError, match="at least one"):
        replica_target([])


def test_the_deploy_example_with_replicas_parses(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[3] / "deploy" / "terminal.toml"
    text = example.read_text(encoding="utf-8").replace("/etc/myna-edge/", f"{tmp_path}/")
    text = text.replace('target = "verifier.bank.example:50051"\n', "")
    text = text.replace("# targets = ", "targets = ").replace("# server_name = ", "server_name = ")
    for name in ("verifier-ca.pem", "terminal.pem", "terminal.key"):
        (tmp_path / name).write_bytes(b"PEM")
    (tmp_path / "board.key").write_text("00" * 32)
    path = tmp_path / "terminal.toml"
    path.write_text(text, encoding="utf-8")
    config = load_agent_config(path).verifier
    assert config.target == "ipv4:10.0.0.11:50051,10.0.0.12:50051"
    assert config.server_name_override == "verifier.bank.example"


# -- the channel against two live replicas ------------------------------------------


class Replica(pb_grpc.VerifierServiceServicer):
    """A fake replica: records (method, key, previous attempts); fails as told.

    ``fail`` (key -> code) is shared by the replicas: the first attempt with
    that key fails, on whichever replica it lands.
    """

    def __init__(
        self, name: str, log: list[tuple[str, str, str, str]], fail: dict[str, grpc.StatusCode]
    ) -> None:
        self.name, self.log, self.fail = name, log, fail

    async def _answer(self, method: str, key: str, context: grpc.aio.ServicerContext) -> None:  # type: ignore[type-arg]
        previous = dict(context.invocation_metadata() or ()).get("grpc-previous-rpc-attempts", "0")
        self.log.append((self.name, method, key, str(previous)))
        code = self.fail.pop(key, None)
        if code is not None:
            await context.abort(code, "injected")

    async def OpenSession(
        self,
        request: pb.OpenSessionRequest,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> pb.OpenSessionResponse:
        await self._answer("OpenSession", request.idempotency_key, context)
        return pb.OpenSessionResponse(session_id=f"ses-{self.name}", nonce=b"n" * 32)

    async def ReserveReset(
        self,
        request: pb.ReserveResetRequest,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> pb.ReserveResetResponse:
        await self._answer("ReserveReset", request.idempotency_key, context)
        return pb.ReserveResetResponse()


@asynccontextmanager
async def replicas(
    credentials: grpc.ServerCredentials | None = None,
) -> AsyncIterator[tuple[list[Replica], list[str], list[tuple[str, str, str, str]]]]:
    log: list[tuple[str, str, str, str]] = []
    fail: dict[str, grpc.StatusCode] = {}
    servers, fakes, addresses = [], [], []
    try:
        for name in "AB":
            server = grpc.aio.server()
            fake = Replica(name, log, fail)
            pb_grpc.add_VerifierServiceServicer_to_server(fake, server)
            if credentials is None:
                port = server.add_insecure_port("127.0.0.1:0")
            else:
                port = server.add_secure_port("127.0.0.1:0", credentials)
            await server.start()
            servers.append(server)
            fakes.append(fake)
            addresses.append(f"127.0.0.1:{port}")
        yield fakes, addresses, log
    finally:
        for server in servers:
            await server.stop(None)


def dev_client(addresses: list[str]) -> VerifierClient:
    config = ClientConfig(
        replica_target(addresses), "atm-01", insecure_dev=True, max_attempts=3, initial_backoff=0.01
    )
    return VerifierClient(config)


def test_calls_alternate_between_the_replicas() -> None:
    async def scenario() -> list[tuple[str, str, str, str]]:
        async with replicas() as (_, addresses, log), dev_client(addresses) as client:
            for i in range(100):  # bounded warm-up: until both connections are up
                await client.open_session(SessionPurpose.TRANSFER, f"w{i}", timeout=5)
                if {name for name, *_ in log[-2:]} == {"A", "B"}:
                    break
            log.clear()
            for i in range(10):
                await client.open_session(SessionPurpose.TRANSFER, f"k{i}", timeout=5)
            return log

    log = asyncio.run(scenario())
    served = [name for name, *_ in log]
    assert sorted(served) == ["A"] * 5 + ["B"] * 5
    assert all(a != b for a, b in itertools.pairwise(served))  # strictly alternating


def test_unavailable_is_retried_on_the_other_replica_with_the_same_key() -> None:
    async def scenario() -> tuple[str, list[tuple[str, str, str, str]]]:
        async with replicas() as (fakes, addresses, log), dev_client(addresses) as client:
            await client.open_session(SessionPurpose.TRANSFER, "warm", timeout=5)
            fakes[0].fail["op-1.session"] = grpc.StatusCode.UNAVAILABLE  # the first attempt
            session = await client.open_session(SessionPurpose.TRANSFER, "op-1.session", timeout=5)
            return session.session_id, log

    session_id, log = asyncio.run(scenario())
    attempts = [entry for entry in log if entry[2] == "op-1.session"]
    assert [(m, k, p) for _, m, k, p in attempts] == [
        ("OpenSession", "op-1.session", "0"),
        ("OpenSession", "op-1.session", "1"),  # gRPC's retry: the same message, the same key
    ]
    assert attempts[0][0] != attempts[1][0]  # retried through the balancer, on the other one
    assert session_id == f"ses-{attempts[1][0]}"


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN]
)
def test_other_codes_are_never_retried(code: grpc.StatusCode) -> None:
    async def scenario() -> list[tuple[str, str, str, str]]:
        async with replicas() as (fakes, addresses, log), dev_client(addresses) as client:
            fakes[0].fail["k"] = code
            with pytest.raises(ServiceError):
                await client.open_session(SessionPurpose.TRANSFER, "k", timeout=5)
            return log

    assert len(asyncio.run(scenario())) == 1


def test_a_method_not_listed_as_idempotent_is_not_retried() -> None:
    async def scenario() -> tuple[grpc.StatusCode, int]:
        async with replicas() as (fakes, addresses, log):
            config = ClientConfig(replica_target(addresses), "atm-01", insecure_dev=True)
            from host.client.channel import open_channel

            async with open_channel(config) as channel:
                stub = pb_grpc.VerifierServiceStub(channel)
                fakes[0].fail["r"] = grpc.StatusCode.UNAVAILABLE
                try:
                    await stub.ReserveReset(pb.ReserveResetRequest(idempotency_key="r"), timeout=5)
                except grpc.aio.AioRpcError as exc:
                    return exc.code(), len(log)
        raise AssertionError("the injected UNAVAILABLE was not seen")

    assert asyncio.run(scenario()) == (grpc.StatusCode.UNAVAILABLE, 1)


def test_mtls_with_one_server_name_over_several_addresses(tmp_path: Path) -> None:
    from verifier.config import TlsConfig
    from verifier.tls import ensure_tls_material, issue_terminal_certificate

    tls = TlsConfig(directory=tmp_path / "tls")
    ensure_tls_material(tls)
    server_credentials = grpc.ssl_server_credentials(
        [(tls.path("server_key").read_bytes(), tls.path("server_cert").read_bytes())],
        root_certificates=tls.path("terminal_ca").read_bytes(),
        require_client_auth=True,
    )
    issued = issue_terminal_certificate(tls, "atm-01")

    def config(addresses: list[str], name: str) -> ClientConfig:
        return ClientConfig(
            replica_target(addresses), "atm-01", ca_pem=issued.ca_pem,
            certificate_pem=issued.certificate_pem, key_pem=issued.key_pem,
            server_name_override=name, timeout=3, max_attempts=1,
        )  # fmt: skip

    async def scenario() -> tuple[set[str], bool]:
        async with replicas(server_credentials) as (_, addresses, log):
            async with VerifierClient(config(addresses, "localhost")) as client:
                for i in range(4):
                    await client.open_session(SessionPurpose.TRANSFER, f"k{i}")
            async with VerifierClient(config(addresses, "not-the-name.example")) as client:
                try:
                    await client.open_session(SessionPurpose.TRANSFER, "x")
                except ServiceError:
                    refused = True
                else:
                    refused = False
            return {name for name, *_ in log}, refused

    served, refused = asyncio.run(scenario())
    assert served == {"A", "B"}  # both replicas, each checked against the one TLS name
    assert refused  # a wrong name is still refused
