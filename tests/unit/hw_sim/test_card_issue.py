# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.card.issue`` and the card cache in ``hw_sim.card.factory``.

Tests that change files get a private simulator folder with a copy of the
shared PKI, so no RSA key is generated twice.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509

from hw_sim.card import get_profile, open_card
from hw_sim.card.filesystem import PinEf
from hw_sim.card.issue import build_card, card_serial_number, pin_seeds
from hw_sim.pki import CertKind, TestPki
from tests.unit.hw_sim.card_helpers import SELECT_JPKI, run, with_shared_pki


@pytest.fixture
def private_home(sim_home_dir: Path, tmp_path: Path) -> Path:
    return with_shared_pki(sim_home_dir, tmp_path)


def auth_certificate(profile: str, home: Path) -> x509.Certificate:
    with open_card(profile, home=home, persist=False) as card:
        card.power_on()
        run(card, SELECT_JPKI)
        run(card, "00 A4 02 0C 02 00 0A")
        content, sw = run(card, "00 B0 00 00 00 00 00")
        assert sw == 0x9000
    return x509.load_der_x509_certificate(content[: int.from_bytes(content[2:4], "big") + 4])


def test_certificates_are_cached(sim_home_dir: Path) -> None:
    first = auth_certificate("default", sim_home_dir)
    assert (sim_home_dir / "cards" / "default" / "auth-cert.der").is_file()
    assert auth_certificate("default", sim_home_dir).serial_number == first.serial_number


def test_damaged_cache_is_reissued(private_home: Path) -> None:
    first = auth_certificate("default", private_home)
    (private_home / "cards" / "default" / "auth-cert.der").write_bytes(b"\x30\x82broken")
    second = auth_certificate("default", private_home)
    assert second.serial_number != first.serial_number
    second.verify_directly_issued_by(
        TestPki.open(private_home / "pki").ca_certificate(CertKind.AUTH)
    )


def test_revoked_profile(sim_home_dir: Path) -> None:
    pki = TestPki.open(sim_home_dir / "pki")
    certificate = auth_certificate("revoked", sim_home_dir)
    assert pki.is_revoked(certificate)
    sign = x509.load_der_x509_certificate(
        (sim_home_dir / "cards" / "revoked" / "sign-cert.der").read_bytes()
    )
    assert pki.is_revoked(sign)
    assert not pki.is_revoked(auth_certificate("default", sim_home_dir))


def test_expired_profile(sim_home_dir: Path) -> None:
    certificate = auth_certificate("expired", sim_home_dir)
    assert certificate.not_valid_after_utc < dt.datetime.now(dt.UTC)
    assert auth_certificate("default", sim_home_dir).not_valid_after_utc > dt.datetime.now(dt.UTC)


def test_minor_has_no_signing_certificate_file(sim_home_dir: Path) -> None:
    auth_certificate("minor", sim_home_dir)
    assert not (sim_home_dir / "cards" / "minor" / "sign-cert.der").exists()


def test_pin_seeds_cover_every_pin_object(sim_home_dir: Path, tmp_path: Path) -> None:
    profile = get_profile("default")
    image, seeds = build_card(profile, TestPki.open(sim_home_dir / "pki"), tmp_path / "card")
    pin_objects = {
        (application.aid, fid)
        for application in image.applications
        for fid, ef in application.files.items()
        if isinstance(ef, PinEf)
    }
    assert pin_objects == set(seeds) == set(pin_seeds(profile))
    for seed in seeds.values():
        assert seed.policy.max_tries >= seed.tries_left


def test_card_serial_number() -> None:
    serial = card_serial_number(get_profile("default"))
    assert len(serial) == 16
    assert serial.isdigit()
    assert serial == card_serial_number(get_profile("default"))
    assert serial != card_serial_number(get_profile("minor"))


def test_other_atr(sim_home_dir: Path) -> None:
    with open_card("default", home=sim_home_dir, persist=False) as card:
        assert card.atr == bytes.fromhex("3B E0 00 FF 81 31 FE 45 14")
        assert card.power_on() == card.atr
