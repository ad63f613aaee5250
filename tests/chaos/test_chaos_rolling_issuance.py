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
(open, prove with the virtual card, request, confirm printed), each call
alternating replicas and retried with its idempotency key on the other
replica when refused (UNAVAILABLE), as an agent's channel would. Asserted
from the ledgers, not the answers: one request row, one document in the
municipality's ledger and one charge per issuance, nothing failed, every
document PRINTED at the municipality after the outbox ran. Figures print (-s).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import grpc
import pytest
from google.protobuf.message import Message

from myna.edge.v1 import issuance_pb2 as ipb
from myna.edge.v1 import issuance_pb2_grpc as ipb_grpc
from myna.edge.v1 import municipal_pb2 as mpb
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
from verifier.server import VerifierServer, build_core
from verifier.storage import open_storage

TERMINALS: Final = ("mfp-0001", "mfp-0002", "mfp-0003")
COUNT: Final = 36  # issuances in all; the roll happens between the first and the last
FEE: Final = 200
_DRAIN: Final = 0.5
_PATIENCE: Final = 120.0
_RETRY_PAUSE: Final = 0.05


class _Replica:
    """One centre replica on a fixed port, restartable the way SIGTERM restarts it."""

    def __init__(self, name: str, config: VerifierConfig) -> None:
        self.name = name
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

    def sweep(self) -> int:
        assert self._thread is not None and self.server is not None
        assert self.server.issuance is not None
        return self._thread.run(self.server.issuance.sweep_once())


@dataclass
class _Figures:
    issuances: int = 0
    during_restarts: int = 0
    retried_calls: int = 0
    refusals: list[str] = field(default_factory=list)
    calls_per_replica: dict[str, int] = field(default_factory=dict)
    restarts: list[dict[str, object]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Mfp:
    """One terminal's IssuanceService stubs, one per replica, used alternately."""

    def __init__(self, env: VerifierEnv, terminal: str, replicas: list[_Replica]) -> None:
        options = (("grpc.ssl_target_name_override", "localhost"),)
        credentials = env.credentials(terminal)
        self.terminal = terminal
        self.names = [r.name for r in replicas]
        self.channels = [grpc.secure_channel(r.address, credentials, options) for r in replicas]
        self.stubs = [ipb_grpc.IssuanceServiceStub(c) for c in self.channels]
        self._next = 0

    def call(self, figures: _Figures, method: str, request: Message) -> Any:
        """``method`` on the next replica; on UNAVAILABLE the same request on the other."""
        deadline = time.monotonic() + _PATIENCE
        retried = False
        while True:
            index = self._next
            self._next = (self._next + 1) % len(self.stubs)
            try:
                answer = getattr(self.stubs[index], method)(request, timeout=30)
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:  # type: ignore[attr-defined]
                    raise
                retried = True
                time.sleep(_RETRY_PAUSE)
                continue
            with figures.lock:
                name = self.names[index]
                figures.calls_per_replica[name] = figures.calls_per_replica.get(name, 0) + 1
                figures.retried_calls += retried
            return answer

    def close(self) -> None:
        for channel in self.channels:
            channel.close()


def _issue(mfp: _Mfp, number: int, figures: _Figures) -> ipb.ConfirmPrintedResponse:
    """One whole issuance; raises AssertionError on any refusal."""
    key = f"{mfp.terminal}-{number}"
    opened = mfp.call(
        figures,
        "OpenIssuanceSession",
        ipb.OpenIssuanceSessionRequest(idempotency_key=f"open-{key}", terminal_id=mfp.terminal),
    )
    assert opened.refusal == ipb.ISSUANCE_REFUSAL_UNSPECIFIED, opened.refusal
    certificate, signature = issuance_proof("default", opened.nonce)
    proved = mfp.call(
        figures,
        "ProveIssuanceCard",
        ipb.ProveIssuanceCardRequest(
            idempotency_key=f"prove-{key}",
            session_id=opened.session_id,
            authentication_certificate=certificate,
            signature=signature,
        ),
    )
    assert proved.refusal == ipb.ISSUANCE_REFUSAL_UNSPECIFIED, proved.refusal
    issued = mfp.call(
        figures,
        "RequestDocument",
        ipb.RequestDocumentRequest(
            idempotency_key=f"req-{key}",
            session_id=opened.session_id,
            municipality_code=MUNICIPALITY_CODE,
            kind=mpb.DOCUMENT_KIND_RESIDENT_RECORD,
            options=mpb.DocumentOptions(copies=1, household_scope=mpb.HOUSEHOLD_SCOPE_SELF),
            fee_yen=FEE,
        ),
    )
    assert issued.refusal == ipb.ISSUANCE_REFUSAL_UNSPECIFIED, issued.refusal
    assert issued.state == ipb.ISSUANCE_STATE_ISSUED
    confirmed = mfp.call(
        figures,
        "ConfirmPrinted",
        ipb.ConfirmPrintedRequest(
            idempotency_key=f"confirm-{key}",
            request_id=issued.request_id,
            document_sha256=issued.document_sha256,
            print_job_id=str(number),
        ),
    )
    assert confirmed.state == ipb.ISSUANCE_STATE_CHARGED, confirmed.state
    assert confirmed.charged_yen == FEE
    return confirmed  # type: ignore[no-any-return]


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
                replicas.append(_Replica(name, config))
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
    mfps = [_Mfp(env, t, replicas) for t in TERMINALS]
    errors: list[BaseException] = []
    charged: list[ipb.ConfirmPrintedResponse] = []
    rolled = threading.Event()

    def terminal(mfp: _Mfp) -> None:
        number = 0
        try:
            while not (rolled.is_set() and figures.issuances >= COUNT):
                charged.append(_issue(mfp, number, figures))
                number += 1
                with figures.lock:
                    figures.issuances += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    workers = [threading.Thread(target=terminal, args=(m,)) for m in mfps]
    for worker in workers:
        worker.start()
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
            _wait(lambda a=at: figures.issuances >= a + 6 or bool(errors), "no load after")  # type: ignore[misc]
            figures.restarts[-1]["issuances_during"] = figures.issuances - at
    finally:
        rolled.set()
        for worker in workers:
            worker.join(timeout=_PATIENCE)
        for mfp in mfps:
            mfp.close()
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
        "calls_per_replica": figures.calls_per_replica,
        "calls_retried_on_the_other_replica": figures.retried_calls,
        "centre_requests": len(requests),
        "municipality_documents": municipality.count(),
        "charged_yen": sum(r.fee_yen for r in requests if r.state == IssuanceState.CHARGED),
        "restarts": figures.restarts,
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(report, indent=1))  # the figures are the report
    assert figures.issuances >= COUNT
    assert len(charged) == figures.issuances
    # One request row, one municipal document, one charge per issuance: nothing doubled.
    assert len(requests) == figures.issuances
    assert all(r.state == IssuanceState.CHARGED for r in requests)
    assert len({r.serial for r in requests}) == len(requests)
    assert municipality.count() == figures.issuances
    assert report["charged_yen"] == FEE * figures.issuances
    assert all(municipality.state(r.serial) == "PRINTED" for r in requests)
    assert [r["replica"] for r in figures.restarts] == ["A", "B"]
    assert figures.during_restarts > 0
    assert min(figures.calls_per_replica.values()) > 0
