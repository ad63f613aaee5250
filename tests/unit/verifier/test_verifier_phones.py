# SPDX-License-Identifier: Apache-2.0
"""A card and the same person's phone at the verifier: two credentials, two CAs, two CRLs.

Why a private PKI (not the session's simulator home): the test revokes the
phone of a person whose card stays good, which must not leak into other
tests. The world is the test PKI's card CAs and mobile CAs, exported as a
verifier trust folder (``mobile/`` beside the card files), and one person
holding a card and an Android phone; the phone is reported lost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hw_sim.card import get_profile
from hw_sim.pki import CertKind, TestPki, open_mobile_pki
from hw_sim.pki.ocsp import OcspResponder
from tests.issuance_support import service_clock
from tests.verifier_support import MutableClock
from verifier import issuance, readings, resets, sessions
from verifier.codes import Purpose, Reason, ResetOperation, RevocationSource, RevocationStatus
from verifier.config import RevocationConfig, VerifierConfig
from verifier.core import Core, ProofResult, fingerprint
from verifier.credentials import CredentialKind, CredentialPolicy, Operation
from verifier.issuance_codes import IssuanceRefusal
from verifier.issuance_config import IssuanceConfig, MunicipalityRoute
from verifier.pki import TrustStore
from verifier.server import build_core

TERMINAL = "kiosk-01"


@dataclasses.dataclass(frozen=True)
class World:
    """One person's card and (lost) phone, and the trust folder that knows both CAs."""

    trust: Path
    card: bytes
    phone: bytes
    card_key: rsa.RSAPrivateKey
    phone_key: rsa.RSAPrivateKey
    mobile: TestPki


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("phones-world")
    cards, mobile = TestPki.open(root / "pki"), open_mobile_pki(root / "pki")
    person = get_profile("default").person
    card_key, phone_key = cards.holder_key("card-auth"), mobile.holder_key("phone-auth")
    card = cards.issue(CertKind.AUTH, person, card_key.public_key())
    phone = mobile.issue(CertKind.AUTH, person, phone_key.public_key())
    mobile.revoke(phone)  # the phone is reported lost
    trust = root / "trust"
    cards.export_public(trust)
    mobile.export_public(trust / "mobile")
    der = Encoding.DER
    return World(
        trust, card.public_bytes(der), phone.public_bytes(der), card_key, phone_key, mobile
    )


def _core(world: World, tmp_path: Path, **changes: object) -> Iterator[Core]:
    config = VerifierConfig(trust_dir=world.trust, database=f"sqlite:///{tmp_path / 'v.sqlite'}")
    core = build_core(dataclasses.replace(config, **changes), clock=MutableClock())  # type: ignore[arg-type]
    yield core
    core.storage.close()


@pytest.fixture
def core(world: World, tmp_path: Path) -> Iterator[Core]:
    yield from _core(world, tmp_path)


def _sign(key: rsa.RSAPrivateKey, digest: bytes) -> bytes:
    return key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


def _read(core: Core, der: bytes, key: rsa.RSAPrivateKey, **claim: object) -> readings.Reading:
    with core.storage.transaction() as tx:
        session = sessions.open_session(core, tx, TERMINAL, Purpose.CARD_VERIFICATION)
    digest = sessions.challenge_digest(Purpose.CARD_VERIFICATION, TERMINAL, session.nonce)
    checked = core.check_certificate("auth", der, core.now())
    with core.storage.transaction() as tx:
        return readings.verify_card(
            core,
            tx,
            terminal_id=TERMINAL,
            session_id=session.session_id,
            checked=checked,
            signature=_sign(key, digest),
            **claim,  # type: ignore[arg-type]
        )


def test_the_kind_comes_from_the_issuing_ca(world: World) -> None:
    trust = TrustStore.from_folder(world.trust)
    now = MutableClock()()
    assert trust.check("auth", world.card, now).credential is CredentialKind.CARD
    assert trust.check("auth", world.phone, now).credential is CredentialKind.MOBILE
    assert trust.credentials() == {CredentialKind.CARD, CredentialKind.MOBILE}
    # A PKI that gives each platform its own CAs: the folder name says which.
    by_platform = TrustStore(
        {"auth": trust.roots_of("auth", CredentialKind.CARD)},
        {CredentialKind.ANDROID: {"auth": trust.roots_of("auth", CredentialKind.MOBILE)}},
    )
    assert by_platform.check("auth", world.phone, now).credential is CredentialKind.ANDROID
    # Without the mobile folder a phone certificate chains to nothing.
    cards_only = TrustStore({"auth": trust.roots_of("auth", CredentialKind.CARD)})
    untrusted = cards_only.check("auth", world.phone, now)
    assert (untrusted.reason, untrusted.credential) == (Reason.CERTIFICATE_UNTRUSTED, None)


