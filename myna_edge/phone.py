# SPDX-License-Identifier: Apache-2.0
"""The holder's phone booking a PIN reset: the card proves itself, a provider vouches for the face.

Why one module: the demo, the kiosk demo's simulator panel and two chaos
scenarios all play the phone app, and the booking has to be built exactly as
the verifier checks it (``verifier.resets``): a card proof over the session's
reset challenge with the *other* key than the one being reset, and the face
provider's signature over that certificate and the nonce. Each caller keeps
its own channel (sync or async, mTLS or the development header); this builds
the request.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from host.card import KeyKind, MynaCard
from host.client import SessionPurpose, card_challenge_digest
from host.secret import Secret
from host.transport import open_transport
from hw_sim.card import get_profile
from myna.edge.v1 import verifier_pb2 as pb
from verifier.resets import face_match_bytes

__all__ = ["profile_secret", "proving_key", "reserve_request"]


def proving_key(operation: int) -> KeyKind:
    """The key the card proves itself with: the one whose secret the holder still knows."""
    if operation == pb.RESET_OPERATION_SIGNING_PASSWORD:
        return KeyKind.AUTH
    if operation == pb.RESET_OPERATION_AUTHENTICATION_PIN:
        return KeyKind.SIGN
    raise ValueError(f"no reset operation {operation}")


def profile_secret(profile: str, kind: KeyKind) -> str:
    """The simulated card profile's secret for ``kind`` (PIN or signing password)."""
    card = get_profile(profile)
    return card.auth_pin if kind is KeyKind.AUTH else card.sign_password


def reserve_request(
    *,
    session: pb.OpenSessionResponse,
    operation: int,
    card_url: str,
    secret: str,
    phone_id: str,
    face_key: rsa.RSAPrivateKey,
    idempotency_key: str,
) -> pb.ReserveResetRequest:
    """The phone's ReserveReset for ``session``: the card on ``card_url`` proves with ``secret``.

    Blocking (card I/O): async callers run it in a thread.
    """
    kind = proving_key(operation)
    digest = card_challenge_digest(SessionPurpose.PIN_RESET, phone_id, session.nonce)
    with open_transport(card_url) as transport, Secret.from_text(secret) as pin:
        certificate, signature = MynaCard(transport).prove(kind, digest, pin)
    der = certificate.public_bytes(Encoding.DER)
    face = face_key.sign(face_match_bytes(der, session.nonce), padding.PKCS1v15(), hashes.SHA256())
    return pb.ReserveResetRequest(
        session_id=session.session_id,
        terminal_id=phone_id,
        operation=pb.ResetOperation.ValueType(operation),
        proof=pb.CardProof(certificate_der=der, signature=signature),
        face_match=pb.FaceMatchAttestation(signature=face),
        idempotency_key=idempotency_key,
    )
