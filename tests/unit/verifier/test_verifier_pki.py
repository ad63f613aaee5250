# SPDX-License-Identifier: Apache-2.0
"""Holder-certificate checks and the basic four items, on the test PKI's certificates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from hw_sim.card import get_profile
from hw_sim.home import sim_home
from hw_sim.pki import CertKind, TestPki
from verifier.errors import ConfigError
from verifier.pki import TrustStore, basic_four

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki.open(sim_home() / "pki")


@pytest.fixture(scope="module")
def trust(pki: TestPki) -> TrustStore:
    return TrustStore({k.value: [pki.ca_certificate(k)] for k in CertKind})


def test_checks_in_order(pki: TestPki, trust: TrustStore) -> None:
    person = get_profile("default").person
    key = pki.holder_key("pki-unit")
    good = pki.issue(CertKind.SIGN, person, key.public_key()).public_bytes(Encoding.DER)
    assert trust.check("sign", good, NOW).reason == "OK"
    assert trust.check("auth", good, NOW).reason == "CERTIFICATE_UNTRUSTED"  # wrong CA kind
    assert trust.check("sign", good, NOW + dt.timedelta(days=4000)).reason == "CERTIFICATE_EXPIRED"
    assert (
        trust.check("sign", good, NOW - dt.timedelta(days=30)).reason == "CERTIFICATE_NOT_YET_VALID"
    )
    assert trust.check("sign", b"\x30\x03junk", NOW).reason == "CERTIFICATE_MALFORMED"
    assert trust.check("sign", b"", NOW).reason == "CERTIFICATE_MALFORMED"
    expired = pki.issue_expired(CertKind.SIGN, person, key.public_key())
    assert trust.check("sign", expired.public_bytes(Encoding.DER), NOW).reason == (
        "CERTIFICATE_EXPIRED"
    )


def test_basic_four_from_the_signing_certificate(pki: TestPki) -> None:
    person = get_profile("rare-kanji").person
    cert = pki.issue(CertKind.SIGN, person, pki.holder_key("pki-unit").public_key())
    four = basic_four(cert)
    assert four is not None
    assert (four.name, four.address) == (person.name, person.address)
    assert four.birth_date.endswith(person.birth_date.strftime("%Y%m%d"))
    assert person.name not in repr(four)
    auth = pki.issue(CertKind.AUTH, person, pki.holder_key("pki-unit").public_key())
    assert basic_four(auth) is None


def test_trust_folder(pki: TestPki, tmp_path: Path) -> None:
    pki.export_public(tmp_path)
    store = TrustStore.from_folder(tmp_path)
    assert store.roots("auth") == (pki.ca_certificate(CertKind.AUTH),)
    (tmp_path / "sign-ca.pem").unlink()
    with pytest.raises(ConfigError):
        TrustStore.from_folder(tmp_path)


def test_the_issuer_check_is_cached_per_certificate_but_validity_is_not(
    pki: TestPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TrustStore({k.value: [pki.ca_certificate(k)] for k in CertKind})
    person = get_profile("default").person
    good = pki.issue(CertKind.SIGN, person, pki.holder_key("pki-cache").public_key())
    der = good.public_bytes(Encoding.DER)
    calls: list[object] = []
    real = TrustStore._issuer

    def counting(self: TrustStore, kind: str, certificate: object) -> object:
        calls.append(certificate)
        return real(self, kind, certificate)  # type: ignore[arg-type]

    monkeypatch.setattr(TrustStore, "_issuer", counting)
    assert store.check("sign", der, NOW).reason == "OK"
    assert store.check("sign", bytes(der), NOW).reason == "OK"
    assert len(calls) == 1
    assert store.check("sign", der, NOW + dt.timedelta(days=4000)).reason == "CERTIFICATE_EXPIRED"
    assert store.check("auth", der, NOW).reason == "CERTIFICATE_UNTRUSTED"  # kinds stay apart
    assert len(calls) == 2


def test_the_certificate_cache_is_bounded_and_keeps_no_junk(
    pki: TestPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    import verifier.pki

    monkeypatch.setattr(verifier.pki, "CACHE_ENTRIES", 2)
    store = TrustStore({k.value: [pki.ca_certificate(k)] for k in CertKind})
    person = get_profile("default").person
    for n in range(3):
        cert = pki.issue(CertKind.SIGN, person, pki.holder_key(f"pki-bound-{n}").public_key())
        assert store.check("sign", cert.public_bytes(Encoding.DER), NOW).reason == "OK"
    assert len(store._cache) == 2
    store.check("sign", b"\x30\x03bad", NOW)
    assert all(entry.reason == "OK" for entry in store._cache.values())
