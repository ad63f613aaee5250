# SPDX-License-Identifier: Apache-2.0
"""The centre (IssuanceService) over real gRPC and mTLS, with the reference municipality.

Why end to end: the exactly-once rules live across two services and two
databases; each test drives the terminal's side with the virtual card's
real proof, and checks the municipality's own ledger, never the request's
word. ``tests.issuance_support`` composes the two servers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hw_sim.card import get_profile
from municipal.document import TrustStore, read_document, verify_input
from myna.edge.v1 import issuance_pb2 as ipb
from myna.edge.v1 import issuance_pb2_grpc as ipb_grpc
from myna.edge.v1 import municipal_pb2 as mpb
from myna.edge.v1 import verifier_pb2 as vpb
from tests.issuance_support import (
    MUNICIPALITY_CODE,
    IssuanceStack,
    issuance_proof,
    issuance_stack,
    set_jst,
)
from tests.postgres_support import postgres_cluster
from tests.verifier_support import VerifierEnv, make_env
from verifier.issuance_service import ISSUANCE_SERVICE_NAME

TERMINAL = "mfp-0001"
FEE = 200


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("issuance-env"))


@pytest.fixture
def stack(env: VerifierEnv, tmp_path: Path) -> Iterator[IssuanceStack]:
    with issuance_stack(env, tmp_path) as running:
        yield running


def _proven(
    stub: ipb_grpc.IssuanceServiceStub, profile: str = "default", terminal: str = TERMINAL
) -> str:
    opened = stub.OpenIssuanceSession(
        ipb.OpenIssuanceSessionRequest(idempotency_key=f"open-{profile}", terminal_id=terminal),
        timeout=10,
    )
    assert opened.refusal == ipb.ISSUANCE_REFUSAL_UNSPECIFIED
    certificate, signature = issuance_proof(profile, opened.nonce)
    proved = stub.ProveIssuanceCard(
        ipb.ProveIssuanceCardRequest(
            idempotency_key=f"prove-{profile}",
            session_id=opened.session_id,
            authentication_certificate=certificate,
            signature=signature,
        ),
        timeout=10,
    )
    assert proved.refusal == ipb.ISSUANCE_REFUSAL_UNSPECIFIED, proved
    return opened.session_id


def _request(session_id: str, key: str = "req-1", **changes: object) -> ipb.RequestDocumentRequest:
    fields: dict[str, object] = {
        "idempotency_key": key,
        "session_id": session_id,
        "municipality_code": MUNICIPALITY_CODE,
        "kind": mpb.DOCUMENT_KIND_RESIDENT_RECORD,
        "options": mpb.DocumentOptions(copies=1, household_scope=mpb.HOUSEHOLD_SCOPE_SELF),
        "fee_yen": FEE,
    }
    fields.update(changes)
    return ipb.RequestDocumentRequest(**fields)  # type: ignore[arg-type]


def _issued(
    stub: ipb_grpc.IssuanceServiceStub, session_id: str, key: str = "req-1"
) -> ipb.RequestDocumentResponse:
    response = stub.RequestDocument(_request(session_id, key), timeout=30)
    assert response.refusal == ipb.ISSUANCE_REFUSAL_UNSPECIFIED, response.refusal
    assert response.state == ipb.ISSUANCE_STATE_ISSUED
    return response


def test_happy_path_lists_issues_charges_and_the_municipality_converges(
    stack: IssuanceStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with stack.stub(TERMINAL) as stub:
        session_id = _proven(stub)
        listed = stub.ListDocuments(ipb.ListDocumentsRequest(session_id=session_id), timeout=10)
        assert listed.refusal == ipb.ISSUANCE_REFUSAL_UNSPECIFIED
        assert [m.municipality_code for m in listed.municipalities] == [MUNICIPALITY_CODE]
        fees = {o.kind: o.fee_yen_per_copy for o in listed.municipalities[0].offers}
        assert fees[mpb.DOCUMENT_KIND_RESIDENT_RECORD] == FEE
        issued = _issued(stub, session_id)
        assert issued.document_pdf.startswith(b"%PDF")
        assert hashlib.sha256(issued.document_pdf).digest() == issued.document_sha256
        assert issued.fee_yen == FEE
        assert stack.municipality.state(issued.serial) == "ISSUED"
        confirmed = stub.ConfirmPrinted(
            ipb.ConfirmPrintedRequest(
                idempotency_key="c-1",
                request_id=issued.request_id,
                document_sha256=issued.document_sha256,
                print_job_id="42",
            ),
            timeout=10,
        )
    assert confirmed.state == ipb.ISSUANCE_STATE_CHARGED
    assert confirmed.charged_yen == FEE
    stack.sweep()
    assert stack.municipality.state(issued.serial) == "PRINTED"
    with stack.verifier.core.storage.transaction() as tx:
        (row,) = tx.issuance.list_requests()
        actions = [e.action for e in tx.audit_trail() if e.subject_id == issued.request_id]
    assert (row.terminal_id, row.serial, row.fee_yen, row.state) == (
        TERMINAL,
        issued.serial,
        FEE,
        "CHARGED",
    )
    assert row.session_id == session_id
    assert row.document_sha256 == issued.document_sha256
    assert actions[:2] == ["REQUEST_DOCUMENT", "CONFIRM_PRINTED"]
    assert "MUNICIPAL_DELIVERED" in actions
    # The operator's record: serial, kind, fee; never the holder or the document.
    person = get_profile("default").person
    with stack.verifier.core.storage.reading() as tx:
        text = caplog.text + repr(tx.audit_trail())
    assert issued.serial in caplog.text
    assert person.name not in text
    assert person.address not in text
    assert "%PDF" not in text


def test_a_retry_gets_the_same_document_byte_for_byte_and_another_body_is_refused(
    stack: IssuanceStack,
) -> None:
    with stack.stub(TERMINAL) as stub:
        session_id = _proven(stub)
        first = _issued(stub, session_id)
        again = _issued(stub, session_id)
        assert again.document_pdf == first.document_pdf
        assert (again.request_id, again.serial) == (first.request_id, first.serial)
        with pytest.raises(grpc.RpcError) as caught:
            stub.RequestDocument(_request(session_id, fee_yen=FEE * 2), timeout=10)
        assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert stack.municipality.count() == 1


@pytest.mark.parametrize("confirm_first", [True, False])
def test_confirm_and_failure_are_decided_once(stack: IssuanceStack, confirm_first: bool) -> None:
    with stack.stub(TERMINAL) as stub:
        issued = _issued(stub, _proven(stub))
        confirm = ipb.ConfirmPrintedRequest(
            idempotency_key="c-1",
            request_id=issued.request_id,
            document_sha256=issued.document_sha256,
        )
        failure = ipb.ReportPrintFailureRequest(
            idempotency_key="f-1", request_id=issued.request_id, failure=mpb.PRINT_FAILURE_JAM
        )
        if confirm_first:
            assert stub.ConfirmPrinted(confirm, timeout=10).state == ipb.ISSUANCE_STATE_CHARGED
            late = stub.ReportPrintFailure(failure, timeout=10)
            assert (late.state, late.refunded_yen) == (ipb.ISSUANCE_STATE_CHARGED, 0)
        else:
            refunded = stub.ReportPrintFailure(failure, timeout=10)
            assert (refunded.state, refunded.refunded_yen) == (ipb.ISSUANCE_STATE_REFUNDED, FEE)
            late_confirm = stub.ConfirmPrinted(confirm, timeout=10)
            assert (late_confirm.state, late_confirm.charged_yen) == (
                ipb.ISSUANCE_STATE_REFUNDED,
                0,
            )
    stack.sweep()
    assert stack.municipality.state(issued.serial) == ("PRINTED" if confirm_first else "VOID")


def test_a_wrong_digest_is_refused_and_charges_nothing(stack: IssuanceStack) -> None:
    with stack.stub(TERMINAL) as stub:
        issued = _issued(stub, _proven(stub))
        with pytest.raises(grpc.RpcError) as caught:
            stub.ConfirmPrinted(
                ipb.ConfirmPrintedRequest(
                    idempotency_key="c-bad", request_id=issued.request_id, document_sha256=bytes(32)
                ),
                timeout=10,
            )
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        refunded = stub.ReportPrintFailure(
            ipb.ReportPrintFailureRequest(
                idempotency_key="f-1",
                request_id=issued.request_id,
                failure=mpb.PRINT_FAILURE_CANCELLED,
            ),
            timeout=10,
        )
    assert refunded.state == ipb.ISSUANCE_STATE_REFUNDED
    stack.sweep()
    assert stack.municipality.state(issued.serial) == "VOID"


def test_another_terminal_with_valid_credentials_cannot_use_the_session_or_the_request(
    stack: IssuanceStack,
) -> None:
    with stack.stub(TERMINAL) as stub:
        session_id = _proven(stub)
        issued = _issued(stub, session_id)
    with stack.stub("mfp-attacker") as attacker:
        listed = attacker.ListDocuments(ipb.ListDocumentsRequest(session_id=session_id), timeout=10)
        assert listed.refusal == ipb.ISSUANCE_REFUSAL_SESSION_INVALID
        assert not listed.municipalities
        stolen = attacker.RequestDocument(_request(session_id, "req-1"), timeout=10)
        assert stolen.refusal == ipb.ISSUANCE_REFUSAL_SESSION_INVALID
        assert not stolen.document_pdf
        with pytest.raises(grpc.RpcError) as caught:
            attacker.ConfirmPrinted(
                ipb.ConfirmPrintedRequest(
                    idempotency_key="c-1",
                    request_id=issued.request_id,
                    document_sha256=issued.document_sha256,
                ),
                timeout=10,
            )
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert stack.municipality.count() == 1


def test_municipality_down_issues_and_charges_nothing(env: VerifierEnv, tmp_path: Path) -> None:
    with issuance_stack(env, tmp_path, call_timeout_seconds=5.0) as stack:
        _down_then_up(stack)


def _down_then_up(stack: IssuanceStack) -> None:
    with stack.stub(TERMINAL) as stub:
        session_id = _proven(stub)
        stack.municipality.stop()
        down = stub.RequestDocument(_request(session_id), timeout=30)
        assert down.refusal == ipb.ISSUANCE_REFUSAL_MUNICIPALITY_UNAVAILABLE
        assert not down.request_id
        assert not down.document_pdf
        listed = stub.ListDocuments(ipb.ListDocumentsRequest(session_id=session_id), timeout=30)
        assert listed.refusal == ipb.ISSUANCE_REFUSAL_MUNICIPALITY_UNAVAILABLE
        stack.municipality.start()
        # The same key answers the same refusal; a new key issues.
        assert stub.RequestDocument(_request(session_id), timeout=30).refusal == down.refusal
        issued = _issued(stub, session_id, "req-2")
    stack.sweep()  # the unanswered request is voided at the municipality, if it ever issued
    with stack.verifier.core.storage.transaction() as tx:
        states = sorted(r.state for r in tx.issuance.list_requests())
        outbox = tx.issuance.list_outbox()
    assert states == ["FAILED", "ISSUED"]
    assert all(entry.done_us is not None for entry in outbox)
    assert stack.municipality.state(issued.serial) == "ISSUED"


def test_outside_service_hours_is_refused(stack: IssuanceStack) -> None:
    with stack.stub(TERMINAL) as stub:
        session_id = _proven(stub)
        set_jst(stack.hours, 23, 30)
        late = stub.RequestDocument(_request(session_id), timeout=10)
        assert late.refusal == ipb.ISSUANCE_REFUSAL_OUTSIDE_SERVICE_HOURS
        opened = stub.OpenIssuanceSession(
            ipb.OpenIssuanceSessionRequest(idempotency_key="open-late", terminal_id=TERMINAL),
            timeout=10,
        )
        assert opened.refusal == ipb.ISSUANCE_REFUSAL_OUTSIDE_SERVICE_HOURS
        assert not opened.nonce
    assert stack.municipality.count() == 0


def test_a_revoked_card_is_rejected_and_its_session_serves_nothing(stack: IssuanceStack) -> None:
    with stack.stub(TERMINAL) as stub:
        opened = stub.OpenIssuanceSession(
            ipb.OpenIssuanceSessionRequest(idempotency_key="open-r", terminal_id=TERMINAL),
            timeout=10,
        )
        certificate, signature = issuance_proof("revoked", opened.nonce)
        proved = stub.ProveIssuanceCard(
            ipb.ProveIssuanceCardRequest(
                idempotency_key="prove-r",
                session_id=opened.session_id,
                authentication_certificate=certificate,
                signature=signature,
            ),
            timeout=10,
        )
        assert proved.refusal == ipb.ISSUANCE_REFUSAL_CARD_REJECTED
        assert proved.card_reason == vpb.REASON_CERTIFICATE_REVOKED
        refused = stub.RequestDocument(_request(opened.session_id), timeout=10)
        assert refused.refusal == ipb.ISSUANCE_REFUSAL_SESSION_INVALID
    assert stack.municipality.count() == 0


def test_the_nonce_is_single_use(stack: IssuanceStack) -> None:
    with stack.stub(TERMINAL) as stub:
        opened = stub.OpenIssuanceSession(
            ipb.OpenIssuanceSessionRequest(idempotency_key="open-1", terminal_id=TERMINAL),
            timeout=10,
        )
        certificate, signature = issuance_proof("default", opened.nonce)
        prove = ipb.ProveIssuanceCardRequest(
            session_id=opened.session_id,
            authentication_certificate=certificate,
            signature=signature,
        )
        prove.idempotency_key = "p-1"
        assert stub.ProveIssuanceCard(prove, timeout=10).refusal == ipb.ISSUANCE_REFUSAL_UNSPECIFIED
        prove.idempotency_key = "p-2"
        again = stub.ProveIssuanceCard(prove, timeout=10)
    assert again.refusal == ipb.ISSUANCE_REFUSAL_SESSION_INVALID
    assert again.card_reason == vpb.REASON_OK
    stack.clock.advance(2 * 600 + 1)  # expired one lifetime ago: forgotten by the sweep
    stack.sweep()
    with stack.verifier.core.storage.reading() as tx:
        assert tx.count("issuance_sessions") == 0
    with stack.stub(TERMINAL) as stub:
        listed = stub.ListDocuments(ipb.ListDocumentsRequest(session_id=opened.session_id))
    assert listed.refusal == ipb.ISSUANCE_REFUSAL_SESSION_INVALID


def test_on_postgresql_retries_get_one_document_and_the_first_decision_wins(
    env: VerifierEnv, tmp_path: Path
) -> None:
    with (
        postgres_cluster() as cluster,
        issuance_stack(env, tmp_path, database=cluster.new_database()) as pg,
    ):
        with pg.stub(TERMINAL) as stub:
            session_id = _proven(stub)
            first = _issued(stub, session_id)
            assert _issued(stub, session_id).document_pdf == first.document_pdf
            refunded = stub.ReportPrintFailure(
                ipb.ReportPrintFailureRequest(
                    idempotency_key="f-1",
                    request_id=first.request_id,
                    failure=mpb.PRINT_FAILURE_JAM,
                ),
                timeout=10,
            )
            late = stub.ConfirmPrinted(
                ipb.ConfirmPrintedRequest(
                    idempotency_key="c-1",
                    request_id=first.request_id,
                    document_sha256=first.document_sha256,
                ),
                timeout=10,
            )
        assert (refunded.state, late.state) == (ipb.ISSUANCE_STATE_REFUNDED,) * 2
        pg.sweep()
        assert pg.municipality.state(first.serial) == "VOID"
        assert pg.municipality.count() == 1


def test_the_service_is_served_beside_verifier_service_with_health(stack: IssuanceStack) -> None:
    with stack.verifier.channel(stack.env.credentials(TERMINAL)) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        answer = health.Check(
            health_pb2.HealthCheckRequest(service=ISSUANCE_SERVICE_NAME), timeout=10
        )
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
    with stack.verifier.channel(None) as plaintext, pytest.raises(grpc.RpcError):
        ipb_grpc.IssuanceServiceStub(plaintext).OpenIssuanceSession(
            ipb.OpenIssuanceSessionRequest(idempotency_key="o", terminal_id=TERMINAL),
            timeout=5,
        )


def _holder(stack: IssuanceStack, pdf: bytes) -> list[str]:
    """The 氏名 the municipality signed into the document (read back as a checker would)."""
    key = serialization.load_pem_private_key(
        stack.municipality.config.signing_key.read_bytes(), None
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    trust = TrustStore({MUNICIPALITY_CODE: key.public_key()})
    content = verify_input(read_document(pdf, dpi=150), trust).content
    return [value for label, value in content.fields if label == "氏名"]


def test_two_stores_at_once_each_print_their_own_holders_document(stack: IssuanceStack) -> None:
    """Kawasaki and Yokohama: simultaneous requests never swap or overwrite documents."""
    stores = {"mfp-store-a": "default", "mfp-store-b": "long-address"}

    def visit(terminal: str) -> ipb.RequestDocumentResponse:
        with stack.stub(terminal) as stub:
            return _issued(stub, _proven(stub, stores[terminal], terminal))

    with ThreadPoolExecutor(max_workers=2) as pool:
        issued = dict(zip(stores, pool.map(visit, stores), strict=True))
    for terminal, profile in stores.items():
        assert _holder(stack, issued[terminal].document_pdf) == [get_profile(profile).person.name]
    assert issued["mfp-store-a"].serial != issued["mfp-store-b"].serial
    with stack.verifier.core.storage.reading() as tx:
        bound = {r.terminal_id: r.serial for r in tx.issuance.list_requests()}
    assert bound == {t: issued[t].serial for t in stores}
