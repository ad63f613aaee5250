# SPDX-License-Identifier: Apache-2.0
"""Smartphones at the verifier end to end (issue 15): real server, mTLS, real stubs.

The phones are the simulator's ``android-*`` and ``iphone-*`` profiles, with
certificates from the mobile CAs; the trust folder holds those CAs and
their CRLs in ``mobile/``. What carried a certificate is the verifier's
finding from the issuing CA, answered in VerifyCardResponse and audited
beside what the terminal claimed; the default policy takes phones for
reading and transfers, never for a PIN reset.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import grpc
import pytest

from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from tests.phone_verifier_support import certificate_der, make_phone_env, phone_proof, sign
from tests.verifier_support import ServerThread, VerifierEnv
from verifier.canonical import TransferFields, statement_digest
from verifier.core import fingerprint
from verifier.credentials import CredentialKind, CredentialPolicy

TERMINAL = "kiosk-01"
READING = "SESSION_PURPOSE_CARD_VERIFICATION"
RESET = "SESSION_PURPOSE_PIN_RESET"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_phone_env(tmp_path_factory.mktemp("verifier-phones"))


@pytest.fixture
def server(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


@pytest.fixture
def stub(env: VerifierEnv, server: ServerThread) -> Iterator[pb_grpc.VerifierServiceStub]:
    with server.stub(env.credentials(TERMINAL)) as s:
        yield s


def _open(stub: pb_grpc.VerifierServiceStub, purpose: int, key: str) -> pb.OpenSessionResponse:
    request = pb.OpenSessionRequest(purpose=purpose, idempotency_key=f"o-{key}")  # type: ignore[arg-type]
    return stub.OpenSession(request, timeout=10)


def _verify(
    stub: pb_grpc.VerifierServiceStub,
    profile: str,
    key: str,
    device: int = pb.CREDENTIAL_DEVICE_UNSPECIFIED,
) -> pb.VerifyCardResponse:
    session = _open(stub, pb.SESSION_PURPOSE_CARD_VERIFICATION, key)
    proof = phone_proof(
        profile, "auth", purpose=READING, terminal_id=TERMINAL, nonce=session.nonce, device=device
    )
    request = pb.VerifyCardRequest(
        session_id=session.session_id, terminal_id=TERMINAL, proof=proof, idempotency_key=key
    )
    return stub.VerifyCard(request, timeout=10)


def _audit(server: ServerThread) -> list[tuple[str, str, str, str]]:
    with server.core.storage.reading() as tx:
        return [
            (e.action, e.reason, e.credential_kind, e.credential_claim) for e in tx.audit_entries()
        ]


@pytest.mark.parametrize(
    ("profile", "device"),
    [
        ("android-default", pb.CREDENTIAL_DEVICE_ANDROID),
        ("iphone-default", pb.CREDENTIAL_DEVICE_IPHONE),
    ],
)
def test_a_phone_is_read_and_recorded_as_a_phone(
    stub: pb_grpc.VerifierServiceStub, server: ServerThread, profile: str, device: int
) -> None:
    response = _verify(stub, profile, "v1", device)
    assert response.verdict == pb.VERDICT_ACCEPTED, pb.Reason.Name(response.reason)
    assert response.credential_device == pb.CREDENTIAL_DEVICE_MOBILE  # from the mobile CA
    assert response.revocation_source == pb.REVOCATION_SOURCE_CRL
    claimed = CredentialKind.ANDROID if "android" in profile else CredentialKind.IPHONE
    assert _audit(server) == [("VERIFY_CARD", "OK", "mobile", claimed.value)]


def test_a_card_and_the_same_persons_phone_are_different_credentials(
    stub: pb_grpc.VerifierServiceStub, server: ServerThread
) -> None:
    card = _verify(stub, "default", "v-card", pb.CREDENTIAL_DEVICE_CARD)
    phone = _verify(stub, "android-default", "v-phone", pb.CREDENTIAL_DEVICE_ANDROID)
    assert (card.verdict, phone.verdict) == (pb.VERDICT_ACCEPTED, pb.VERDICT_ACCEPTED)
    assert card.credential_device == pb.CREDENTIAL_DEVICE_CARD
    assert phone.credential_device == pb.CREDENTIAL_DEVICE_MOBILE
    assert card.certificate_serial != phone.certificate_serial
    card_der, phone_der = (
        certificate_der("default", "auth"),
        certificate_der("android-default", "auth"),
    )
    assert fingerprint(card_der) != fingerprint(phone_der)
    assert [row[2] for row in _audit(server)] == ["card", "mobile"]


@pytest.mark.parametrize("profile", ["android-lost", "iphone-lost"])
def test_a_lost_phone_is_refused_by_the_mobile_crl(
    stub: pb_grpc.VerifierServiceStub, server: ServerThread, profile: str
) -> None:
    response = _verify(stub, profile, "v-lost", pb.CREDENTIAL_DEVICE_ANDROID)
    assert response.verdict == pb.VERDICT_REJECTED
    assert response.reason == pb.REASON_CERTIFICATE_REVOKED
    assert response.credential_device == pb.CREDENTIAL_DEVICE_MOBILE
    assert _audit(server)[0][1:3] == ("CERTIFICATE_REVOKED", "mobile")


def test_a_terminal_claiming_card_for_a_phone_is_recorded_as_the_phone(
    stub: pb_grpc.VerifierServiceStub, server: ServerThread
) -> None:
    response = _verify(stub, "iphone-default", "v-liar", pb.CREDENTIAL_DEVICE_CARD)
    assert response.credential_device == pb.CREDENTIAL_DEVICE_MOBILE
    assert _audit(server) == [("VERIFY_CARD", "OK", "mobile", "card")]


def test_an_unknown_claimed_device_is_an_invalid_argument(
    stub: pb_grpc.VerifierServiceStub,
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        _verify(stub, "android-default", "v-bad", 99)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def _reserve(
    env: VerifierEnv, stub: pb_grpc.VerifierServiceStub, profile: str, device: int
) -> pb.ReserveResetResponse:
    session = _open(stub, pb.SESSION_PURPOSE_PIN_RESET, f"r-{profile}-{device}")
    proof = phone_proof(
        profile, "auth", purpose=RESET, terminal_id=TERMINAL, nonce=session.nonce, device=device
    )
    request = pb.ReserveResetRequest(
        session_id=session.session_id,
        terminal_id=TERMINAL,
        operation=pb.RESET_OPERATION_SIGNING_PASSWORD,
        proof=proof,
        face_match=env.face_attestation(proof.certificate_der, session.nonce),
        idempotency_key=f"r-{profile}-{device}",
    )
    return stub.ReserveReset(request, timeout=10)


@pytest.mark.parametrize(
    "device",
    [pb.CREDENTIAL_DEVICE_ANDROID, pb.CREDENTIAL_DEVICE_CARD, pb.CREDENTIAL_DEVICE_UNSPECIFIED],
)
def test_a_phone_cannot_book_a_pin_reset_whatever_the_terminal_claims(
    env: VerifierEnv, stub: pb_grpc.VerifierServiceStub, server: ServerThread, device: int
) -> None:
    response = _reserve(env, stub, "android-default", device)
    assert response.verdict == pb.VERDICT_REJECTED
    assert response.reason == pb.REASON_CREDENTIAL_NOT_ALLOWED
    assert not response.reservation_id
    assert not response.one_time_password
    with server.core.storage.reading() as tx:
        assert tx.count("reservations") == 0
    assert _audit(server)[0][:3] == ("RESERVE_RESET", "CREDENTIAL_NOT_ALLOWED", "mobile")


def test_the_card_still_books_its_reset(
    env: VerifierEnv, stub: pb_grpc.VerifierServiceStub, server: ServerThread
) -> None:
    response = _reserve(env, stub, "default", pb.CREDENTIAL_DEVICE_CARD)
    assert response.verdict == pb.VERDICT_ACCEPTED, pb.Reason.Name(response.reason)
    assert _audit(server) == [("RESERVE_RESET", "OK", "card", "card")]


def test_a_phone_cannot_redeem_a_pin_reset(
    stub: pb_grpc.VerifierServiceStub, server: ServerThread
) -> None:
    session = _open(stub, pb.SESSION_PURPOSE_PIN_RESET, "redeem")
    card_id, challenge = b"\x01" * 16, b"\x02" * 8
    proof = phone_proof(
        "iphone-default",
        "sign",
        purpose=RESET,
        terminal_id=TERMINAL,
        nonce=session.nonce,
        bound=(card_id, challenge),
        device=pb.CREDENTIAL_DEVICE_IPHONE,
    )
    response = stub.RedeemReset(
        pb.RedeemResetRequest(
            session_id=session.session_id,
            terminal_id=TERMINAL,
            operation=pb.RESET_OPERATION_AUTHENTICATION_PIN,
            proof=proof,
            card_id=card_id,
            card_challenge=challenge,
            idempotency_key="redeem",
        ),
        timeout=10,
    )
    assert response.reason == pb.REASON_CREDENTIAL_NOT_ALLOWED
    assert not response.issuer_authorization
    assert _audit(server)[0][:4] == ("REDEEM_RESET", "CREDENTIAL_NOT_ALLOWED", "mobile", "iphone")


def _authorize(
    stub: pb_grpc.VerifierServiceStub, profile: str, device: int
) -> pb.AuthorizeTransferResponse:
    session = _open(stub, pb.SESSION_PURPOSE_TRANSFER, f"t-{profile}")
    s = pb.TransferStatement(
        nonce=session.nonce,
        terminal_id=TERMINAL,
        amount_yen=100_001,
        payee_bank_code="0001",
        payee_branch_code="123",
        payee_account_type=pb.ACCOUNT_TYPE_ORDINARY,
        payee_account_number="1234567",
        payee_name="ヤマダ　ハナコ",
        remitter_name="ヤマダ　タロウ",
        remitter_phone="03-1234-5678",
    )
    digest = statement_digest(
        TransferFields(
            s.nonce, s.terminal_id, s.amount_yen, s.payee_bank_code, s.payee_branch_code,
            s.payee_account_type, s.payee_account_number, s.payee_name, s.remitter_name,
            s.remitter_phone,
        )
    )  # fmt: skip
    proof = pb.CardProof(
        certificate_der=certificate_der(profile, "sign"),
        signature=sign(profile, "sign", digest),
        credential_device=device,  # type: ignore[arg-type]
    )
    request = pb.AuthorizeTransferRequest(
        session_id=session.session_id,
        statement=s,
        identity_proof=proof,
        idempotency_key=f"t-{profile}",
    )
    return stub.AuthorizeTransfer(request, timeout=10)


def test_a_phone_signs_a_transfer_over_the_threshold(
    stub: pb_grpc.VerifierServiceStub, server: ServerThread
) -> None:
    response = _authorize(stub, "android-default", pb.CREDENTIAL_DEVICE_ANDROID)
    assert response.verdict == pb.VERDICT_ACCEPTED, pb.Reason.Name(response.reason)
    assert response.identity_verified
    assert response.identity.name == "山田　太郎"  # the phone's signing certificate
    assert _audit(server) == [("AUTHORIZE_TRANSFER", "OK", "mobile", "android")]


def test_an_operator_may_keep_phones_off_transfers(env: VerifierEnv) -> None:
    policy = CredentialPolicy(transfer=frozenset({CredentialKind.CARD}))
    config = dataclasses.replace(env.config(), credentials=policy)
    thread = ServerThread(config).start()
    try:
        with thread.stub(env.credentials(TERMINAL)) as stub:
            phone = _authorize(stub, "iphone-default", pb.CREDENTIAL_DEVICE_IPHONE)
        with thread.stub(env.credentials(TERMINAL)) as stub:
            card = _authorize(stub, "default", pb.CREDENTIAL_DEVICE_CARD)
    finally:
        thread.stop()
    assert phone.reason == pb.REASON_CREDENTIAL_NOT_ALLOWED
    assert not phone.authorization_id
    assert card.verdict == pb.VERDICT_ACCEPTED, pb.Reason.Name(card.reason)
