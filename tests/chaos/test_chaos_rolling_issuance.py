# SPDX-License-Identifier: Apache-2.0
"""Certificate issuance under a rolling restart of two centre replicas (issue 16, item 5).

Why in process, beside ``myna-edge chaos rolling-restart`` (transfers, replica
processes): the centre serves issuance only inside the service hours
(06:30-23:00 JST, ``verifier.issuance_port``), read from a clock a process
replica cannot be given, so a campaign run at night would see every request
refused. Here both replicas are real ``VerifierServer``s (mTLS, one
PostgreSQL, ``[issuance]`` routing to the reference municipality over mTLS)
on their own loop threads with the hours clock at noon JST; a restart is
what SIGTERM does in ``verifier.cli``: ``stop(drain=...)`` (NOT_SERVING,
drain, in-flight calls finished), then a new server on the same port.

Three MFP terminals issue continuously through ``IssuanceService``
(open, prove with the virtual card, request, confirm printed) with the
agent's own ``IssuanceClient``: round robin over both replicas with
client-side health checking and gRPC retries of the idempotent methods.
Should the client still give up (UNAVAILABLE), the call is sent again with
the same idempotency key and counted (``calls_resent_after_unavailable``,
normally empty; seen once in five runs). Asserted from the ledgers, not the
answers: one request row, one document in the municipality's ledger and one
charge per issuance, nothing failed, every document PRINTED at the
municipality after the outbox ran. Figures print (-s).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final, TypeVar

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from host.client.channel import ClientConfig, replica_target
from host.client.issuance import IssuanceClient
from host.client.issuance_models import (
    DocumentKind,
    DocumentOptions,
    HouseholdScope,
    PrintSettlement,
)
from host.client.issuance_models import IssuanceState as ClientIssuanceState
from host.client.models import CardProof
from host.errors import ServiceUnavailableError
from myna_edge.chaos.pgcluster import free_port
from myna_edge.loop_thread import LoopThread
from tests.issuance_support import (
    MUNICIPALITY_CODE,
    Municipality,
    issuance_proof,
    service_clock,
    start_municipality,
)
from tests.postgres_support import postgres_cluster
from tests.verifier_support import VerifierEnv, make_env
from verifier.config import VerifierConfig
from verifier.issuance_codes import IssuanceState
from verifier.issuance_config import IssuanceConfig
from verifier.issuance_service import ISSUANCE_SERVICE_NAME
from verifier.server import VerifierServer, build_core
from verifier.storage import open_storage
from verifier.tls import issue_terminal_certificate

_T = TypeVar("_T")

TERMINALS: Final = ("mfp-0001", "mfp-0002", "mfp-0003")
COUNT: Final = 36  # issuances in all; the roll happens between the first and the last
FEE: Final = 200
_DRAIN: Final = 0.5
_PATIENCE: Final = 120.0
_RETRY_PAUSE: Final = 0.05
#: Issuances after a restarted replica serves again, before the next restart.
_AFTER: Final = 6


class _Replica:
    """One centre replica on a fixed port, restartable the way SIGTERM restarts it."""

    def __init__(
        self, name: str, config: VerifierConfig, credentials: grpc.ChannelCredentials
    ) -> None:
        self.name = name
        self.credentials = credentials
        self.config = config
        self.address = config.listen
        self.server: VerifierServer | None = None
        self._thread: LoopThread | None = None

    def start(self) -> None:
        self._thread = LoopThread()
        self.server = VerifierServer(self.config, build_core(self.config))
        self._thread.run(self.server.start(), timeout=30)

    def stop(self, drain: float = _DRAIN) -> None:
        """NOT_SERVING, keep serving ``drain`` s, finish calls in flight, close; harmless twice."""
        thread, server, self._thread, self.server = self._thread, self.server, None, None
        if thread is not None and server is not None:
            thread.run(server.stop(5.0, drain=drain), timeout=60)
            thread.close()

    def serving(self) -> bool:
        """Whether it answers SERVING for the issuance service over mTLS (as the clients ask)."""
        options = (("grpc.ssl_target_name_override", "localhost"),)
        with grpc.secure_channel(self.address, self.credentials, options) as channel:
            try:
                answer = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=ISSUANCE_SERVICE_NAME), timeout=5
                )
            except grpc.RpcError:
                return False
        return answer.status == health_pb2.HealthCheckResponse.SERVING

    def sweep(self) -> int:
        assert self._thread is not None
        assert self.server is not None
        assert self.server.issuance is not None
        return self._thread.run(self.server.issuance.sweep_once())


@dataclass
class _Figures:
    issuances: int = 0
    during_restarts: int = 0
    #: Calls the production client gave up on (UNAVAILABLE after its retries), then
    #: sent again by us with the same idempotency key (a figure, not an assertion).
    resent: list[str] = field(default_factory=list)
    restarts: list[dict[str, object]] = field(default_factory=list)


def _client(env: VerifierEnv, terminal: str, replicas: list[_Replica]) -> IssuanceClient:
    """The agent's own client: health-checked round robin over both replicas, gRPC retries."""
    issued = issue_terminal_certificate(env.tls, terminal)
    config = ClientConfig(
        replica_target([r.address for r in replicas]),
        terminal,
        ca_pem=issued.ca_pem,
        certificate_pem=issued.certificate_pem,
        key_pem=issued.key_pem,
        timeout=30.0,
        server_name_override="localhost",
    )
    return IssuanceClient(config)


async def _again(figures: _Figures, what: str, call: Callable[[], Awaitable[_T]]) -> _T:
    """``call`` (one idempotency key), sent again if the client gave up as unavailable."""
    deadline = time.monotonic() + _PATIENCE
    while True:
        try:
            return await call()
        except ServiceUnavailableError:
            if time.monotonic() > deadline:
                raise
            figures.resent.append(what)
            await asyncio.sleep(_RETRY_PAUSE)


