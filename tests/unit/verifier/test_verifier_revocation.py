# SPDX-License-Identifier: Apache-2.0
"""Revocation: CRLs from files (verified, refreshed, stale), OCSP over real HTTP, fallback.

The OCSP responder is the test PKI's own (``hw_sim.pki.ocsp``) on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp

from host.card import KeyKind
from hw_sim.card import open_card
from hw_sim.home import sim_home
from hw_sim.pki import CertKind, TestPki
from hw_sim.pki.ocsp import OcspResponder
from tests.verifier_support import card_certificate
from verifier.pki import TrustStore
from verifier.revocation import CrlStore, OcspClient, RevocationChecker

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(autouse=True)
def _clock_of_this_test() -> None:
    # Each test's clock is when it runs, not when the (long, loaded) session
    # collected the module: CRLs made in it carry the real time, and one more
    # than five minutes younger than NOW would be "issued in the future".
    global NOW
    NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def pki() -> TestPki:
    for profile in ("default", "revoked"):
        with open_card(profile, persist=False):
            pass
    return TestPki.open(sim_home() / "pki")


@pytest.fixture(scope="module")
def trust(pki: TestPki) -> TrustStore:
    return TrustStore({k.value: [pki.ca_certificate(k)] for k in CertKind})


@pytest.fixture
def responder(pki: TestPki) -> Iterator[OcspResponder]:
    with OcspResponder(pki) as running:
        yield running


def _serial(profile: str) -> int:
    return x509.load_der_x509_certificate(card_certificate(profile, KeyKind.AUTH)).serial_number


def _write_crl(pki: TestPki, path: Path) -> x509.CertificateRevocationList:
    crl = pki.crl(CertKind.AUTH)
    path.write_bytes(crl.public_bytes(serialization.Encoding.DER))
    return crl


def test_crl_answers_good_and_revoked(pki: TestPki, trust: TrustStore, tmp_path: Path) -> None:
    _write_crl(pki, tmp_path / "auth.crl")
    store = CrlStore(trust, {"auth": (str(tmp_path / "auth.crl"),)}, refresh_seconds=300)
    assert store.lookup("auth", _serial("default"), NOW).status == "GOOD"
    revoked = store.lookup("auth", _serial("revoked"), NOW)
    assert (revoked.status, revoked.source) == ("REVOKED", "CRL")
    assert store.lookup("sign", _serial("default"), NOW).status == "UNKNOWN"  # no CRL at all


def test_a_crl_that_fails_to_verify_is_rejected_and_the_old_one_kept(
    pki: TestPki, trust: TrustStore, tmp_path: Path
) -> None:
    path = tmp_path / "auth.crl"
    good = _write_crl(pki, path)
    store = CrlStore(trust, {"auth": (str(path),)}, refresh_seconds=0)
    assert store.lookup("auth", _serial("revoked"), NOW).status == "REVOKED"
    # A forged CRL (same issuer name, another key) that lists nobody.
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(good.issuer)
        .last_update(NOW)
        .next_update(NOW + dt.timedelta(days=1))
        .sign(forger, hashes.SHA256())
    )
    path.write_bytes(forged.public_bytes(serialization.Encoding.DER))
    assert store.lookup("auth", _serial("revoked"), NOW).status == "REVOKED"
    path.write_bytes(b"not a crl")
    assert store.lookup("auth", _serial("revoked"), NOW).status == "REVOKED"


def test_a_stale_crl_answers_nothing(pki: TestPki, trust: TrustStore, tmp_path: Path) -> None:
    _write_crl(pki, tmp_path / "auth.crl")
    store = CrlStore(trust, {"auth": (str(tmp_path / "auth.crl"),)}, refresh_seconds=300)
    later = NOW + dt.timedelta(days=2)
    assert store.lookup("auth", _serial("default"), later).status == "UNKNOWN"


def test_ocsp_good_revoked_and_cached(trust: TrustStore, responder: OcspResponder) -> None:
    client = OcspClient(trust, {"auth": responder.url}, timeout=5)
    good = client.lookup("auth", _serial("default"), NOW)
    assert (good.status, good.source) == ("GOOD", "OCSP")
    revoked = client.lookup("auth", _serial("revoked"), NOW)
    assert revoked.status == "REVOKED"
    assert revoked.revocation_time is not None
    asked = responder.requests
    assert client.lookup("auth", _serial("default"), NOW) == good
    assert responder.requests == asked  # cached until nextUpdate


def test_ocsp_down_falls_back_to_the_crl(
    pki: TestPki, trust: TrustStore, responder: OcspResponder, tmp_path: Path
) -> None:
    _write_crl(pki, tmp_path / "auth.crl")
    url = responder.url
    responder.close()
    checker = RevocationChecker(
        CrlStore(trust, {"auth": (str(tmp_path / "auth.crl"),)}, refresh_seconds=300),
        OcspClient(trust, {"auth": url}, timeout=2),
    )
    answer = checker.status("auth", _serial("revoked"), NOW)
    assert (answer.status, answer.source) == ("REVOKED", "CRL")


def test_ocsp_response_from_another_key_is_rejected(pki: TestPki, trust: TrustStore) -> None:
    ca, _ = pki.ocsp_signer(CertKind.AUTH)
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def forged_post(url: str, timeout: float, body: bytes) -> bytes:
        request = ocsp.load_der_ocsp_request(body)
        response = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                request.issuer_name_hash,
                request.issuer_key_hash,
                request.serial_number,
                hashes.SHA1(),
                ocsp.OCSPCertStatus.GOOD,
                NOW,
                NOW + dt.timedelta(hours=1),
                None,
                None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.NAME, ca)
            .sign(forger, hashes.SHA256())
        )
        return response.public_bytes(serialization.Encoding.DER)

    client = OcspClient(trust, {"auth": "http://127.0.0.1:1/"}, timeout=1, post=forged_post)
    assert client.lookup("auth", _serial("revoked"), NOW).status == "UNKNOWN"


def test_crl_from_an_http_url(pki: TestPki, trust: TrustStore) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = pki.crl(CertKind.AUTH).public_bytes(serialization.Encoding.DER)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/auth.crl"
        store = CrlStore(trust, {"auth": (url,)}, refresh_seconds=300)
        assert store.lookup("auth", _serial("revoked"), NOW).status == "REVOKED"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_crl_peek_answers_without_io_only_while_nothing_is_due(
    pki: TestPki, trust: TrustStore, tmp_path: Path
) -> None:
    from hw_sim.card import get_profile

    path = tmp_path / "auth.crl"
    fresh = pki.issue(
        CertKind.AUTH, get_profile("default").person, pki.holder_key("peek").public_key()
    )
    crl = _write_crl(pki, path)
    store = CrlStore(trust, {"auth": (str(path),)}, refresh_seconds=300)
    assert store.peek("auth", fresh.serial_number, NOW) is None  # nothing loaded yet
    assert store.lookup("auth", fresh.serial_number, NOW).status == "GOOD"
    assert store.peek("auth", fresh.serial_number, NOW) == store.lookup(
        "auth", fresh.serial_number, NOW
    )
    # Due for a refresh, or past nextUpdate: only lookup (which may download) answers.
    assert store.peek("auth", fresh.serial_number, NOW + dt.timedelta(seconds=300)) is None
    assert crl.next_update_utc is not None
    assert store.peek("auth", fresh.serial_number, crl.next_update_utc) is None
    # A newer CRL revokes it: the remembered answer goes with the old CRL.
    pki.revoke(fresh)
    _write_crl(pki, path)
    store.refresh("auth", NOW)
    assert store.peek("auth", fresh.serial_number, NOW) is None  # forgotten with the old CRL
    revoked = store.lookup("auth", fresh.serial_number, NOW)
    assert (revoked.status, revoked.source) == ("REVOKED", "CRL")
    assert store.peek("auth", fresh.serial_number, NOW) == revoked


def test_ocsp_peek_is_the_cached_answer_only(trust: TrustStore, responder: OcspResponder) -> None:
    checker = RevocationChecker(
        CrlStore(trust, {}, refresh_seconds=300),
        OcspClient(trust, {"auth": responder.url}, timeout=5),
    )
    assert checker.peek("auth", _serial("default"), NOW) is None
    asked = responder.requests
    answer = checker.status("auth", _serial("default"), NOW)
    assert responder.requests == asked + 1
    assert checker.peek("auth", _serial("default"), NOW) == answer
    assert answer.status == "GOOD"
    assert responder.requests == asked + 1  # peeking never asks