def test_a_lost_phone_is_refused_while_the_same_persons_card_works(
    core: Core, world: World
) -> None:
    card = x509.load_der_x509_certificate(world.card)
    phone = x509.load_der_x509_certificate(world.phone)
    # Same person, two credentials: their own keys, serials and fingerprints.
    assert card.public_key() != phone.public_key()
    assert fingerprint(world.card) != fingerprint(world.phone)
    assert card.serial_number != phone.serial_number
    read_card = _read(core, world.card, world.card_key)
    read_phone = _read(core, world.phone, world.phone_key)
    assert (read_card.reason, read_card.credential) == (Reason.OK, CredentialKind.CARD)
    assert (read_phone.reason, read_phone.credential) == (
        Reason.CERTIFICATE_REVOKED,
        CredentialKind.MOBILE,
    )
    assert read_phone.source is RevocationSource.CRL
    with core.storage.reading() as tx:
        audit = tx.audit_entries()
    assert [(e.reason, e.credential_kind, e.certificate_serial) for e in audit] == [
        ("OK", "card", read_card.serial),
        ("CERTIFICATE_REVOKED", "mobile", read_phone.serial),
    ]


def test_each_crl_answers_only_for_its_own_cas(core: Core, world: World) -> None:
    serial = x509.load_der_x509_certificate(world.phone).serial_number
    now = core.now()
    assert core.revocation.status("mobile-auth", serial, now).status is RevocationStatus.REVOKED
    # The card CAs' CRL never listed the phone, and is not asked about it.
    assert core.revocation.status("auth", serial, now).status is RevocationStatus.GOOD


def test_without_the_mobile_crl_a_phone_is_not_accepted(world: World, tmp_path: Path) -> None:
    config = RevocationConfig(crl_sources={"mobile-auth": (str(tmp_path / "missing.crl"),)})
    for core in _core(world, tmp_path, revocation=config):
        assert _read(core, world.card, world.card_key).reason is Reason.OK
        refused = _read(core, world.phone, world.phone_key)
        assert refused.reason is Reason.REVOCATION_UNKNOWN  # fail closed, card unaffected


def test_the_mobile_cas_answer_ocsp_at_their_own_responder(world: World, tmp_path: Path) -> None:
    with OcspResponder(world.mobile) as responder:
        config = RevocationConfig(ocsp_urls={"mobile-auth": responder.url})
        for core in _core(world, tmp_path, revocation=config):
            refused = _read(core, world.phone, world.phone_key)
            assert (refused.reason, refused.source) == (
                Reason.CERTIFICATE_REVOKED,
                RevocationSource.OCSP,
            )
            card = _read(core, world.card, world.card_key)  # no card responder: the CRL
            assert (card.reason, card.source) == (Reason.OK, RevocationSource.CRL)


def test_a_terminal_claiming_card_for_a_phone_is_recorded_as_the_phone(
    core: Core, world: World, tmp_path: Path
) -> None:
    # A fresh (not lost) phone of the same person; the terminal says "card".
    person = get_profile("default").person
    key = world.mobile.holder_key("phone2-auth")
    der = world.mobile.issue(CertKind.AUTH, person, key.public_key()).public_bytes(Encoding.DER)
    reading = _read(core, der, key, presented=CredentialKind.CARD)
    assert (reading.reason, reading.credential) == (Reason.OK, CredentialKind.MOBILE)
    with core.storage.reading() as tx:
        entry = tx.audit_entries()[-1]
    assert (entry.credential_kind, entry.credential_claim) == ("mobile", "card")


def test_a_phone_cannot_book_a_pin_reset(core: Core, world: World) -> None:
    person = get_profile("default").person
    key = world.mobile.holder_key("phone3-auth")
    der = world.mobile.issue(CertKind.AUTH, person, key.public_key()).public_bytes(Encoding.DER)
    with core.storage.transaction() as tx:
        session = sessions.open_session(core, tx, TERMINAL, Purpose.PIN_RESET)
    digest = sessions.challenge_digest(Purpose.PIN_RESET, TERMINAL, session.nonce)
    checked = core.check_certificate("auth", der, core.now())
    assert checked.accepted  # a good phone certificate...
    wanted = resets.BookingRequest(
        session.session_id,
        ResetOperation.SIGNING_PASSWORD,
        sessions.CardProof(der, _sign(key, digest), presented=CredentialKind.CARD),
        b"\0" * 256,
    )
    with core.storage.transaction() as tx:
        booking = resets.reserve(core, tx, TERMINAL, wanted, checked)
    assert booking.reason is Reason.CREDENTIAL_NOT_ALLOWED  # ...refused by the reset policy
    with core.storage.reading() as tx:
        assert tx.count("reservations") == 0
        entry = tx.audit_entries()[-1]
        session_after = tx.get_session(session.session_id)
    assert (entry.action, entry.reason) == ("RESERVE_RESET", "CREDENTIAL_NOT_ALLOWED")
    assert (entry.credential_kind, entry.credential_claim) == ("mobile", "card")
    assert session_after is not None
    assert session_after.used_us is not None