async def _issue(client: IssuanceClient, number: int, figures: _Figures) -> PrintSettlement:
    """One whole issuance; raises AssertionError on any refusal."""
    key = f"{client.terminal_id}-{number}"
    opened = await _again(
        figures, "OpenIssuanceSession", lambda: client.open_session(f"open-{key}")
    )
    assert opened.refusal is None, opened.refusal
    certificate, signature = issuance_proof("default", opened.nonce)
    proof = CardProof(certificate, signature)
    check = await _again(
        figures,
        "ProveIssuanceCard",
        lambda: client.prove_card(opened.session_id, proof, f"prove-{key}"),
    )
    assert check.refusal is None, check
    issued = await _again(
        figures,
        "RequestDocument",
        lambda: client.request_document(
            opened.session_id,
            municipality_code=MUNICIPALITY_CODE,
            kind=DocumentKind.RESIDENT_RECORD,
            options=DocumentOptions(household_scope=HouseholdScope.SELF),
            fee_yen=FEE,
            idempotency_key=f"req-{key}",
        ),
    )
    assert issued.refusal is None, issued.refusal
    settled = await _again(
        figures,
        "ConfirmPrinted",
        lambda: client.confirm_printed(
            issued.request_id,
            document_sha256=issued.document_sha256,
            print_job_id=str(number),
            idempotency_key=f"confirm-{key}",
        ),
    )
    assert settled.state == ClientIssuanceState.CHARGED, settled
    assert settled.yen == FEE, settled
    return settled


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[VerifierEnv, Municipality, list[_Replica]]]:
    env = make_env(tmp_path / "env")
    hours = service_clock()
    municipality, route = start_municipality(tmp_path / "municipal", hours)
    try:
        with postgres_cluster() as cluster:
            database = cluster.new_database()
            open_storage(database).close()  # migrate once, before the replicas race to
            replicas = []
            for name in "AB":
                config = replace(
                    env.config(database),
                    listen=f"127.0.0.1:{free_port()}",
                    replicas=2,
                    issuance=IssuanceConfig(municipalities=(route,), hours_clock=hours),
                )
                replicas.append(_Replica(name, config, env.credentials("mfp-probe")))
            try:
                for replica in replicas:
                    replica.start()
                yield env, municipality, replicas
            finally:
                for replica in replicas:
                    replica.stop(0.0)
    finally:
        municipality.stop()
        municipality.thread.close()


def _wait(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + _PATIENCE
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.02)


def test_issuance_fails_and_doubles_nothing_across_a_rolling_restart(
    world: tuple[VerifierEnv, Municipality, list[_Replica]],
) -> None:
    env, municipality, replicas = world
    figures = _Figures()
    started = time.monotonic()
    errors: list[BaseException] = []
    rolled = threading.Event()

    async def terminal(client: IssuanceClient) -> None:
        number = 0
        async with client:
            while not (rolled.is_set() and figures.issuances >= COUNT):
                await _issue(client, number, figures)
                number += 1
                figures.issuances += 1  # one loop: no lock needed

    async def load() -> None:
        clients = [_client(env, t, replicas) for t in TERMINALS]
        await asyncio.gather(*(terminal(c) for c in clients))

    def run_load() -> None:
        try:
            asyncio.run(load())
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            rolled.set()

    loader = threading.Thread(target=run_load)
    loader.start()
    try:
        _wait(lambda: figures.issuances >= COUNT // 4 or bool(errors), "no load")
        for replica in replicas:
            at, began = figures.issuances, time.monotonic()
            replica.stop()
            stopped = time.monotonic()
            replica.start()
            figures.restarts.append(
                {
                    "replica": replica.name,
                    "drain_seconds": round(stopped - began, 2),
                    "down_seconds": round(time.monotonic() - stopped, 2),
                    "at_issuance": at,
                }
            )
            # Back in service (SERVING again), and the load went on a while before the next.
            _wait(
                lambda r=replica, a=at: (  # type: ignore[misc]
                    (r.serving() and figures.issuances >= a + _AFTER) or bool(errors)
                ),
                f"replica {replica.name} not serving after its restart",
            )
            figures.restarts[-1]["issuances_during"] = figures.issuances - at
    finally:
        rolled.set()
        loader.join(timeout=_PATIENCE)
    assert not errors, errors[0]
    figures.during_restarts = sum(int(str(r["issuances_during"])) for r in figures.restarts)
    replicas[0].sweep()  # the outbox tells the municipality what was printed
    with open_storage(replicas[0].config.database) as storage, storage.transaction() as tx:
        requests = tx.issuance.list_requests()
    report = {
        "issuances": figures.issuances,
        "issuances_during_restarts": figures.during_restarts,
        "terminals": len(TERMINALS),
        "failed": len(errors),
        "calls_resent_after_unavailable": figures.resent,
        "centre_requests": len(requests),
        "municipality_documents": municipality.count(),
        "charged_yen": sum(r.fee_yen for r in requests if r.state == IssuanceState.CHARGED),
        "restarts": figures.restarts,
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(report, indent=1))  # the figures are the report
    assert figures.issuances >= COUNT
    # One request row, one municipal document, one charge per issuance: nothing doubled.
    assert len(requests) == figures.issuances
    assert all(r.state == IssuanceState.CHARGED for r in requests)
    assert len({r.serial for r in requests}) == len(requests)
    assert municipality.count() == figures.issuances
    assert report["charged_yen"] == FEE * figures.issuances
    assert all(municipality.state(r.serial) == "PRINTED" for r in requests)
    assert [r["replica"] for r in figures.restarts] == ["A", "B"]
    assert figures.during_restarts > 0
