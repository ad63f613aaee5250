# SPDX-License-Identifier: Apache-2.0
"""Attack: a kiosk resets ANOTHER card's PIN with its own card's booking (issue 22, item 1).

Two virtual cards behind real APDUs (``sim://``): card A (``default``) has a
booking; the rogue kiosk has A's holder type A's secret, but card B
(``rare-kanji``) lies on the reader. A's key signs a redeem challenge that
names B's card id and B's own GET CHALLENGE answer. Before the fix the
verifier authorised B (it checked the card id only for the authentication
key) and RESET RETRY COUNTER set B's authentication PIN. Now:

* the auth-PIN direction (proof by the signing key, which no certificate
  links to a card id): the verifier's authorisation covers SHA-256 of the
  proving certificate and the card checks it against its own certificate
  of that key, so card B refuses EXTERNAL AUTHENTICATE (6300);
* the signing-password direction (proof by the authentication key): the
  verifier refuses itself (RESERVATION_OTHER_CARD).

Either way B's secret and its retry counter are untouched, and the audit log
names the card the request was for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from host.card import KeyKind, MynaCard, PinKind
from host.card.issuer_reset import apply_issuer_reset, card_id, get_challenge
from host.errors import CardError
from host.secret import Secret
from host.transport import open_transport
from hw_sim.card import get_profile
from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from tests.verifier_support import ServerThread, VerifierEnv, make_env
from verifier.canonical import card_challenge_digest

PURPOSE = "SESSION_PURPOSE_PIN_RESET"
CARD_A, CARD_B = "default", "rare-kanji"
AUTH_PIN = pb.RESET_OPERATION_AUTHENTICATION_PIN
SIGNING_PASSWORD = pb.RESET_OPERATION_SIGNING_PASSWORD


@dataclass
class Card:
    """A virtual card on a reader, spoken to only through APDUs."""

    profile: str
    card: MynaCard

    def secret(self, kind: KeyKind) -> Secret:
        person = get_profile(self.profile)
        return Secret.from_text(person.auth_pin if kind is KeyKind.AUTH else person.sign_password)

    def certificate(self, kind: KeyKind) -> bytes:
        with self.secret(kind) as secret:
            password = secret if kind is KeyKind.SIGN else None
            return self.card.read_certificate(kind, password).public_bytes(Encoding.DER)

    def sign(self, kind: KeyKind, digest: bytes) -> bytes:
        with self.secret(kind) as secret:
            return self.card.sign(kind, digest, secret)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("security-reset"))


@pytest.fixture
def server(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config(reset_policy="reservation_only"))
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def cards() -> Iterator[tuple[Card, Card]]:
    with contextlib.ExitStack() as stack:
        a = stack.enter_context(open_transport(f"sim://{CARD_A}?persist=0"))
        b = stack.enter_context(open_transport(f"sim://{CARD_B}?persist=0"))
        yield Card(CARD_A, MynaCard(a)), Card(CARD_B, MynaCard(b))


def _session(stub: pb_grpc.VerifierServiceStub, key: str) -> pb.OpenSessionResponse:
    request = pb.OpenSessionRequest(purpose=pb.SESSION_PURPOSE_PIN_RESET, idempotency_key=key)
    return stub.OpenSession(request, timeout=10)


def _book(env: VerifierEnv, server: ServerThread, card: Card, operation: int) -> None:
    kind = KeyKind.SIGN if operation == AUTH_PIN else KeyKind.AUTH
    with server.stub(env.credentials("phone-app")) as stub:
        session = _session(stub, f"book-{operation}")
        digest = card_challenge_digest(PURPOSE, "phone-app", session.nonce)
        der = card.certificate(kind)
        proof = pb.CardProof(certificate_der=der, signature=card.sign(kind, digest))
        booking = stub.ReserveReset(
            pb.ReserveResetRequest(
                session_id=session.session_id,
                terminal_id="phone-app",
                operation=operation,  # type: ignore[arg-type]
                proof=proof,
                face_match=env.face_attestation(der, session.nonce),
                idempotency_key=f"reserve-{operation}",
            ),
            timeout=10,
        )
    assert booking.verdict == pb.VERDICT_ACCEPTED, pb.Reason.Name(booking.reason)


def _redeem_for_other_card(
    env: VerifierEnv, server: ServerThread, prover: Card, target: Card, operation: int
) -> pb.RedeemResetResponse:
    """The rogue kiosk: ``prover``'s key signs a challenge naming ``target``."""
    kind = KeyKind.SIGN if operation == AUTH_PIN else KeyKind.AUTH
    target_id = card_id(target.certificate(KeyKind.AUTH))
    challenge = get_challenge(target.card.channel)  # B's own GET CHALLENGE
    with server.stub(env.credentials("kiosk-01")) as stub:
        session = _session(stub, f"redeem-{operation}")
        digest = card_challenge_digest(PURPOSE, "kiosk-01", session.nonce, (target_id, challenge))
        proof = pb.CardProof(
            certificate_der=prover.certificate(kind), signature=prover.sign(kind, digest)
        )
        return stub.RedeemReset(
            pb.RedeemResetRequest(
                session_id=session.session_id,
                terminal_id="kiosk-01",
                operation=operation,  # type: ignore[arg-type]
                proof=proof,
                card_challenge=challenge,
                card_id=target_id,
                idempotency_key=f"redeem-{operation}",
            ),
            timeout=10,
        )


