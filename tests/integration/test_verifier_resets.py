# SPDX-License-Identifier: Apache-2.0
"""The PIN reset end to end: phone books, kiosk redeems, the virtual card accepts.

Both policies (the 2020 plan's OTP, the deployed 24-hour reservation), and
the refusals: wrong, missing and exhausted OTPs, expired, reused and other
cards' reservations, a bad face-match attestation. The new secret goes only
to the card; a log capture and the audit trail prove no secret leaks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest

from host.apdu import CommandApdu
from host.card import KeyKind, MynaCard, PinKind
from host.secret import Secret
from host.transport import open_transport
from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from tests.verifier_support import ServerThread, VerifierEnv, card_certificate, make_env, prove
from verifier import issuer

PURPOSE = "SESSION_PURPOSE_PIN_RESET"
NEW_PASSWORD = "NEWSECRET42"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("verifier-resets"))


def _server(env: VerifierEnv, policy: str) -> ServerThread:
    return ServerThread(env.config(reset_policy=policy)).start()


@pytest.fixture
def deployed(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = _server(env, "reservation_only")
    yield thread
    thread.stop()


@pytest.fixture
def plan2020(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = _server(env, "otp")
    yield thread
    thread.stop()


def _session(stub: pb_grpc.VerifierServiceStub, key: str) -> pb.OpenSessionResponse:
    request = pb.OpenSessionRequest(purpose=pb.SESSION_PURPOSE_PIN_RESET, idempotency_key=key)
    return stub.OpenSession(request, timeout=10)


def book(
    env: VerifierEnv,
    server: ServerThread,
    profile: str = "default",
    operation: int = pb.RESET_OPERATION_SIGNING_PASSWORD,
    *,
    bad_face: bool = False,
) -> pb.ReserveResetResponse:
    kind = KeyKind.AUTH if operation == pb.RESET_OPERATION_SIGNING_PASSWORD else KeyKind.SIGN
    with server.stub(env.credentials("phone-app")) as stub:
        session = _session(stub, f"book-{profile}-{operation}")
        proof = prove(profile, kind, PURPOSE, "phone-app", session.nonce)
        other_nonce = b"\x01" * 32
        face = env.face_attestation(
            proof.certificate_der, other_nonce if bad_face else session.nonce
        )
        return stub.ReserveReset(
            pb.ReserveResetRequest(
                session_id=session.session_id,
                terminal_id="phone-app",
                operation=operation,  # type: ignore[arg-type]
                proof=proof,
                face_match=face,
                idempotency_key=f"reserve-{profile}-{operation}",
            ),
            timeout=10,
        )


@dataclass
class Kiosk:
    """A kiosk with a card on its reader (one sim:// transport for the whole visit)."""

    card: MynaCard
    stub: pb_grpc.VerifierServiceStub
    profile: str

    def redeem(
        self, operation: int, otp: str = "", key: str = "redeem"
    ) -> tuple[pb.RedeemResetResponse, bytes]:
        kind = KeyKind.AUTH if operation == pb.RESET_OPERATION_SIGNING_PASSWORD else KeyKind.SIGN
        session = _session(self.stub, f"s-{key}")
        auth_der = card_certificate(self.profile, KeyKind.AUTH)
        card_id = issuer.card_id(auth_der)
        challenge = self.card.channel.send(
            CommandApdu(0x00, 0x84, 0x00, 0x00, le=8, name="GET CHALLENGE")
        ).data
        proof = prove(self.profile, kind, PURPOSE, "kiosk-01", session.nonce, (card_id, challenge))
        response = self.stub.RedeemReset(
            pb.RedeemResetRequest(
                session_id=session.session_id,
                terminal_id="kiosk-01",
                operation=operation,  # type: ignore[arg-type]
                proof=proof,
                one_time_password=otp,
                card_challenge=challenge,
                card_id=card_id,
                idempotency_key=key,
            ),
            timeout=10,
        )
        return response, challenge

    def apply(self, response: pb.RedeemResetResponse, operation: int, new: str) -> None:
        """EXTERNAL AUTHENTICATE with the issuer authorisation, then RESET RETRY COUNTER."""
        self.card.channel.send(
            CommandApdu(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("D392F000260100000001"))
        )
        self.card.channel.send(
            CommandApdu(0x00, 0x82, 0x00, operation, response.issuer_authorization)
        )
        sfi = 0x9B if operation == pb.RESET_OPERATION_SIGNING_PASSWORD else 0x98
        self.card.channel.send(
            CommandApdu(0x00, 0x2C, 0x02, sfi, new.encode("ascii"), name="RESET", sensitive=True)
        )


@pytest.fixture
def kiosk_factory(env: VerifierEnv) -> Iterator[object]:
    opened: list[object] = []

    def make(server: ServerThread, profile: str = "default") -> Kiosk:
        transport = open_transport(f"sim://{profile}?persist=0")
        opened.append(transport)
        channel_cm = server.stub(env.credentials("kiosk-01"))
        stub = channel_cm.__enter__()
        opened.append(channel_cm)
        return Kiosk(MynaCard(transport), stub, profile)

    yield make
    for handle in reversed(opened):
        if hasattr(handle, "__exit__"):
            handle.__exit__(None, None, None)  # type: ignore[attr-defined]
        else:
            handle.close()  # type: ignore[attr-defined]


def test_deployed_policy_full_flow(
    env: VerifierEnv,
    deployed: ServerThread,
    kiosk_factory: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    booking = book(env, deployed)
    assert booking.verdict == pb.VERDICT_ACCEPTED, pb.Reason.Name(booking.reason)
    assert booking.policy == pb.RESET_POLICY_RESERVATION_ONLY
    assert booking.one_time_password == ""
    kiosk: Kiosk = kiosk_factory(deployed)  # type: ignore[operator]
    op = pb.RESET_OPERATION_SIGNING_PASSWORD
    response, _ = kiosk.redeem(op)
    assert response.verdict == pb.VERDICT_ACCEPTED, pb.Reason.Name(response.reason)
    assert response.reservation_id == booking.reservation_id
    kiosk.apply(response, op, NEW_PASSWORD)
    with Secret.from_text(NEW_PASSWORD) as secret:
        kiosk.card.verify(PinKind.SIGN, secret)  # the card took the new password
    with deployed.stub(env.credentials("kiosk-01")) as stub:
        confirmed = stub.ConfirmReset(
            pb.ConfirmResetRequest(
                reservation_id=response.reservation_id,
                terminal_id="kiosk-01",
                succeeded=True,
                idempotency_key="confirm",
            ),
            timeout=10,
        )
    assert confirmed.recorded
    with deployed.stub(env.credentials("kiosk-99")) as other, pytest.raises(grpc.RpcError) as no:
        other.ConfirmReset(
            pb.ConfirmResetRequest(
                reservation_id=response.reservation_id,
                terminal_id="kiosk-99",
                succeeded=False,
                idempotency_key="confirm",
            ),
            timeout=10,
        )
    assert no.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with deployed.core.storage.transaction() as tx:
        audit = tx.audit_entries()
    assert [e.action for e in audit] == ["RESERVE_RESET", "REDEEM_RESET", "CONFIRM_RESET"]
    assert NEW_PASSWORD not in caplog.text
    assert NEW_PASSWORD not in repr(audit)
    # The same reservation cannot be redeemed twice.
    again, _ = kiosk.redeem(op, key="redeem-again")
    assert again.reason == pb.REASON_RESERVATION_USED


def test_auth_pin_reset_is_proven_with_the_signing_key(
    env: VerifierEnv, deployed: ServerThread, kiosk_factory: object
) -> None:
    op = pb.RESET_OPERATION_AUTHENTICATION_PIN
    assert book(env, deployed, operation=op).verdict == pb.VERDICT_ACCEPTED
    kiosk: Kiosk = kiosk_factory(deployed)  # type: ignore[operator]
    response, _ = kiosk.redeem(op)
    assert response.verdict == pb.VERDICT_ACCEPTED, pb.Reason.Name(response.reason)
    kiosk.apply(response, op, "8642")
    with Secret.from_text("8642") as secret:
        kiosk.card.verify(PinKind.AUTH, secret)


def test_otp_policy(
    env: VerifierEnv,
    plan2020: ServerThread,
    kiosk_factory: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    booking = book(env, plan2020)
    assert booking.policy == pb.RESET_POLICY_OTP
    otp = booking.one_time_password
    assert len(otp) == 8
    assert otp.isdigit()
    kiosk: Kiosk = kiosk_factory(plan2020)  # type: ignore[operator]
    op = pb.RESET_OPERATION_SIGNING_PASSWORD
    missing, _ = kiosk.redeem(op, key="r0")
    assert missing.reason == pb.REASON_OTP_REQUIRED
    wrong_otp = f"{(int(otp) + 1) % 100_000_000:08d}"
    wrong, _ = kiosk.redeem(op, otp=wrong_otp, key="r1")
    assert (wrong.reason, wrong.attempts_left) == (pb.REASON_OTP_WRONG, 2)
    assert not wrong.issuer_authorization
    right, _ = kiosk.redeem(op, otp=otp, key="r2")
    assert right.verdict == pb.VERDICT_ACCEPTED
    assert otp not in caplog.text
    with plan2020.core.storage.transaction() as tx:
        assert otp not in repr(tx.audit_entries())


def test_too_many_wrong_otps_burn_the_reservation(
    env: VerifierEnv, plan2020: ServerThread, kiosk_factory: object
) -> None:
    otp = book(env, plan2020).one_time_password
    kiosk: Kiosk = kiosk_factory(plan2020)  # type: ignore[operator]
    op = pb.RESET_OPERATION_SIGNING_PASSWORD
    wrong = f"{(int(otp) + 7) % 100_000_000:08d}"
    reasons = [kiosk.redeem(op, otp=wrong, key=f"w{i}")[0].reason for i in range(3)]
    assert reasons == [pb.REASON_OTP_WRONG, pb.REASON_OTP_WRONG, pb.REASON_TOO_MANY_ATTEMPTS]
    assert kiosk.redeem(op, otp=otp, key="late")[0].reason == pb.REASON_TOO_MANY_ATTEMPTS


def test_expired_reservation(env: VerifierEnv, kiosk_factory: object) -> None:
    # A short reservation life: a day-long jump would also outlive the CRL.
    server = ServerThread(env.config(reservation_ttl_seconds=120.0)).start()
    try:
        book(env, server)
        server.clock.advance(121)
        kiosk: Kiosk = kiosk_factory(server)  # type: ignore[operator]
        response, _ = kiosk.redeem(pb.RESET_OPERATION_SIGNING_PASSWORD)
        assert response.reason == pb.REASON_RESERVATION_EXPIRED
    finally:
        server.stop()


def test_another_cards_reservation_does_not_apply(
    env: VerifierEnv, deployed: ServerThread, kiosk_factory: object
) -> None:
    book(env, deployed, "default")
    kiosk: Kiosk = kiosk_factory(deployed, "rare-kanji")  # type: ignore[operator]
    response, _ = kiosk.redeem(pb.RESET_OPERATION_SIGNING_PASSWORD)
    assert response.reason == pb.REASON_RESERVATION_NOT_FOUND
    assert not response.issuer_authorization


def test_bad_face_attestation_books_nothing(env: VerifierEnv, deployed: ServerThread) -> None:
    booking = book(env, deployed, bad_face=True)
    assert booking.reason == pb.REASON_ATTESTATION_INVALID
    with deployed.core.storage.transaction() as tx:
        assert tx.count("reservations") == 0
