# SPDX-License-Identifier: Apache-2.0
"""The domain without a server: sessions, readings, resets and transfers on ``Core`` and storage.

Why (issue 13): the verifier's rules must be testable with no gRPC at all;
these tests build a ``Core`` over SQLite and the test PKI's trust folder and
call the domain modules directly, the way the servicer does.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from hw_sim.home import sim_home
from hw_sim.pki import TestPki
from tests.verifier_support import MutableClock, VerifierEnv, make_env
from verifier import issuer, readings, resets, sessions, transfers
from verifier.canonical import TransferFields
from verifier.codes import CertKind, Purpose, Reason, ReservationState, ResetOperation
from verifier.core import Core
from verifier.errors import PreconditionError
from verifier.server import build_core
from verifier.storage import Session

TERMINAL = "kiosk-01"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("verifier-domain"))


@pytest.fixture
def core(env: VerifierEnv) -> Iterator[Core]:
    built = build_core(env.config(reset_policy="otp"), clock=MutableClock())
    yield built
    built.storage.close()


def _sign(digest: bytes) -> bytes:
    key = TestPki.open(sim_home() / "pki").holder_key("default-auth")
    return key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


def _auth_der() -> bytes:
    return (sim_home() / "cards" / "default" / "auth-cert.der").read_bytes()


def _open(core: Core, purpose: Purpose) -> Session:
    with core.storage.transaction() as tx:
        return sessions.open_session(core, tx, TERMINAL, purpose)


def test_a_card_is_read_once_per_nonce(core: Core) -> None:
    session = _open(core, Purpose.CARD_VERIFICATION)
    digest = sessions.challenge_digest(Purpose.CARD_VERIFICATION, TERMINAL, session.nonce)
    checked = core.check_certificate(CertKind.AUTH, _auth_der(), core.now())
    outcomes = []
    for _ in range(2):
        with core.storage.transaction() as tx:
            outcomes.append(
                readings.verify_card(
                    core,
                    tx,
                    terminal_id=TERMINAL,
                    session_id=session.session_id,
                    checked=checked,
                    signature=_sign(digest),
                )
            )
    assert [o.reason for o in outcomes] == [Reason.OK, Reason.NONCE_REPLAYED]
    assert outcomes[0].serial
    with core.storage.reading() as tx:
        audit = tx.audit_entries()
    assert [(e.action, e.verdict, e.reason) for e in audit] == [
        ("VERIFY_CARD", "ACCEPTED", "OK"),
        ("VERIFY_CARD", "REJECTED", "NONCE_REPLAYED"),
    ]


def test_a_reset_is_booked_redeemed_with_its_otp_and_confirmed(
    core: Core, env: VerifierEnv
) -> None:
    der = _auth_der()
    checked = core.check_certificate(CertKind.AUTH, der, core.now())
    booking_session = _open(core, Purpose.PIN_RESET)
    digest = sessions.challenge_digest(Purpose.PIN_RESET, TERMINAL, booking_session.nonce)
    face = env.face_attestation(der, booking_session.nonce).signature
    wanted = resets.BookingRequest(
        booking_session.session_id,
        ResetOperation.SIGNING_PASSWORD,
        sessions.CardProof(der, _sign(digest)),
        face,
    )
    with core.storage.transaction() as tx:
        booking = resets.reserve(core, tx, TERMINAL, wanted, checked)
    assert booking.reason is Reason.OK
    otp = resets.one_time_password(core, booking.reservation_id)

    def redeem(typed: str) -> resets.Redemption:
        session = _open(core, Purpose.PIN_RESET)
        card_id, challenge = issuer.card_id(der), secrets.token_bytes(8)
        digest = sessions.challenge_digest(
            Purpose.PIN_RESET, TERMINAL, session.nonce, (card_id, challenge)
        )
        request = resets.RedemptionRequest(
            session_id=session.session_id,
            operation=ResetOperation.SIGNING_PASSWORD,
            proof=sessions.CardProof(der, _sign(digest)),
            card_id=card_id,
            card_challenge=challenge,
            one_time_password=typed,
        )
        assert not typed or typed not in repr(request)  # the OTP is a secret
        with core.storage.transaction() as tx:
            return resets.redeem(core, tx, TERMINAL, request, checked)

    wrong = "0" * 8 if otp != "0" * 8 else "1" * 8
    refused = redeem(wrong)
    assert (refused.reason, refused.attempts_left) == (Reason.OTP_WRONG, 2)
    assert redeem("").reason is Reason.OTP_REQUIRED
    accepted = redeem(otp)
    assert accepted.reason is Reason.OK
    assert len(accepted.issuer_authorization) == 16
    assert redeem(otp).reason is Reason.RESERVATION_USED
    with core.storage.transaction() as tx:
        resets.confirm(
            core, tx, terminal_id=TERMINAL, reservation_id=booking.reservation_id, succeeded=True
        )
    with pytest.raises(PreconditionError), core.storage.transaction() as tx:
        resets.confirm(
            core, tx, terminal_id=TERMINAL, reservation_id=booking.reservation_id, succeeded=True
        )
    with core.storage.reading() as tx:
        stored = tx.get_reservation(booking.reservation_id)
    assert stored is not None
    assert stored.state is ReservationState.CONFIRMED


def test_a_small_transfer_is_authorised_then_committed_once(core: Core) -> None:
    session = _open(core, Purpose.TRANSFER)
    statement = TransferFields(
        nonce=session.nonce,
        terminal_id=TERMINAL,
        amount_yen=30_000,
        payee_bank_code="0001",
        payee_branch_code="123",
        payee_account_type=1,
        payee_account_number="1234567",
        payee_name="ヤマダ　ハナコ",
        remitter_name="ヤマダ　タロウ",
        remitter_phone="03-1234-5678",
    )
    wanted = transfers.TransferRequest(session.session_id, statement)
    assert not transfers.needs_proof(core, wanted)
    pre = transfers.precheck(core, TERMINAL, wanted, None)
    with core.storage.transaction() as tx:
        decision = transfers.authorize(core, tx, TERMINAL, wanted, pre)
    assert decision.reason is Reason.OK
    assert decision.identity is None
    with core.storage.transaction() as tx:
        first = transfers.commit(
            core, tx, terminal_id=TERMINAL, authorization_id=decision.authorization_id
        )
    with core.storage.transaction() as tx:
        again = transfers.commit(
            core, tx, terminal_id=TERMINAL, authorization_id=decision.authorization_id
        )
    assert first == again
    with core.storage.transaction() as tx:
        replay = transfers.authorize(core, tx, TERMINAL, wanted, pre)
    assert replay.reason is Reason.NONCE_REPLAYED
