# SPDX-License-Identifier: Apache-2.0
"""host.card.MynaCard against the real virtual card, for every sim profile.

The layer below the driver is the transport, and ``sim://`` is the project's
card: these tests drive the simulator's APDU engine (hw_sim.card) exactly as
a reader would, and check the card's own APDU log to prove what was, and was
not, sent.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from hypothesis import given, settings
from hypothesis import strategies as st

from host import errors
from host.card import KeyKind, MynaCard, PinKind, ReadStrategy, summarize_certificate
from host.secret import Secret
from host.transport import open_transport
from host.transport.sim import SimTransport, sim_trust_dir
from hw_sim.card import CardProfile, profiles
from hw_sim.card.phones import DeviceKind
from tests.unit.host.host_fakes import FakeTransport

# Phones have their own rules (tests/unit/hw_sim/test_card_phones.py); here: cards.
PROFILES = [p for p in profiles() if p.device is DeviceKind.CARD]
IDS = [p.name for p in PROFILES]
DIGEST = hashlib.sha256(b"transfer 150000 JPY to 0123456").digest()

SimCard = Callable[..., AbstractContextManager[tuple[MynaCard, SimTransport]]]
PREHASHED = utils.Prehashed(hashes.SHA256())


@pytest.fixture
def sim_card(sim_url: Callable[[str], str]) -> SimCard:
    @contextmanager
    def opened(
        profile: str = "default", strategy: ReadStrategy = ReadStrategy.AUTO
    ) -> Iterator[tuple[MynaCard, SimTransport]]:
        with open_transport(sim_url(profile)) as transport:
            assert isinstance(transport, SimTransport)
            yield MynaCard(transport, read_strategy=strategy), transport

    return opened


def full(profile: CardProfile, kind: PinKind) -> int:
    left = {
        PinKind.AUTH: profile.auth_tries_left,
        PinKind.SIGN: profile.sign_tries_left,
        PinKind.TEXT: profile.text_tries_left,
    }[kind]
    return kind.max_tries if left is None else left


def pin_of(profile: CardProfile, kind: PinKind) -> Secret:
    text = {
        PinKind.AUTH: profile.auth_pin,
        PinKind.SIGN: profile.sign_password,
        PinKind.TEXT: profile.text_pin,
    }[kind]
    return Secret.from_text(text)


def wrong_pin(kind: PinKind) -> Secret:
    return Secret.from_text("ZZZZ9999" if kind is PinKind.SIGN else "0001")


def verifies_with_data(transport: SimTransport) -> int:
    return sum(
        1
        for e in transport.virtual_card.apdu_log.entries
        if e.command[1:2] == b"\x20" and e.command_length > 4
    )


def issuer_key(url: str) -> rsa.RSAPublicKey:
    pem = (sim_trust_dir(url) / "card-data-issuer.pub.pem").read_bytes()
    key = serialization.load_pem_public_key(pem)
    assert isinstance(key, rsa.RSAPublicKey)
    return key


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
def test_tries_left_spends_nothing(sim_card: SimCard, profile: CardProfile) -> None:
    with sim_card(profile.name) as (card, transport):
        for kind in PinKind:
            first = card.tries_left(kind)
            assert first == full(profile, kind)
            assert card.tries_left(kind) == first
        assert verifies_with_data(transport) == 0


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
def test_read_card_info(
    sim_card: SimCard, sim_url: Callable[[str], str], profile: CardProfile
) -> None:
    key = issuer_key(sim_url(profile.name))
    with sim_card(profile.name) as (card, transport):
        info = card.read_card_info(
            pin_of(profile, PinKind.TEXT), include_my_number=True, issuer_key=key
        )
        person = profile.person
        assert info.basic_four.name == person.name
        assert info.address == person.address
        assert info.birth_date == person.birth_date
        assert info.sex == person.sex.value
        assert info.my_number == person.my_number
        assert info.integrity.hashes_ok
        assert info.integrity.my_number_checked
        assert info.integrity.signature_verified
        assert verifies_with_data(transport) == 1  # one PIN verification


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
def test_auth_certificate_and_signature(sim_card: SimCard, profile: CardProfile) -> None:
    with sim_card(profile.name) as (card, transport):
        cert = card.read_certificate(KeyKind.AUTH)
        summary = summarize_certificate(cert, KeyKind.AUTH)
        assert summary.basic_four is None
        assert verifies_with_data(transport) == 0  # no PIN for the auth cert
        signature = card.sign(KeyKind.AUTH, DIGEST, pin_of(profile, PinKind.AUTH))
        public = cert.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, DIGEST, padding.PKCS1v15(), PREHASHED)
        assert card.tries_left(PinKind.AUTH) == PinKind.AUTH.max_tries  # reset by success


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
def test_signing_certificate_and_signature(sim_card: SimCard, profile: CardProfile) -> None:
    password = pin_of(profile, PinKind.SIGN)
    with sim_card(profile.name) as (card, transport):
        if full(profile, PinKind.SIGN) == 0:
            with pytest.raises(errors.PinBlockedError):
                card.read_certificate(KeyKind.SIGN, password)
            assert verifies_with_data(transport) == 0
            return
        if not profile.has_sign_certificate:
            with pytest.raises(errors.DataFormatError, match="empty"):
                card.read_certificate(KeyKind.SIGN, password)
            with pytest.raises(errors.ConditionsNotSatisfiedError):
                card.sign(KeyKind.SIGN, DIGEST, password)
            return
        cert = card.read_certificate(KeyKind.SIGN, password)
        summary = summarize_certificate(cert, KeyKind.SIGN)
        assert summary.basic_four is not None
        assert summary.basic_four.name == profile.person.name
        assert summary.basic_four.birth_date == profile.person.birth_date
        assert summary.basic_four.address == profile.person.address
        assert summary.basic_four.sex == profile.person.sex.value
        signature = card.sign(KeyKind.SIGN, DIGEST, password)
        public = cert.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, DIGEST, padding.PKCS1v15(), PREHASHED)


def test_sign_certificate_needs_the_password(sim_card: SimCard) -> None:
    with sim_card() as (card, transport):
        before = len(transport.virtual_card.apdu_log)
        with pytest.raises(ValueError, match="signing password"):
            card.read_certificate(KeyKind.SIGN)
        assert len(transport.virtual_card.apdu_log) == before
        # and the card itself refuses the file without it
        from host.card import files

        files.select_application(card.channel, KeyKind.SIGN.pin.aid)
        files.select_file(card.channel, KeyKind.SIGN.cert_fid)
        with pytest.raises(errors.SecurityStatusError):
            files.read_object(card.channel)


def test_lower_case_signing_password_is_upper_cased(sim_card: SimCard) -> None:
    with sim_card() as (card, _transport):
        card.verify(PinKind.SIGN, Secret.from_text("abcd1234"))


@pytest.mark.parametrize("kind", list(PinKind))
def test_wrong_pin_decrements_and_reports(sim_card: SimCard, kind: PinKind) -> None:
    profile = PROFILES[0]
    with sim_card(profile.name) as (card, _transport):
        with pytest.raises(errors.WrongPinError) as info:
            card.verify(kind, wrong_pin(kind))
        assert info.value.tries_left == kind.max_tries - 1
        assert card.tries_left(kind) == kind.max_tries - 1
        card.verify(kind, pin_of(profile, kind))
        assert card.tries_left(kind) == kind.max_tries


@pytest.mark.parametrize("kind", list(PinKind))
def test_locked_pin_is_never_sent(sim_card: SimCard, kind: PinKind) -> None:
    profile = PROFILES[0]
    with sim_card(profile.name) as (card, transport):
        for _ in range(kind.max_tries - 1):
            with pytest.raises(errors.WrongPinError):
                card.verify(kind, wrong_pin(kind))
        with pytest.raises(errors.PinBlockedError):
            card.verify(kind, wrong_pin(kind))  # the try that blocks it
        assert card.tries_left(kind) == 0
        sent = verifies_with_data(transport)
        assert sent == kind.max_tries
        with pytest.raises(errors.PinBlockedError) as info:
            card.verify(kind, pin_of(profile, kind))
        assert "not sent" in str(info.value)
        assert verifies_with_data(transport) == sent


def test_locked_profile_refuses_sign(sim_card: SimCard) -> None:
    profile = next(p for p in PROFILES if p.sign_tries_left == 0)
    with sim_card(profile.name) as (card, transport):
        with pytest.raises(errors.PinBlockedError):
            card.sign(KeyKind.SIGN, DIGEST, pin_of(profile, PinKind.SIGN))
        with pytest.raises(errors.PinBlockedError):
            card.change_pin(
                PinKind.SIGN, pin_of(profile, PinKind.SIGN), Secret.from_text("NEW12345")
            )
        assert verifies_with_data(transport) == 0


@pytest.mark.parametrize(
    ("kind", "new"), [(PinKind.AUTH, "8642"), (PinKind.SIGN, "newpass99"), (PinKind.TEXT, "1470")]
)
def test_change_pin_then_verify(sim_card: SimCard, kind: PinKind, new: str) -> None:
    profile = PROFILES[0]
    with sim_card(profile.name) as (card, _transport):
        card.change_pin(kind, pin_of(profile, kind), Secret.from_text(new))
        card.verify(kind, Secret.from_text(new))
        with pytest.raises(errors.WrongPinError):
            card.verify(kind, pin_of(profile, kind))
        card.verify(kind, Secret.from_text(new))  # counter reset again


POLICY_BREAKERS: list[tuple[str, Callable[[MynaCard], object]]] = [
    ("verify", lambda c: c.verify(PinKind.AUTH, Secret.from_text("12345"))),
    ("verify-sign", lambda c: c.verify(PinKind.SIGN, Secret.from_text("AB-12"))),
    (
        "change-current",
        lambda c: c.change_pin(PinKind.AUTH, Secret.from_text("12a4"), Secret.from_text("5678")),
    ),
    (
        "change-new",
        lambda c: c.change_pin(PinKind.AUTH, Secret.from_text("1234"), Secret.from_text("567")),
    ),
    (
        "change-new-sign",
        lambda c: c.change_pin(
            PinKind.SIGN, Secret.from_text("ABCD1234"), Secret.from_text("ONLYLETTERS")
        ),
    ),
    ("card-info", lambda c: c.read_card_info(Secret.from_text("abcd"))),
    ("sign", lambda c: c.sign(KeyKind.AUTH, DIGEST, Secret.from_text("1"))),
    ("sign-cert", lambda c: c.read_certificate(KeyKind.SIGN, Secret.from_text("SHORT"))),
]


@pytest.mark.parametrize(("name", "action"), POLICY_BREAKERS, ids=[n for n, _ in POLICY_BREAKERS])
def test_policy_violations_send_nothing(
    sim_card: SimCard, name: str, action: Callable[[MynaCard], object]
) -> None:
    with sim_card() as (card, transport):
        before = len(transport.virtual_card.apdu_log)
        with pytest.raises(errors.PinPolicyError):
            action(card)
        assert len(transport.virtual_card.apdu_log) == before, name


def test_sign_rejects_a_wrong_digest_length_before_anything(sim_card: SimCard) -> None:
    with sim_card() as (card, transport):
        before = len(transport.virtual_card.apdu_log)
        with pytest.raises(ValueError, match="32-byte"):
            card.sign(KeyKind.AUTH, b"\x00" * 20, Secret.from_text("1234"))
        assert len(transport.virtual_card.apdu_log) == before


def test_token_label(sim_card: SimCard) -> None:
    with sim_card() as (card, _transport):
        assert card.token_label() == "JPKIAPICCTOKEN2"


@pytest.mark.parametrize("kind", list(KeyKind))
def test_ca_certificate(sim_card: SimCard, kind: KeyKind) -> None:
    with sim_card() as (card, _transport):
        ca = card.read_ca_certificate(kind)
        password = None if kind is KeyKind.AUTH else Secret.from_text("ABCD1234")
        holder = card.read_certificate(kind, password)
    assert holder.issuer == ca.subject
    holder.verify_directly_issued_by(ca)


def test_read_strategies_agree_and_count_apdus(sim_card: SimCard) -> None:
    certs = {}
    reads = {}
    for strategy in (ReadStrategy.EXTENDED, ReadStrategy.CHUNKED):
        with sim_card("default", strategy) as (card, transport):
            log = transport.virtual_card.apdu_log
            log.clear()
            certs[strategy] = card.read_certificate(KeyKind.AUTH)
            reads[strategy] = sum(1 for e in log.entries if e.command[1:2] == b"\xb0")
    assert certs[ReadStrategy.EXTENDED] == certs[ReadStrategy.CHUNKED]
    size = len(certs[ReadStrategy.EXTENDED].public_bytes(serialization.Encoding.DER))
    assert reads[ReadStrategy.EXTENDED] == 1
    assert reads[ReadStrategy.CHUNKED] == 1 + -(-(size - 7) // 256)


def test_chunked_card_info_matches(sim_card: SimCard) -> None:
    profile = next(p for p in PROFILES if p.name == "long-address")
    with sim_card(profile.name, ReadStrategy.CHUNKED) as (card, _transport):
        info = card.read_card_info(pin_of(profile, PinKind.TEXT), include_my_number=True)
    assert info.address == profile.person.address
    assert info.my_number == profile.person.my_number
    assert not info.integrity.signature_verified


def test_accepts_a_channel(sim_card: SimCard) -> None:
    with sim_card() as (card, _transport):
        again = MynaCard(card.channel)
        assert again.channel is card.channel
        assert again.read_strategy is ReadStrategy.AUTO
        assert "MynaCard" in repr(again)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=12), st.sampled_from(list(ReadStrategy)))
def test_fuzz_garbage_card_only_typed_errors(answers: list[bytes], strategy: ReadStrategy) -> None:
    actions: list[Callable[[MynaCard], object]] = [
        lambda c: c.tries_left(PinKind.AUTH),
        lambda c: c.verify(PinKind.SIGN, Secret.from_text("ABCD1234")),
        lambda c: c.read_certificate(KeyKind.AUTH),
        lambda c: c.read_card_info(Secret.from_text("1234"), include_my_number=True),
        lambda c: c.sign(KeyKind.AUTH, DIGEST, Secret.from_text("1234")),
        lambda c: c.change_pin(PinKind.TEXT, Secret.from_text("1234"), Secret.from_text("4321")),
        lambda c: c.token_label(),
    ]
    for action in actions:
        queue = list(answers)

        def card(_command: bytes, q: list[bytes] = queue) -> bytes:
            return q.pop(0) if q else b"\x90\x00"

        transport = FakeTransport(card)
        with transport, contextlib.suppress(errors.MynaEdgeError):
            action(MynaCard(transport, read_strategy=strategy))


@pytest.mark.parametrize(("profile", "signing"), [("default", True), ("minor", False)])
def test_certificate_presence_is_read_without_a_pin(
    sim_card: SimCard, profile: str, signing: bool
) -> None:
    # EF 0008 (§3.1): a holder under 15 has no signing certificate, and the
    # host learns it with SELECTs and one READ BINARY: no VERIFY, no try spent.
    with sim_card(profile) as (card, transport):
        before = {kind: card.tries_left(kind) for kind in PinKind}
        mark = len(transport.virtual_card.apdu_log)
        assert card.has_certificate(KeyKind.SIGN) is signing
        assert card.has_certificate(KeyKind.AUTH) is True
        sent = transport.virtual_card.apdu_log.entries[mark:]
        # SELECT AP, SELECT EF, READ; then the AP is still selected: SELECT EF, READ
        assert [e.command[1] for e in sent] == [0xA4, 0xA4, 0xB0, 0xA4, 0xB0]
        assert [e.command[2] for e in sent if e.command[1] == 0xA4] == [0x04, 0x02, 0x02]
        assert {kind: card.tries_left(kind) for kind in PinKind} == before
