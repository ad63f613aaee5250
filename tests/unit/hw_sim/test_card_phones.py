# SPDX-License-Identifier: Apache-2.0
"""hw_sim.card.phones: the virtual Android and iPhone credentials.

Profiles, mobile certificates (separate CAs, revocation of a lost phone),
the phone applet's identifiers and the iPhone approval states.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from hw_sim.card import VirtualCard, get_profile, open_card, profiles
from hw_sim.card.contactless import pcsc_atr
from hw_sim.card.phone_profiles import PHONES
from hw_sim.card.phones import (
    AID_JPKI_ANDROID,
    AID_JPKI_IPHONE,
    Approval,
    DeviceKind,
    phone_contactless,
)
from hw_sim.pki import CaFamily, CertKind, PkiCacheError, TestPki, open_mobile_pki
from hw_sim.pki.ocsp import OcspResponder
from tests.unit.hw_sim.card_helpers import SELECT_JPKI, read_ef, run

SELECT_ANDROID = "00 A4 04 0C 0A " + AID_JPKI_ANDROID.hex(" ")
SELECT_IPHONE = "00 A4 04 0C 0A " + AID_JPKI_IPHONE.hex(" ")
SIGN = "80 2A 00 80 04 01 02 03 04 00"


def phone(home: Path, name: str) -> VirtualCard:
    card = open_card(name, home=home, persist=False)
    card.power_on()
    return card


@pytest.fixture
def android(sim_home_dir: Path) -> Iterator[VirtualCard]:
    with phone(sim_home_dir, "android-default") as card:
        yield card


@pytest.fixture
def iphone(sim_home_dir: Path) -> Iterator[VirtualCard]:
    with phone(sim_home_dir, "iphone-default") as card:
        yield card


def certificate(card: VirtualCard, fid: int) -> x509.Certificate:
    run(card, SELECT_JPKI)
    data = read_ef(card, fid)
    length = int.from_bytes(data[2:4], "big") + 4
    return x509.load_der_x509_certificate(data[:length])


def test_catalogue_lists_phones_with_their_kind() -> None:
    kinds = {p.name: p.device for p in profiles()}
    assert kinds["default"] is DeviceKind.CARD
    assert {n for n, k in kinds.items() if k is DeviceKind.ANDROID} == {
        "android-default",
        "android-lost",
    }
    assert {n for n, k in kinds.items() if k is DeviceKind.IPHONE} >= {
        "iphone-default",
        "iphone-declined",
        "iphone-lost",
    }
    assert get_profile("iphone-default").approval is Approval.APPROVED
    assert get_profile("android-default").approval is None
    assert get_profile("default").contactless is None


def test_phone_atr_is_the_pcsc_type_a_atr_of_its_ats() -> None:
    for name in ("android-default", "iphone-default"):
        profile = get_profile(name)
        contactless = profile.contactless
        assert contactless is not None
        assert contactless.type_a is not None
        assert profile.atr == pcsc_atr(contactless.type_a.historical)
        assert profile.atr[0] == 0x3B
        assert profile.atr[2:4] == b"\x80\x01"
    assert phone_contactless(DeviceKind.ANDROID, "x").type_b is not None
    assert phone_contactless(DeviceKind.IPHONE, "x").type_b is None
    with pytest.raises(ValueError, match="card"):
        phone_contactless(DeviceKind.CARD, "x")


def test_only_iphones_carry_an_approval() -> None:
    base = get_profile("default")
    with pytest.raises(ValueError, match="iPhones only"):
        type(base)(**{**base.__dict__, "approval": Approval.APPROVED})


def test_phone_answers_its_own_aid_and_the_jpki_aid(
    android: VirtualCard, iphone: VirtualCard, card: VirtualCard
) -> None:
    assert run(android, SELECT_ANDROID)[1] == 0x9000
    assert run(android, SELECT_IPHONE)[1] == 0x6A82
    assert run(iphone, SELECT_IPHONE)[1] == 0x9000
    assert run(iphone, SELECT_ANDROID)[1] == 0x6A82
    assert run(card, SELECT_ANDROID)[1] == 0x6A82
    assert run(card, SELECT_IPHONE)[1] == 0x6A82
    for device in (android, iphone):
        assert run(device, SELECT_JPKI)[1] == 0x9000
        assert run(device, "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08")[1] == 0x6A82


@pytest.mark.parametrize(
    ("name", "label"),
    [("android-default", b"JPKIAPGPSETOKEN"), ("iphone-default", b"JPKIAPIOSTOKEN")],
)
def test_token_label(sim_home_dir: Path, name: str, label: bytes) -> None:
    with phone(sim_home_dir, name) as device:
        run(device, SELECT_JPKI)
        assert read_ef(device, 0x0006)[:32] == label.ljust(32)


def test_android_needs_its_own_pin_for_the_auth_certificate_and_key(android: VirtualCard) -> None:
    run(android, SELECT_JPKI)
    run(android, "00 A4 02 0C 02 00 0A")
    assert run(android, "00 B0 00 00 04")[1] == 0x6982
    run(android, "00 A4 02 0C 02 00 17")
    assert run(android, SIGN)[1] == 0x6982
    run(android, "00 A4 02 0C 02 00 18")
    assert run(android, "00 20 00 80 04 31 32 33 34")[1] == 0x63C2  # the card's PIN: wrong
    assert run(android, "00 20 00 80 04" + b"2580".hex())[1] == 0x9000
    run(android, "00 A4 02 0C 02 00 0A")
    data, sw = run(android, "00 B0 00 00 04")
    assert sw == 0x9000
    assert data[:2] == b"\x30\x82"
    run(android, "00 A4 02 0C 02 00 17")
    data, sw = run(android, SIGN)
    assert sw == 0x9000
    assert len(data) == 256


def test_phone_secrets_change_only_on_the_phone(android: VirtualCard) -> None:
    run(android, SELECT_JPKI)
    run(android, "00 A4 02 0C 02 00 18")
    assert run(android, "00 20 00 80 04" + b"2580".hex())[1] == 0x9000
    before = android.state_snapshot()
    assert run(android, "00 24 01 80 04" + b"9999".hex())[1] == 0x6985
    assert android.state_snapshot() == before


@pytest.mark.parametrize(
    ("approval", "sw"),
    [(Approval.APPROVED, 0x9000), (Approval.DECLINED, 0x6600), (Approval.NO_ANSWER, 0x6401)],
)
def test_iphone_signing_follows_the_approval(
    iphone: VirtualCard, approval: Approval, sw: int
) -> None:
    iphone.set_approval(approval)
    assert iphone.approval is approval
    run(iphone, SELECT_JPKI)
    run(iphone, "00 A4 02 0C 02 00 1A")
    data, got = run(iphone, SIGN)
    assert got == sw
    assert len(data) == (256 if sw == 0x9000 else 0)
    run(iphone, "00 A4 02 0C 02 00 01")  # the signing certificate: same gate
    assert run(iphone, "00 B0 00 00 04")[1] == sw
    run(iphone, "00 A4 02 0C 02 00 1B")
    assert run(iphone, "00 20 00 80")[1] == sw  # empty VERIFY reports the approval


def test_iphone_takes_no_pin_at_the_terminal(iphone: VirtualCard) -> None:
    run(iphone, SELECT_JPKI)
    run(iphone, "00 A4 02 0C 02 00 18")
    before = iphone.state_snapshot()
    assert run(iphone, "00 20 00 80 04" + b"0000".hex())[1] == 0x6985
    assert iphone.state_snapshot() == before  # no try spent, nothing verified


def test_declined_profile_and_approval_survive_power_cycles(sim_home_dir: Path) -> None:
    with phone(sim_home_dir, "iphone-declined") as device:
        assert device.approval is Approval.DECLINED
        device.set_approval(Approval.APPROVED)
        device.power_off()
        device.power_on()
        assert device.approval is Approval.APPROVED


def test_only_an_iphone_takes_an_approval(android: VirtualCard, card: VirtualCard) -> None:
    for device in (android, card):
        with pytest.raises(ValueError, match="iPhone"):
            device.set_approval(Approval.APPROVED)


def test_phone_certificates_come_from_the_mobile_cas(
    sim_home_dir: Path, android: VirtualCard, card: VirtualCard
) -> None:
    mobile = open_mobile_pki(sim_home_dir / "pki")
    cards = TestPki.open(sim_home_dir / "pki")
    assert mobile.family is CaFamily.MOBILE
    assert cards.family is CaFamily.CARD
    for kind, fid in ((CertKind.AUTH, 0x000B), (CertKind.SIGN, 0x0002)):
        assert mobile.ca_certificate(kind).subject != cards.ca_certificate(kind).subject
        assert certificate(android, fid) == mobile.ca_certificate(kind)
        assert certificate(card, fid) == cards.ca_certificate(kind)
    run(android, "00 A4 02 0C 02 00 18")
    run(android, "00 20 00 80 04" + b"2580".hex())
    holder = certificate(android, 0x000A)
    holder.verify_directly_issued_by(mobile.ca_certificate(CertKind.AUTH))
    assert "smartphone" in holder.issuer.rfc4514_string()
    points = holder.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert points[0].full_name is not None
    assert points[0].full_name[0].value.endswith("/mobile-auth.crl")
    assert cards.is_revoked(holder) is False  # another family's CA: not on its lists


def test_a_lost_phone_is_revoked_on_the_mobile_crl(sim_home_dir: Path) -> None:
    with phone(sim_home_dir, "android-lost") as device:
        run(device, SELECT_JPKI)
        run(device, "00 A4 02 0C 02 00 18")
        assert run(device, "00 20 00 80 04" + b"1470".hex())[1] == 0x9000
        holder = certificate(device, 0x000A)
    mobile = open_mobile_pki(sim_home_dir / "pki")
    assert mobile.is_revoked(holder)
    crl = mobile.crl(CertKind.AUTH)
    assert crl.get_revoked_certificate_by_serial_number(holder.serial_number) is not None
    assert "smartphone" in crl.issuer.rfc4514_string()
    default_holder = TestPki.open(sim_home_dir / "pki").crl(CertKind.AUTH)
    assert default_holder.get_revoked_certificate_by_serial_number(holder.serial_number) is None


def test_families_do_not_mix(tmp_path: Path) -> None:
    TestPki.open(tmp_path / "pki")
    with pytest.raises(PkiCacheError, match="family"):
        TestPki.open(tmp_path / "pki", family=CaFamily.MOBILE)


def test_ocsp_answers_revoked_for_a_lost_iphone(sim_home_dir: Path) -> None:
    with phone(sim_home_dir, "iphone-lost") as device:  # approved: reads need no PIN
        holder = certificate(device, 0x000A)
    mobile = open_mobile_pki(sim_home_dir / "pki")
    ca, _ = mobile.ocsp_signer(CertKind.AUTH)
    request = ocsp.OCSPRequestBuilder().add_certificate(holder, ca, hashes.SHA1()).build()
    with OcspResponder(mobile) as responder:
        http = urllib.request.Request(
            responder.url,
            data=request.public_bytes(serialization.Encoding.DER),
            headers={"Content-Type": "application/ocsp-request"},
        )
        with urllib.request.urlopen(http, timeout=5) as reply:
            answer = ocsp.load_der_ocsp_response(reply.read())
    assert answer.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert answer.serial_number == holder.serial_number


def test_phone_secrets_stay_out_of_reprs() -> None:
    for name in ("android-default", "iphone-default"):
        profile = get_profile(name)
        shown = repr(profile) + "".join(repr(spec) for spec in PHONES)
        assert profile.auth_pin not in shown.replace(profile.person.my_number, "")
        assert profile.sign_password not in shown