def _last_redeem_audit(server: ServerThread) -> object:
    with server.core.storage.transaction() as tx:
        return [e for e in tx.audit_entries() if e.action == "REDEEM_RESET"][-1]


def test_a_cards_booking_cannot_reset_another_cards_auth_pin(
    env: VerifierEnv, server: ServerThread, cards: tuple[Card, Card]
) -> None:
    a, b = cards
    _book(env, server, a, AUTH_PIN)
    before = b.card.tries_left(PinKind.AUTH)
    answer = _redeem_for_other_card(env, server, a, b, AUTH_PIN)
    # The verifier cannot tell from a signing certificate which card id it
    # belongs to, so it answers; but what it authorises is bound to A's
    # signing certificate, and card B (the real EXTERNAL AUTHENTICATE) refuses.
    assert answer.verdict == pb.VERDICT_ACCEPTED, pb.Reason.Name(answer.reason)
    assert answer.issuer_authorization
    with pytest.raises(CardError) as refused:
        apply_issuer_reset(b.card.channel, 2, answer.issuer_authorization, b"9090")
    assert refused.value.sw == 0x6300  # B: not an authorisation for this card
    # B's PIN is unchanged and its retry counter untouched.
    assert b.card.tries_left(PinKind.AUTH) == before
    with b.secret(KeyKind.AUTH) as old:
        b.card.verify(PinKind.AUTH, old)
    entry = _last_redeem_audit(server)
    assert getattr(entry, "card_id", None) == card_id(b.certificate(KeyKind.AUTH)).hex()


def test_a_cards_booking_cannot_reset_another_cards_signing_password(
    env: VerifierEnv, server: ServerThread, cards: tuple[Card, Card]
) -> None:
    a, b = cards
    _book(env, server, a, SIGNING_PASSWORD)
    before = b.card.tries_left(PinKind.SIGN)
    answer = _redeem_for_other_card(env, server, a, b, SIGNING_PASSWORD)
    assert answer.verdict == pb.VERDICT_REJECTED
    assert answer.reason == pb.REASON_RESERVATION_OTHER_CARD
    assert not answer.issuer_authorization
    assert b.card.tries_left(PinKind.SIGN) == before
    entry = _last_redeem_audit(server)
    assert getattr(entry, "card_id", None) == card_id(b.certificate(KeyKind.AUTH)).hex()
