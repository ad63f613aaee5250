# SPDX-License-Identifier: Apache-2.0
# The strategy tables below read best one mutation per line.
# ruff: noqa: E501
"""Hypothesis-generated invalid requests against the live server.

Every example is a well-formed protobuf message with at least one invalid
field (wrong size, format or enum value, or a missing field). Each must be
answered INVALID_ARGUMENT (never INTERNAL or UNKNOWN), must change no table,
must not echo the bad value, and the server must stay healthy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from tests.verifier_support import ServerThread, VerifierEnv, make_env

TABLES = ("sessions", "idempotency", "transfers", "identity_verifications", "reservations", "audit")
SES = "ses_" + "A" * 22
AUT = "aut_" + "B" * 22
RES = "res_" + "C" * 22

bad_keys = st.one_of(
    st.just(""),
    st.text(min_size=129, max_size=140, alphabet="ab"),
    st.just("sp ace"),
    st.just("鍵"),
)
bad_ids = st.one_of(
    st.just(""), st.text(max_size=40), st.just("ses_short"), st.just("aut_" + "!" * 20)
)
bad_terminals = st.one_of(
    st.just(""), st.text(min_size=65, max_size=70, alphabet="a"), st.just("a/b")
)
bad_enums = st.sampled_from([0, 7, 99, -1, 2**31 - 1])
bad_blobs = st.one_of(st.just(b""), st.binary(min_size=8193, max_size=8200))
bad_signatures = st.binary(max_size=300).filter(lambda b: len(b) != 256)


def _proof() -> pb.CardProof:
    return pb.CardProof(certificate_der=b"\x30" * 100, signature=b"\x01" * 256)


def _statement(**changes: Any) -> pb.TransferStatement:
    fields: dict[str, Any] = {
        "nonce": b"n" * 32,
        "terminal_id": "atm-01",
        "amount_yen": 1000,
        "payee_bank_code": "0001",
        "payee_branch_code": "001",
        "payee_account_type": pb.ACCOUNT_TYPE_ORDINARY,
        "payee_account_number": "0000001",
        "payee_name": "ヤマダ",
        "remitter_name": "タナカ",
        "remitter_phone": "0312345678",
    }
    fields.update(changes)
    return pb.TransferStatement(**fields)


def _call(name: str, request: Any) -> Callable[[pb_grpc.VerifierServiceStub], Any]:
    return lambda stub: getattr(stub, name)(request, timeout=10)


statement_mutations = st.one_of(
    st.builds(lambda n: {"nonce": n}, st.binary(max_size=40).filter(lambda b: len(b) != 32)),
    st.builds(lambda a: {"amount_yen": a}, st.one_of(st.integers(min_value=-(2**63), max_value=0), st.integers(min_value=10**12, max_value=2**63 - 1))),
    st.builds(lambda c: {"payee_bank_code": c}, st.text(max_size=6).filter(lambda t: not (len(t) == 4 and t.isascii() and t.isdigit()))),
    st.builds(lambda c: {"payee_account_number": c}, st.sampled_from(["", "123456", "12345678", "１２３４５６７"])),
    st.builds(lambda e: {"payee_account_type": e}, st.sampled_from([0, 3, 5, 99])),
    st.builds(lambda t: {"payee_name": t}, st.one_of(st.just(""), st.text(min_size=49, max_size=60, alphabet="ア"), st.just("ア\x00"))),
    st.builds(lambda t: {"remitter_phone": t}, st.sampled_from(["", "abc", "0" * 14, "03 1234 5678"])),
    st.builds(lambda t: {"terminal_id": t}, bad_terminals),
)  # fmt: skip

invalid_calls = st.one_of(
    st.builds(lambda p: _call("OpenSession", pb.OpenSessionRequest(purpose=p, idempotency_key="k")), bad_enums),
    st.builds(lambda k: _call("OpenSession", pb.OpenSessionRequest(purpose=1, idempotency_key=k)), bad_keys),
    st.builds(lambda s: _call("VerifyCard", pb.VerifyCardRequest(session_id=s, terminal_id="atm-01", proof=_proof(), idempotency_key="k")), bad_ids),
    st.builds(lambda t: _call("VerifyCard", pb.VerifyCardRequest(session_id=SES, terminal_id=t, proof=_proof(), idempotency_key="k")), bad_terminals),
    st.builds(lambda c: _call("VerifyCard", pb.VerifyCardRequest(session_id=SES, terminal_id="atm-01", proof=pb.CardProof(certificate_der=c, signature=b"\x01" * 256), idempotency_key="k")), bad_blobs),
    st.builds(lambda g: _call("VerifyCard", pb.VerifyCardRequest(session_id=SES, terminal_id="atm-01", proof=pb.CardProof(certificate_der=b"\x30", signature=g), idempotency_key="k")), bad_signatures),
    st.just(_call("VerifyCard", pb.VerifyCardRequest(session_id=SES, terminal_id="atm-01", idempotency_key="k"))),
    st.builds(lambda m: _call("AuthorizeTransfer", pb.AuthorizeTransferRequest(session_id=SES, statement=_statement(**m), idempotency_key="k")), statement_mutations),
    st.just(_call("AuthorizeTransfer", pb.AuthorizeTransferRequest(session_id=SES, idempotency_key="k"))),
    st.builds(lambda g: _call("AuthorizeTransfer", pb.AuthorizeTransferRequest(session_id=SES, statement=_statement(), identity_proof=pb.CardProof(certificate_der=b"\x30", signature=g), idempotency_key="k")), bad_signatures),
    st.builds(lambda a: _call("CommitTransfer", pb.CommitTransferRequest(authorization_id=a, idempotency_key="k")), bad_ids),
    st.builds(lambda k: _call("CommitTransfer", pb.CommitTransferRequest(authorization_id=AUT, idempotency_key=k)), bad_keys),
    st.builds(lambda a: _call("ReverseTransfer", pb.ReverseTransferRequest(authorization_id=a, idempotency_key="k")), bad_ids),
    st.builds(lambda k: _call("CheckRevocation", pb.CheckRevocationRequest(kind=k, serial_hex="1A")), bad_enums),
    st.builds(lambda s: _call("CheckRevocation", pb.CheckRevocationRequest(kind=1, serial_hex=s)), st.one_of(st.just(""), st.just("xyz"), st.text(min_size=41, max_size=45, alphabet="f"))),
    st.builds(lambda o: _call("ReserveReset", pb.ReserveResetRequest(session_id=SES, terminal_id="atm-01", operation=o, proof=_proof(), face_match=pb.FaceMatchAttestation(signature=b"\x01" * 256), idempotency_key="k")), bad_enums),
    st.builds(lambda g: _call("ReserveReset", pb.ReserveResetRequest(session_id=SES, terminal_id="atm-01", operation=1, proof=_proof(), face_match=pb.FaceMatchAttestation(signature=g), idempotency_key="k")), bad_signatures),
    st.builds(lambda otp: _call("RedeemReset", pb.RedeemResetRequest(session_id=SES, terminal_id="atm-01", operation=1, proof=_proof(), one_time_password=otp, card_challenge=b"c" * 8, card_id=b"i" * 16, idempotency_key="k")), st.sampled_from(["1234567", "123456789", "12ab5678", "１２３４５６７８"])),
    st.builds(lambda ch: _call("RedeemReset", pb.RedeemResetRequest(session_id=SES, terminal_id="atm-01", operation=1, proof=_proof(), card_challenge=ch, card_id=b"i" * 16, idempotency_key="k")), st.binary(max_size=12).filter(lambda b: len(b) != 8)),
    st.builds(lambda r: _call("ConfirmReset", pb.ConfirmResetRequest(reservation_id=r, terminal_id="atm-01", succeeded=True, idempotency_key="k")), bad_ids),
)  # fmt: skip


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, Any]]:
    env: VerifierEnv = make_env(tmp_path_factory.mktemp("verifier-fuzz"))
    server = ServerThread(env.config()).start()
    with server.channel(env.credentials("atm-01")) as channel:
        yield server, channel
    server.stop()


def _counts(server: ServerThread) -> dict[str, int]:
    with server.core.storage.transaction() as tx:
        return {table: tx.count(table) for table in TABLES}


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(call=invalid_calls)
def test_invalid_requests_are_refused_cleanly(
    live: tuple[ServerThread, Any], call: Callable[[pb_grpc.VerifierServiceStub], Any]
) -> None:
    server, channel = live
    before = _counts(server)
    with pytest.raises(grpc.RpcError) as caught:
        call(pb_grpc.VerifierServiceStub(channel))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    assert _counts(server) == before


def test_bad_otp_is_not_echoed(live: tuple[ServerThread, Any]) -> None:
    _, channel = live
    request = pb.RedeemResetRequest(
        session_id=SES,
        terminal_id="atm-01",
        operation=1,
        proof=_proof(),
        one_time_password="98a65432",
        card_challenge=b"c" * 8,
        card_id=b"i" * 16,
        idempotency_key="k",
    )
    with pytest.raises(grpc.RpcError) as caught:
        pb_grpc.VerifierServiceStub(channel).RedeemReset(request, timeout=10)
    assert "98a65432" not in (caught.value.details() or "")
    assert "98a65432" not in repr(caught.value.trailing_metadata())


def test_server_is_healthy_after_the_fuzzing(live: tuple[ServerThread, Any]) -> None:
    _, channel = live
    answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