def test_the_screen_refuses_only_what_the_operation_does_not_take(core: Core) -> None:
    phone = ProofResult(Reason.OK, "AB", credential=CredentialKind.MOBILE)
    assert core.screen(Operation.READING, phone) is phone
    refused = core.screen(Operation.RESET, phone)
    assert (refused.reason, refused.serial_hex) == (Reason.CREDENTIAL_NOT_ALLOWED, "AB")
    revoked = ProofResult(Reason.CERTIFICATE_REVOKED, "AB", credential=CredentialKind.ANDROID)
    assert core.screen(Operation.RESET, revoked).reason is Reason.CREDENTIAL_NOT_ALLOWED
    untrusted = ProofResult(Reason.CERTIFICATE_UNTRUSTED, "AB")  # no CA: kind unknown
    assert core.screen(Operation.RESET, untrusted) is untrusted
    card = ProofResult(Reason.OK, "CD", credential=CredentialKind.CARD)
    assert core.screen(Operation.RESET, card) is card


@pytest.mark.parametrize(
    ("allowed", "outcome"),
    [
        (CredentialPolicy().issuance, (IssuanceRefusal.NONE, Reason.OK)),
        (
            frozenset({CredentialKind.CARD}),
            (IssuanceRefusal.CARD_REJECTED, Reason.CREDENTIAL_NOT_ALLOWED),
        ),
    ],
)
def test_issuance_takes_a_phone_where_its_policy_does(
    world: World, tmp_path: Path, allowed: frozenset[CredentialKind], outcome: tuple[object, ...]
) -> None:
    person = get_profile("default").person
    key = world.mobile.holder_key("phone4-auth")
    der = world.mobile.issue(CertKind.AUTH, person, key.public_key()).public_bytes(Encoding.DER)
    route = MunicipalityRoute(code="131016", address="127.0.0.1:1", plaintext=True)
    centre = IssuanceConfig(municipalities=(route,), hours_clock=service_clock())
    policy = CredentialPolicy(issuance=allowed)
    for core in _core(world, tmp_path, issuance=centre, credentials=policy):
        with core.storage.transaction() as tx:
            opened = issuance.open_session(core, tx, "mfp-0001")
        assert opened.session is not None
        checked = core.check_certificate(issuance.PROOF_KIND, der, core.now())
        signature = _sign(key, issuance.challenge_digest(opened.session.nonce))
        with core.storage.transaction() as tx:
            proved = issuance.prove_card(
                core,
                tx,
                terminal_id="mfp-0001",
                session_id=opened.session.session_id,
                checked=checked,
                signature=signature,
            )
        assert (proved.refusal, proved.reason) == outcome
        with core.storage.reading() as tx:
            entry = tx.audit_entries()[-1]
        assert (entry.action, entry.credential_kind) == ("PROVE_ISSUANCE_CARD", "mobile")


def _damaged(der: bytes, part: bytes, offset: int, value: int) -> bytes:
    start = der.index(part) + offset
    return der[:start] + bytes([value]) + der[start + 1 :]


def test_a_damaged_name_or_key_is_malformed_never_a_crash(world: World) -> None:
    # Found by the verifier_holder_certificate fuzz target: cryptography parses
    # the issuer and the key lazily, and raised out of the check.
    trust = TrustStore.from_folder(world.trust)
    certificate = x509.load_der_x509_certificate(world.phone)
    issuer = certificate.issuer.public_bytes()
    bad_issuer = _damaged(world.phone, issuer, issuer.index(b"\x13"), 0x53)  # application tag
    spki = certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    bad_key = _damaged(world.phone, spki, 8, 0x28)  # RSA OID 1.2.840… made 1.0.840…
    for der in (bad_issuer, bad_key):
        check = trust.check("auth", der, MutableClock()())
        assert (check.reason, check.credential) == (Reason.CERTIFICATE_MALFORMED, None)
