# SPDX-License-Identifier: Apache-2.0
"""Late completion (issue 20): spin's counterexample, replayed on the real verifier.

With ``-DNO_TTL_ASSUMPTION`` spin found, with no fault at all: the cash
moves, the TTL passes, the expiry sweep reverses the transfer, the commit
arrives and is refused. Cash out, transfer reversed. Now the sweep moves
the authorisation to EXPIRED (hold released) and the holding terminal's
commit is recorded late: ``late`` in the answer, a ``LATE_COMMIT_TRANSFER``
audit row, ``myna_verifier_late_commits_total`` up; a repeat answers the
same and a reversal afterwards is refused (never both).

Real ``VerifierServer`` over mTLS, on SQLite and on a throwaway PostgreSQL
cluster; the agent's side is the real ``VerifierClient`` with the real
journal and ``recover_transfers`` (the restart that learns the cash moved).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from prometheus_client import REGISTRY

from host.client import SessionPurpose, TransferState, VerifierClient
from host.flows import recover_transfers
from host.journal import Effect, Journal, Phase, TransferRecovery
from myna.edge.v1 import verifier_pb2 as pb
from myna_metrics import MetricsConfig
from tests.flows_support import audit_actions, client_config, transfer_request, transfer_rows
from tests.integration.test_verifier_transfers import authorize, commit, reverse
from tests.postgres_support import postgres_cluster
from tests.verifier_support import ServerThread, VerifierEnv, make_env

LATE = "myna_verifier_late_commits_total"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("verifier-late-commit"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def new_database(request: pytest.FixtureRequest) -> Iterator[Callable[[], str | None]]:
    """A fresh database per server (idempotency keys repeat across tests)."""
    if request.param == "sqlite":
        yield lambda: None  # the env's default: a fresh SQLite file per config
        return
    with postgres_cluster() as cluster:
        yield cluster.new_database


@pytest.fixture
def server(env: VerifierEnv, new_database: Callable[[], str | None]) -> Iterator[ServerThread]:
    config = env.config(new_database())
    thread = ServerThread(dataclasses.replace(config, metrics=MetricsConfig("127.0.0.1:0"))).start()
    yield thread
    thread.stop()


def _late_commits() -> float:
    return REGISTRY.get_sample_value(LATE) or 0.0


def _error_reason(error: grpc.RpcError) -> str:
    call: grpc.Call = error  # type: ignore[assignment]
    info = dict(call.trailing_metadata() or ())["myna-error-bin"]
    return pb.ErrorInfo.FromString(info).reason


def _expire(server: ServerThread, authorization_id: str) -> None:
    """The TTL passes unsettled and the sweep runs: EXPIRED, never REVERSED."""
    server.clock.advance(server.config.policy.authorization_ttl_seconds + 1)
    assert server.server.sweep_once(3600.0) == 1
    assert transfer_rows(server)[authorization_id] == pb.TRANSFER_STATE_EXPIRED


def test_commit_after_the_sweep_is_a_late_commit_exactly_once(
    env: VerifierEnv, server: ServerThread
) -> None:
    with server.stub(env.credentials("atm-01")) as stub:
        aid = authorize(stub, 10_000, proof=False).authorization_id
        # ...the ATM dispenses; the agent restarts; the verifier is down...
        _expire(server, aid)
        before = _late_commits()
        first = commit(stub, aid, "c1")
        assert (first.state, first.late) == (pb.TRANSFER_STATE_COMMITTED, True)
        assert _late_commits() - before == 1
        assert transfer_rows(server)[aid] == pb.TRANSFER_STATE_COMMITTED
        assert audit_actions(server, aid) == [
            "AUTHORIZE_TRANSFER",
            "EXPIRE_TRANSFER",
            "LATE_COMMIT_TRANSFER",
        ]
        assert commit(stub, aid, "c1") == first  # the same key: the stored answer
        assert commit(stub, aid, "c2") == first  # another key: the first result again
        for key in ("r1", "c1-then-r"):
            with pytest.raises(grpc.RpcError) as refused:
                reverse(stub, aid, key)
            assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert _error_reason(refused.value) == "TRANSFER_COMMITTED"
    assert transfer_rows(server)[aid] == pb.TRANSFER_STATE_COMMITTED
    assert server.server.sweep_once(3600.0) == 0
    assert audit_actions(server, aid)[-1] == "LATE_COMMIT_TRANSFER"  # nothing after it
    # Counted per answer (as myna_verifier_transfers_total): the two repeats too.
    assert _late_commits() - before == 3


def test_an_expired_authorisation_reversed_is_never_committed(
    env: VerifierEnv, server: ServerThread
) -> None:
    with server.stub(env.credentials("atm-01")) as stub:
        aid = authorize(stub, 10_000, proof=False).authorization_id
        _expire(server, aid)
        before = _late_commits()
        reversed_ = reverse(stub, aid, "r1")
        assert reversed_.state == pb.TRANSFER_STATE_REVERSED
        assert reverse(stub, aid, "r2") == reversed_
        with pytest.raises(grpc.RpcError) as refused:
            commit(stub, aid, "c1")
        assert _error_reason(refused.value) == "TRANSFER_REVERSED"
    assert audit_actions(server, aid) == [
        "AUTHORIZE_TRANSFER",
        "EXPIRE_TRANSFER",
        "REVERSE_TRANSFER",
    ]
    assert _late_commits() == before


def test_an_expired_authorisation_is_still_another_terminals(
    env: VerifierEnv, server: ServerThread
) -> None:
    with server.stub(env.credentials("atm-01")) as stub:
        aid = authorize(stub, 10_000, proof=False).authorization_id
    _expire(server, aid)
    with server.stub(env.credentials("atm-02")) as other, pytest.raises(grpc.RpcError) as denied:
        commit(other, aid, "c1")
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert transfer_rows(server)[aid] == pb.TRANSFER_STATE_EXPIRED


def test_agent_recovery_commits_late_when_the_cash_moved(
    env: VerifierEnv, server: ServerThread, tmp_path: Path
) -> None:
    """The counterexample's own schedule through the agent: authorised, cash moved, restart."""
    asked: list[str] = []

    async def cash_moved(plan: TransferRecovery) -> bool:
        asked.append(plan.authorization_id)
        return True  # the ATM application's durable record: dispensed

    async def scenario() -> tuple[str, TransferState, dict[str, object]]:
        async with VerifierClient(client_config(env, server)) as client:
            session = await client.open_session(SessionPurpose.TRANSFER, "op-1.session")
            statement = transfer_request(20_000).bind(nonce=session.nonce, terminal_id="atm-01")
            with Journal(tmp_path / "journal.db") as journal:
                key = "op-1.authorize"
                journal.record(
                    "op-1", "transfer", Effect.TRANSFER_AUTHORIZE, Phase.INTENT, idempotency_key=key
                )
                auth = await client.authorize_transfer(session.session_id, statement, None, key)
                assert auth.accepted
                journal.record(
                    "op-1",
                    "transfer",
                    Effect.TRANSFER_AUTHORIZE,
                    Phase.OUTCOME,
                    idempotency_key=key,
                    data={"accepted": True, "authorization_id": auth.authorization_id},
                )
                # The agent dies before it journals the decision; the TTL passes.
                _expire(server, auth.authorization_id)
                (result,) = await recover_transfers(journal, client, cash_moved)
                assert journal.unresolved_transfers() == []
                (outcome,) = [
                    e.data
                    for e in journal.entries("op-1")
                    if e.effect is Effect.TRANSFER_COMMIT and e.phase is Phase.OUTCOME
                ]
        return auth.authorization_id, result.state, dict(outcome)

    aid, state, outcome = asyncio.run(scenario())
    assert asked == [aid]
    assert state is TransferState.COMMITTED
    assert outcome == {"authorization_id": aid, "state": "COMMITTED", "error": "", "late": True}
    assert transfer_rows(server)[aid] == pb.TRANSFER_STATE_COMMITTED
    assert audit_actions(server, aid)[-1] == "LATE_COMMIT_TRANSFER"
