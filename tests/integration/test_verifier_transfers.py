# SPDX-License-Identifier: Apache-2.0
"""AuthorizeTransfer / CommitTransfer / ReverseTransfer end to end.

The ¥100,000 rule at its boundary (100,000 and 100,001 yen, with and without
proof), the basic four items from the signing certificate the virtual card
holds, exactly-once commit and reversal, expiry, and races between commits
and reversals from several threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc
import pytest

from host.card import KeyKind
from hw_sim.card import get_profile
from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from tests.verifier_support import ServerThread, VerifierEnv, card_certificate, card_sign, make_env
from verifier.canonical import TransferFields, statement_digest


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("verifier-transfers"))


@pytest.fixture
def server(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


@pytest.fixture
def stub(env: VerifierEnv, server: ServerThread) -> Iterator[pb_grpc.VerifierServiceStub]:
    with server.stub(env.credentials("atm-01")) as s:
        yield s


def statement(nonce: bytes, amount: int, terminal: str = "atm-01") -> pb.TransferStatement:
    return pb.TransferStatement(
        nonce=nonce,
        terminal_id=terminal,
        amount_yen=amount,
        payee_bank_code="0001",
        payee_branch_code="123",
        payee_account_type=pb.ACCOUNT_TYPE_ORDINARY,
        payee_account_number="1234567",
        payee_name="ヤマダ　ハナコ",
        remitter_name="ヤマダ　タロウ",
        remitter_phone="03-1234-5678",
    )


def sign_statement(s: pb.TransferStatement, profile: str = "default") -> pb.CardProof:
    digest = statement_digest(
        TransferFields(
            s.nonce, s.terminal_id, s.amount_yen, s.payee_bank_code, s.payee_branch_code,
            s.payee_account_type, s.payee_account_number, s.payee_name, s.remitter_name,
            s.remitter_phone,
        )
    )  # fmt: skip
    return pb.CardProof(
        certificate_der=card_certificate(profile, KeyKind.SIGN),
        signature=card_sign(profile, KeyKind.SIGN, digest),
    )


def authorize(
    stub: pb_grpc.VerifierServiceStub, amount: int, *, proof: bool, key: str = "a1"
) -> pb.AuthorizeTransferResponse:
    session = stub.OpenSession(
        pb.OpenSessionRequest(purpose=pb.SESSION_PURPOSE_TRANSFER, idempotency_key=f"o-{key}"),
        timeout=10,
    )
    s = statement(session.nonce, amount)
    request = pb.AuthorizeTransferRequest(
        session_id=session.session_id, statement=s, idempotency_key=key
    )
    if proof:
        request.identity_proof.CopyFrom(sign_statement(s))
    return stub.AuthorizeTransfer(request, timeout=10)


def test_at_the_threshold_no_proof_is_needed(stub: pb_grpc.VerifierServiceStub) -> None:
    response = authorize(stub, 100_000, proof=False)
    assert response.verdict == pb.VERDICT_ACCEPTED
    assert response.authorization_id.startswith("aut_")
    assert not response.identity_verified


def test_over_the_threshold_a_proof_is_required(
    stub: pb_grpc.VerifierServiceStub, server: ServerThread
) -> None:
    response = authorize(stub, 100_001, proof=False)
    assert response.verdict == pb.VERDICT_REJECTED
    assert response.reason == pb.REASON_IDENTITY_PROOF_REQUIRED
    with server.core.storage.transaction() as tx:
        assert tx.count("transfers") == 0


def test_over_the_threshold_with_proof_records_the_basic_four(
    stub: pb_grpc.VerifierServiceStub, server: ServerThread
) -> None:
    response = authorize(stub, 100_001, proof=True)
    assert response.verdict == pb.VERDICT_ACCEPTED, pb.Reason.Name(response.reason)
    assert response.identity_verified
    person = get_profile("default").person
    assert response.identity.name == person.name
    assert response.identity.address == person.address
    assert response.identity.revocation_source == pb.REVOCATION_SOURCE_CRL
    with server.core.storage.transaction() as tx:
        assert tx.count("identity_verifications") == 1


def test_threshold_is_configuration(env: VerifierEnv) -> None:
    thread = ServerThread(env.config(transfer_threshold_yen=50_000)).start()
    try:
        with thread.stub(env.credentials("atm-01")) as stub:
            assert authorize(stub, 50_001, proof=False).reason == pb.REASON_IDENTITY_PROOF_REQUIRED
            assert authorize(stub, 50_000, proof=False, key="b").reason == pb.REASON_OK
    finally:
        thread.stop()


def test_proof_over_another_statement_is_rejected(stub: pb_grpc.VerifierServiceStub) -> None:
    session = stub.OpenSession(
        pb.OpenSessionRequest(purpose=pb.SESSION_PURPOSE_TRANSFER, idempotency_key="o"), timeout=10
    )
    signed = statement(session.nonce, 300_000)
    sent = statement(session.nonce, 3_000_000)
    request = pb.AuthorizeTransferRequest(
        session_id=session.session_id, statement=sent, idempotency_key="x"
    )
    request.identity_proof.CopyFrom(sign_statement(signed))
    response = stub.AuthorizeTransfer(request, timeout=10)
    assert response.reason == pb.REASON_SIGNATURE_INVALID


def test_statement_for_another_terminal_is_denied(stub: pb_grpc.VerifierServiceStub) -> None:
    session = stub.OpenSession(
        pb.OpenSessionRequest(purpose=pb.SESSION_PURPOSE_TRANSFER, idempotency_key="o"), timeout=10
    )
    request = pb.AuthorizeTransferRequest(
        session_id=session.session_id,
        statement=statement(session.nonce, 5_000, terminal="atm-99"),
        idempotency_key="x",
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.AuthorizeTransfer(request, timeout=10)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def commit(stub: pb_grpc.VerifierServiceStub, aid: str, key: str) -> pb.CommitTransferResponse:
    return stub.CommitTransfer(
        pb.CommitTransferRequest(authorization_id=aid, idempotency_key=key), timeout=10
    )


def reverse(stub: pb_grpc.VerifierServiceStub, aid: str, key: str) -> pb.ReverseTransferResponse:
    return stub.ReverseTransfer(
        pb.ReverseTransferRequest(authorization_id=aid, idempotency_key=key), timeout=10
    )


def test_commit_is_exactly_once(stub: pb_grpc.VerifierServiceStub) -> None:
    aid = authorize(stub, 10_000, proof=False).authorization_id
    first = commit(stub, aid, "c1")
    assert first.state == pb.TRANSFER_STATE_COMMITTED
    assert not first.late  # within the TTL
    assert commit(stub, aid, "c1") == first  # retry, same key
    assert commit(stub, aid, "c2") == first  # another key: a no-op with the same result
    with pytest.raises(grpc.RpcError) as caught:
        reverse(stub, aid, "r1")
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_commit_after_reversal_is_refused(stub: pb_grpc.VerifierServiceStub) -> None:
    aid = authorize(stub, 10_000, proof=False).authorization_id
    first = reverse(stub, aid, "r1")
    assert first.state == pb.TRANSFER_STATE_REVERSED
    assert reverse(stub, aid, "r2") == first
    with pytest.raises(grpc.RpcError) as caught:
        commit(stub, aid, "c1")
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as again:
        commit(stub, aid, "c1")  # the refusal itself is replayed for the same key
    assert again.value.details() == caught.value.details()


def test_uncommitted_authorisation_expires_and_may_still_be_reversed(
    stub: pb_grpc.VerifierServiceStub, server: ServerThread
) -> None:
    # Late completion (issue 20): the sweep releases the hold (EXPIRED), never
    # reverses; the terminal settles it. The late commit: test_verifier_late_commit.py.
    aid = authorize(stub, 10_000, proof=False).authorization_id
    server.clock.advance(server.config.policy.authorization_ttl_seconds + 1)
    assert server.server.sweep_once(3600.0) == 1
    with server.core.storage.transaction() as tx:
        transfer = tx.get_transfer(aid)
    assert transfer is not None
    assert transfer.state == pb.TRANSFER_STATE_EXPIRED
    assert reverse(stub, aid, "r").state == pb.TRANSFER_STATE_REVERSED
    with pytest.raises(grpc.RpcError) as caught:
        commit(stub, aid, "late")
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_commit_of_an_expired_authorisation_before_the_sweep_is_late(
    stub: pb_grpc.VerifierServiceStub, server: ServerThread
) -> None:
    aid = authorize(stub, 10_000, proof=False).authorization_id
    server.clock.advance(server.config.policy.authorization_ttl_seconds + 1)
    late = commit(stub, aid, "late")
    assert (late.state, late.late) == (pb.TRANSFER_STATE_COMMITTED, True)
    with pytest.raises(grpc.RpcError) as caught:
        reverse(stub, aid, "r")
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert server.server.sweep_once(3600.0) == 0  # settled: nothing left to expire


def test_unknown_and_foreign_authorisations(
    env: VerifierEnv, server: ServerThread, stub: pb_grpc.VerifierServiceStub
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        commit(stub, "aut_" + "A" * 22, "c")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    aid = authorize(stub, 10_000, proof=False).authorization_id
    with server.stub(env.credentials("atm-02")) as other, pytest.raises(grpc.RpcError) as denied:
        commit(other, aid, "c")
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_commit_and_reverse_race_has_one_winner(
    stub: pb_grpc.VerifierServiceStub, server: ServerThread
) -> None:
    aids = [authorize(stub, 1_000 + i, proof=False, key=f"a{i}").authorization_id for i in range(4)]
    lock = threading.Lock()
    for index, aid in enumerate(aids):
        outcomes: list[str] = []

        def attempt(
            kind: str, n: int, aid: str = aid, outcomes: list[str] = outcomes, index: int = index
        ) -> None:
            try:
                if kind == "commit":
                    state = commit(stub, aid, f"c{index}-{n}").state
                else:
                    state = reverse(stub, aid, f"r{index}-{n}").state
                result = pb.TransferState.Name(state)
            except grpc.RpcError as exc:
                result = exc.code().name
            with lock:
                outcomes.append(f"{kind}:{result}")

        threads = [
            threading.Thread(target=attempt, args=(kind, n))
            for n in range(3)
            for kind in ("commit", "reverse")
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        committed = [o for o in outcomes if o == "commit:TRANSFER_STATE_COMMITTED"]
        reversed_ = [o for o in outcomes if o == "reverse:TRANSFER_STATE_REVERSED"]
        assert len(outcomes) == 6
        # Exactly one side won, every call of that side saw the same result, the other was refused.
        assert (len(committed), len(reversed_)) in ((3, 0), (0, 3)), outcomes
        assert (
            outcomes.count("commit:FAILED_PRECONDITION")
            + outcomes.count("reverse:FAILED_PRECONDITION")
            == 3
        )
    with server.core.storage.transaction() as tx:
        actions = [e.action for e in tx.audit_entries() if e.action.endswith("_TRANSFER")]
    assert actions.count("COMMIT_TRANSFER") + actions.count("REVERSE_TRANSFER") == len(aids)
