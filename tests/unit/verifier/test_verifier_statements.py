# SPDX-License-Identifier: Apache-2.0
"""SQL statements per VerifyCard, counted, and the one-statement nonce use on both databases.

Why count (issue 18): each statement is SQL work on the one SQLite writer, so
the figure is a cost that could grow unseen. A real server's writer
connection is traced (``sqlite3``'s trace callback gives each statement with
its values) and the VerifyCard call's group-commit unit is picked out by its
method name: the SAVEPOINT, the key's claim, the session taken (``UPDATE ...
RETURNING``, once a look-up and an update), the audit row, the stored
answer, the RELEASE. The batch's BEGIN and COMMIT are shared with the other
calls in it and not counted. PostgreSQL runs the same ``Transaction`` SQL
(without the savepoints); the ``take_session`` contract is checked on both.
"""

from __future__ import annotations

import dataclasses
import itertools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
from psycopg import pq

from host.card import KeyKind
from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from tests.postgres_support import PostgresCluster
from tests.verifier_support import (
    ServerThread,
    VerifierEnv,
    card_certificate,
    card_sign,
    make_env,
    prove,
)
from verifier.canonical import TransferFields, statement_digest
from verifier.codes import Purpose
from verifier.storage import Session, Storage
from verifier.storage.postgres import PostgresStorage
from verifier.storage.sqlite import SqliteStorage

M = TypeVar("M", pb.VerifyCardRequest, pb.AuthorizeTransferRequest)

TERMINAL = "atm-07"
#: Statements in one VerifyCard unit on SQLite (7 before the session was taken in one).
VERIFY_CARD_STATEMENTS = 6


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("verifier-statements"))


