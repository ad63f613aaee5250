# SPDX-License-Identifier: Apache-2.0
"""The test PKI's OCSP responder: real HTTP on 127.0.0.1, signed answers, refusals."""

from __future__ import annotations

import urllib.request

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp

from hw_sim.card import get_profile
from hw_sim.home import sim_home
from hw_sim.identity import Person
from hw_sim.pki import CertKind, TestPki
from hw_sim.pki.ocsp import OcspResponder


def _pki() -> TestPki:
    return TestPki.open(sim_home() / "pki")


def test_http_answer_for_a_revoked_certificate() -> None:
    pki = _pki()
    person_cert = pki.issue(CertKind.AUTH, _person(), pki.holder_key("ocsp-test").public_key())
    pki.revoke(person_cert)
    ca, _ = pki.ocsp_signer(CertKind.AUTH)
    request = ocsp.OCSPRequestBuilder().add_certificate(person_cert, ca, hashes.SHA1()).build()
    with OcspResponder(pki) as responder:
        http = urllib.request.Request(
            responder.url,
            data=request.public_bytes(serialization.Encoding.DER),
            headers={"Content-Type": "application/ocsp-request"},
        )
        with urllib.request.urlopen(http, timeout=5) as reply:
            answer = ocsp.load_der_ocsp_response(reply.read())
    assert answer.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert answer.serial_number == person_cert.serial_number
    public = ca.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(answer.signature, answer.tbs_response_bytes, padding.PKCS1v15(), hashes.SHA256())


def test_responder_refuses_garbage_and_foreign_issuers() -> None:
    with OcspResponder(_pki()) as running:
        bad = ocsp.load_der_ocsp_response(running.respond(b"junk"))
        assert bad.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
        request = (
            ocsp.OCSPRequestBuilder()
            .add_certificate_by_hash(b"\0" * 20, b"\0" * 20, 5, hashes.SHA1())
            .build()
        )
        foreign = ocsp.load_der_ocsp_response(
            running.respond(request.public_bytes(serialization.Encoding.DER))
        )
        assert foreign.response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED
        running.close()
    running.close()  # closing twice is harmless


def _person() -> Person:
    return get_profile("default").person
