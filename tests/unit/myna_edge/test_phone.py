# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``myna_edge.phone``: the booking, checked as the verifier checks it."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from host.card import KeyKind
from host.client import SessionPurpose, card_challenge_digest
from myna.edge.v1 import verifier_pb2 as pb
from myna_edge.chaos.secrets.scan import encodings_found
from myna_edge.phone import profile_secret, proving_key, reserve_request
from verifier.resets import face_match_bytes

FACE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_each_reset_is_proved_with_the_other_key() -> None:
    assert proving_key(pb.RESET_OPERATION_SIGNING_PASSWORD) is KeyKind.AUTH
    assert proving_key(pb.RESET_OPERATION_AUTHENTICATION_PIN) is KeyKind.SIGN
    with pytest.raises(ValueError, match="no reset operation"):
        proving_key(pb.RESET_OPERATION_UNSPECIFIED)


@pytest.mark.parametrize(
    "operation", [pb.RESET_OPERATION_SIGNING_PASSWORD, pb.RESET_OPERATION_AUTHENTICATION_PIN]
)
def test_request_carries_a_card_proof_and_face_match_that_verify(operation: int) -> None:
    session = pb.OpenSessionResponse(session_id="s-1", nonce=bytes(range(32)))
    kind = proving_key(operation)
    request = reserve_request(
        session=session, operation=operation, card_url="sim://default?persist=0",
        secret=profile_secret("default", kind), phone_id="phone-app",
        face_key=FACE_KEY, idempotency_key="r-1",
    )  # fmt: skip
    assert (request.session_id, request.terminal_id, request.operation) == (
        "s-1",
        "phone-app",
        operation,
    )
    assert request.idempotency_key == "r-1"
    certificate = x509.load_der_x509_certificate(request.proof.certificate_der)
    key = certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    digest = card_challenge_digest(SessionPurpose.PIN_RESET, "phone-app", session.nonce)
    key.verify(request.proof.signature, digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    FACE_KEY.public_key().verify(
        request.face_match.signature,
        face_match_bytes(request.proof.certificate_der, session.nonce),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    assert encodings_found(request.SerializeToString(), profile_secret("default", kind)) == []