@pytest.fixture
def server(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


def _units(trace: list[str], method: str) -> list[list[str]]:
    """The traced units (SAVEPOINT to RELEASE, both counted) that claim a key for ``method``."""
    units, current = [], None
    for statement in trace:
        if statement.startswith("SAVEPOINT"):
            current = [statement]
        elif current is not None:
            current.append(statement)
            if statement.startswith("RELEASE"):
                units.append(current)
                current = None
    return [u for u in units if any(f"'{method}'" in s for s in u)]


@contextmanager
def _writer_trace(server: ServerThread) -> Iterator[list[str]]:
    """The statements the SQLite writer's connection runs (every unit runs on it)."""
    storage = server.core.storage
    assert isinstance(storage, SqliteStorage)
    db = storage._db
    assert isinstance(db, sqlite3.Connection)
    trace: list[str] = []
    db.set_trace_callback(trace.append)
    try:
        yield trace
    finally:
        db.set_trace_callback(None)


def _with_key(request: M, idempotency_key: str) -> M:
    """The same request under another key (a replay of its nonce)."""
    again = type(request)()
    again.CopyFrom(request)
    again.idempotency_key = idempotency_key
    return again


def _session(
    stub: pb_grpc.VerifierServiceStub, purpose: pb.SessionPurpose.ValueType, key: str
) -> pb.OpenSessionResponse:
    request = pb.OpenSessionRequest(purpose=purpose, idempotency_key=key)
    return stub.OpenSession(request, timeout=10)


def _verify_request(
    stub: pb_grpc.VerifierServiceStub, idempotency_key: str
) -> pb.VerifyCardRequest:
    """A ready VerifyCard request from the default card: a session opened, its nonce signed."""
    purpose = pb.SESSION_PURPOSE_CARD_VERIFICATION
    session = _session(stub, purpose, idempotency_key + "-o")
    name = pb.SessionPurpose.Name(purpose)
    return pb.VerifyCardRequest(
        session_id=session.session_id,
        terminal_id=TERMINAL,
        proof=prove("default", KeyKind.AUTH, name, TERMINAL, session.nonce),
        idempotency_key=idempotency_key,
    )


def test_a_verify_card_call_runs_a_counted_number_of_statements(
    env: VerifierEnv, server: ServerThread
) -> None:
    with server.stub(env.credentials(TERMINAL)) as stub:
        request = _verify_request(stub, "count-v")
        with _writer_trace(server) as trace:
            answer = stub.VerifyCard(request, timeout=10)
            replay = stub.VerifyCard(_with_key(request, "count-v2"), timeout=10)
    assert (answer.reason, replay.reason) == (pb.REASON_OK, pb.REASON_NONCE_REPLAYED)
    first, second = _units(trace, "VerifyCard")
    assert len(first) == VERIFY_CARD_STATEMENTS, first
    assert sum(s.startswith("UPDATE sessions") for s in first) == 1
    assert not any(s.startswith("SELECT") for s in first)
    # A replay is the rare path: the take finds nothing, one look-up says why.
    assert len(second) == VERIFY_CARD_STATEMENTS + 1, second


def test_a_session_is_taken_once_and_only_when_usable(storage: Storage) -> None:
    sid = "ses_" + "t" * 22
    card = Purpose.CARD_VERIFICATION
    with storage.transaction() as tx:
        tx.insert_session(Session(sid, "atm-01", card, b"n" * 32, expires_us=1000))
    with storage.transaction() as tx:
        # Not usable: nothing taken, nothing changed.
        assert tx.take_session(sid, terminal_id="atm-02", purpose=card, now_us=10) is None
        assert (
            tx.take_session(sid, terminal_id="atm-01", purpose=Purpose.TRANSFER, now_us=10) is None
        )
        assert tx.take_session(sid, terminal_id="atm-01", purpose=card, now_us=1000) is None
        assert (
            tx.take_session("ses_" + "u" * 22, terminal_id="atm-01", purpose=card, now_us=10)
            is None
        )
        before = tx.get_session(sid)
        assert before is not None
        assert before.used_us is None
        # Usable: taken once, answered as it was before.
        taken = tx.take_session(sid, terminal_id="atm-01", purpose=card, now_us=10)
        assert taken == before
        assert tx.take_session(sid, terminal_id="atm-01", purpose=card, now_us=10) is None
        after = tx.get_session(sid)
    assert after is not None
    assert after.used_us == 10


#: Statements in one AuthorizeTransfer unit over the threshold on SQLite (9 before
#: the session was taken in one statement).
AUTHORIZE_STATEMENTS = 8


def _transfer_request(
    stub: pb_grpc.VerifierServiceStub, idempotency_key: str
) -> pb.AuthorizeTransferRequest:
    """A ready AuthorizeTransfer over the threshold: the default card signed the statement."""
    session = _session(stub, pb.SESSION_PURPOSE_TRANSFER, idempotency_key + "-o")
    fields = TransferFields(
        session.nonce, TERMINAL, 300_000, "0001", "001", 1, "1234567",
        "ヤマダ　ハナコ", "ヤマダ　タロウ", "0312345678",
    )  # fmt: skip
    proof = pb.CardProof(
        certificate_der=card_certificate("default", KeyKind.SIGN),
        signature=card_sign("default", KeyKind.SIGN, statement_digest(fields)),
    )
    return pb.AuthorizeTransferRequest(
        session_id=session.session_id,
        statement=pb.TransferStatement(**dataclasses.asdict(fields)),
        identity_proof=proof,
        idempotency_key=idempotency_key,
    )


def test_an_authorize_transfer_call_runs_a_counted_number_of_statements(
    env: VerifierEnv, server: ServerThread
) -> None:
    with server.stub(env.credentials(TERMINAL)) as stub:
        request = _transfer_request(stub, "count-t")
        with _writer_trace(server) as trace:
            answer = stub.AuthorizeTransfer(request, timeout=10)
            replay = stub.AuthorizeTransfer(_with_key(request, "count-t2"), timeout=10)
    assert answer.reason == pb.REASON_OK, answer
    assert replay.reason == pb.REASON_NONCE_REPLAYED, replay
    first, second = _units(trace, "AuthorizeTransfer")
    assert len(first) == AUTHORIZE_STATEMENTS, first
    assert sum(s.startswith("UPDATE sessions") for s in first) == 1
    assert not any(s.startswith("SELECT") for s in first)
    # The replay: the take finds nothing, one look-up says why, nothing is inserted
    # but the audit row and the stored answer.
    assert len(second) == 7, second


def _round_trips(trace_file: Path) -> int:
    """Times the client waited: each run of frontend messages that the server then answered."""
    directions = [line.split("\t", 1)[0] for line in trace_file.read_text().splitlines()]
    return sum(1 for sent, got in itertools.pairwise(directions) if (sent, got) == ("F", "B"))


def test_a_verify_card_unit_takes_six_round_trips_on_postgresql(
    env: VerifierEnv, cluster: PostgresCluster, tmp_path: Path
) -> None:
    """BEGIN, the claim, the take, the audit row, the answer, COMMIT: one round trip each.

    Counted from libpq's own protocol trace. Pipelining them (libpq pipeline
    mode) took this to 3 but cost 10-20 % more verifier CPU per call on one
    host (docs/internals/benchmarks.md, "The floor of this design"), so it
    was not kept; the count pins what a change would move.
    """
    thread = ServerThread(env.config(database=cluster.new_database())).start()
    try:
        storage = thread.core.storage
        assert isinstance(storage, PostgresStorage)
        with thread.stub(env.credentials(TERMINAL)) as stub:
            request = _verify_request(stub, "pg-v")
            traced = tmp_path / "libpq.trace"
            with traced.open("w") as sink:
                connections = list(storage._all)  # pooled: every one a unit could take
                for conn in connections:
                    conn.pgconn.trace(sink.fileno())
                    conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
                try:
                    answer = stub.VerifyCard(request, timeout=10)
                finally:
                    for conn in connections:
                        conn.pgconn.untrace()
    finally:
        thread.stop()
    assert answer.reason == pb.REASON_OK, answer
    assert connections, "no pooled connection to trace"
    assert _round_trips(traced) == 6, traced.read_text()
