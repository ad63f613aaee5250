# SPDX-License-Identifier: Apache-2.0
"""The driver's key cases, run over every reader path (the transport contract).

The same virtual card answers through ``sim://`` (in-process), ``pcsc://``
(pyscard → pcscd → vpcd → bridge) and ``libnfc://`` (pynfc → libnfc
pn532_uart → pty → PN532 emulator). Each case checks what the driver
returns *and* what the card saw in its own APDU log, so a path that drops,
repeats or reorders APDUs fails.

The phone cases (``test_phone_*``, ``test_iphone_*``, ``test_android_*``)
run the virtual phones over the same three paths: over ``libnfc://`` the
iPhone is reached only through the transport's Type A poll (it answers no
Type B), the Android through Type B. They reuse the ``reader`` fixture, so
they add no daemon or pty start-up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from host import errors
from host.card import (
    CredentialKind,
    KeyKind,
    MynaCard,
    PinKind,
    ReadStrategy,
    summarize_certificate,
)
from host.card.constants import DIGEST_INFO_SHA256_PREFIX
from host.secret import Secret
from host.transport import open_transport
from host.transport.sim import SimTransport
from hw_sim.card import VirtualCard, get_profile
from hw_sim.card.phones import Approval
from hw_sim.readers.stack import PcscRig, Pn532Rig
from tests.integration.reader_stack import PCSC_URL, pcsc_stack, pn532_stack

__all__ = ["pcsc_stack", "pn532_stack"]  # fixtures used by name

DIGEST = hashlib.sha256(b"transfer 150000 JPY to 0123456").digest()
PREHASHED = utils.Prehashed(hashes.SHA256())
Opened = Callable[..., AbstractContextManager[tuple[MynaCard, VirtualCard]]]
BACKENDS = ["sim", "pcsc", "libnfc"]
SELECT_JPKI = bytes.fromhex("00A4040C0AD392F000260100000001")
SELECT_SIGN_KEY = bytes.fromhex("00A4020C02001A")
SELECT_AUTH_KEY = bytes.fromhex("00A4020C020017")
OK = b"\x90\x00"
# UNCONFIRMED status words of the phone model (hw_sim/card/phones.py).
SW_DECLINED = bytes.fromhex("6600")
SW_PENDING = bytes.fromhex("6401")


@pytest.fixture(params=BACKENDS)
def reader(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Opened:
    backend: str = request.param
    if backend == "sim":
        home: Path = tmp_path_factory.getbasetemp() / "contract-sim-home"

        @contextmanager
        def sim(
            profile: str = "default", strategy: ReadStrategy = ReadStrategy.AUTO
        ) -> Iterator[tuple[MynaCard, VirtualCard]]:
            with open_transport(f"sim://{profile}?home={home}&persist=0") as transport:
                assert isinstance(transport, SimTransport)
                yield MynaCard(transport, read_strategy=strategy), transport.virtual_card

        return sim
    if backend == "pcsc":
        stack: PcscRig = request.getfixturevalue("pcsc_stack")

        @contextmanager
        def pcsc(
            profile: str = "default", strategy: ReadStrategy = ReadStrategy.AUTO
        ) -> Iterator[tuple[MynaCard, VirtualCard]]:
            with stack.card(profile) as card, open_transport(PCSC_URL) as transport:
                card.apdu_log.clear()
                yield MynaCard(transport, read_strategy=strategy), card

        return pcsc
    nfc: Pn532Rig = request.getfixturevalue("pn532_stack")

    @contextmanager
    def libnfc(
        profile: str = "default", strategy: ReadStrategy = ReadStrategy.AUTO
    ) -> Iterator[tuple[MynaCard, VirtualCard]]:
        with nfc.card(profile) as card, open_transport(nfc.url) as transport:
            card.apdu_log.clear()
            yield MynaCard(transport, read_strategy=strategy), card

    return libnfc


def verifies_with_data(card: VirtualCard) -> int:
    return sum(
        1 for e in card.apdu_log.entries if e.command[1:2] == b"\x20" and e.command_length > 4
    )


def secret(text: str) -> Secret:
    return Secret.from_text(text)


def test_tries_left_spends_nothing(reader: Opened) -> None:
    with reader() as (card, sim):
        for kind in PinKind:
            assert card.tries_left(kind) == kind.max_tries
            assert card.tries_left(kind) == kind.max_tries
        assert verifies_with_data(sim) == 0


def test_read_card_info(reader: Opened) -> None:
    profile = get_profile("default")
    with reader() as (card, sim):
        info = card.read_card_info(secret(profile.text_pin), include_my_number=True)
        assert info.basic_four.name == profile.person.name
        assert info.address == profile.person.address
        assert info.birth_date == profile.person.birth_date
        assert info.my_number == profile.person.my_number
        assert info.integrity.hashes_ok
        assert verifies_with_data(sim) == 1


def test_auth_certificate_and_signature(reader: Opened) -> None:
    profile = get_profile("default")
    with reader() as (card, sim):
        cert = card.read_certificate(KeyKind.AUTH)
        assert summarize_certificate(cert, KeyKind.AUTH).basic_four is None
        assert verifies_with_data(sim) == 0
        signature = card.sign(KeyKind.AUTH, DIGEST, secret(profile.auth_pin))
        public = cert.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, DIGEST, padding.PKCS1v15(), PREHASHED)


def test_signing_certificate_and_signature(reader: Opened) -> None:
    profile = get_profile("default")
    with reader() as (card, _sim):
        password = secret(profile.sign_password)
        cert = card.read_certificate(KeyKind.SIGN, password)
        summary = summarize_certificate(cert, KeyKind.SIGN)
        assert summary.basic_four is not None
        assert summary.basic_four.name == profile.person.name
        signature = card.sign(KeyKind.SIGN, DIGEST, secret(profile.sign_password))
        public = cert.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, DIGEST, padding.PKCS1v15(), PREHASHED)


@pytest.mark.parametrize("kind", list(PinKind))
def test_wrong_pin_decrements_and_reports(reader: Opened, kind: PinKind) -> None:
    profile = get_profile("default")
    right = {PinKind.AUTH: profile.auth_pin, PinKind.SIGN: profile.sign_password}
    with reader() as (card, sim):
        with pytest.raises(errors.WrongPinError) as info:
            card.verify(kind, secret("ZZZZ9999" if kind is PinKind.SIGN else "0001"))
        assert info.value.tries_left == kind.max_tries - 1
        assert card.tries_left(kind) == kind.max_tries - 1
        assert verifies_with_data(sim) == 1
        card.verify(kind, secret(right.get(kind, profile.text_pin)))
        assert card.tries_left(kind) == kind.max_tries


def test_change_pin_then_verify(reader: Opened) -> None:
    profile = get_profile("default")
    with reader() as (card, _sim):
        card.change_pin(PinKind.AUTH, secret(profile.auth_pin), secret("8642"))
        card.verify(PinKind.AUTH, secret("8642"))
        with pytest.raises(errors.WrongPinError):
            card.verify(PinKind.AUTH, secret(profile.auth_pin))


def test_locked_pin_is_never_sent(reader: Opened) -> None:
    profile = get_profile("sign-locked")
    with reader(profile.name) as (card, sim):
        with pytest.raises(errors.PinBlockedError):
            card.sign(KeyKind.SIGN, DIGEST, secret(profile.sign_password))
        assert verifies_with_data(sim) == 0


def test_token_label_and_ca(reader: Opened) -> None:
    with reader() as (card, _sim):
        assert card.token_label() == "JPKIAPICCTOKEN2"
        ca = card.read_ca_certificate(KeyKind.AUTH)
        card.read_certificate(KeyKind.AUTH).verify_directly_issued_by(ca)


@pytest.mark.parametrize("strategy", [ReadStrategy.AUTO, ReadStrategy.CHUNKED])
def test_read_strategies_agree(reader: Opened, strategy: ReadStrategy) -> None:
    with reader("default", strategy) as (card, sim):
        cert = card.read_certificate(KeyKind.AUTH)
        reads = [e for e in sim.apdu_log.entries if e.command[1:2] == b"\xb0"]
        extended = card.channel.capabilities.extended_length
    size = len(cert.public_bytes(serialization.Encoding.DER))
    if strategy is ReadStrategy.AUTO and extended:
        assert len(reads) == 1
    else:
        assert len(reads) == 1 + -(-(size - 7) // 256)


def test_pins_never_reach_the_logs(reader: Opened, caplog: pytest.LogCaptureFixture) -> None:
    pin = get_profile("default").auth_pin
    caplog.set_level(5)  # TRACE: every APDU, redacted
    with reader() as (card, _sim):
        card.verify(PinKind.AUTH, secret(pin))
        with pytest.raises(errors.WrongPinError) as info:
            card.verify(PinKind.AUTH, secret("9876"))
    text = caplog.text.upper().replace(" ", "")
    assert any("20" in r.getMessage() for r in caplog.records)  # the VERIFYs were traced
    for candidate in (pin, "9876"):
        assert candidate.encode().hex().upper() not in text
    assert "9876" not in str(info.value) + repr(info.value)


def sign_apdu(digest: bytes) -> bytes:
    """COMPUTE DIGITAL SIGNATURE over the SHA-256 DigestInfo (the phone pads, Le 00)."""
    body = DIGEST_INFO_SHA256_PREFIX + digest
    return bytes.fromhex("802A0080") + bytes([len(body)]) + body + b"\x00"


def signs(card: VirtualCard) -> int:
    return sum(1 for e in card.apdu_log.entries if e.command[:2] == b"\x80\x2a")


@pytest.mark.parametrize(
    ("profile", "kind"),
    [("android-default", CredentialKind.ANDROID), ("iphone-default", CredentialKind.IPHONE)],
)
def test_phone_is_detected_and_gives_its_auth_certificate(
    reader: Opened, profile: str, kind: CredentialKind
) -> None:
    phone = get_profile(profile)
    with reader(profile) as (card, sim):
        detection = card.detect()
        assert detection.kind is kind
        if kind is CredentialKind.IPHONE:
            # Type A on every path: the ATR is PC/SC part 3's, from the ATS.
            assert card.channel.transport.atr == sim.atr
            cert = card.read_certificate(KeyKind.AUTH)  # approved on the phone: no PIN
            assert verifies_with_data(sim) == 0
        else:
            with pytest.raises(errors.SecurityStatusError):
                card.read_certificate(KeyKind.AUTH)  # Android: its own PIN first
            cert = card.read_certificate(KeyKind.AUTH, secret(phone.auth_pin))
            assert verifies_with_data(sim) == 1
        cert.verify_directly_issued_by(card.read_ca_certificate(KeyKind.AUTH))


def test_iphone_signs_with_approval_then_declined_and_no_answer(reader: Opened) -> None:
    with reader("iphone-default") as (card, sim):
        transport = card.channel.transport
        auth_cert = card.read_certificate(KeyKind.AUTH)
        assert transport.transmit(SELECT_JPKI) == OK
        assert transport.transmit(SELECT_AUTH_KEY) == OK
        answer = transport.transmit(sign_apdu(DIGEST))
        assert answer[-2:] == OK
        public = auth_cert.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(answer[:-2], DIGEST, padding.PKCS1v15(), PREHASHED)
        assert transport.transmit(SELECT_SIGN_KEY) == OK
        assert len(transport.transmit(sign_apdu(DIGEST))) == 258
        sim.set_approval(Approval.DECLINED)
        assert transport.transmit(sign_apdu(DIGEST)) == SW_DECLINED
        sim.set_approval(Approval.NO_ANSWER)
        assert transport.transmit(sign_apdu(DIGEST)) == SW_PENDING
        assert signs(sim) == 4  # each reached the phone once: nothing resent
        with pytest.raises(errors.CardError):
            card.verify(PinKind.AUTH, secret("1234"))  # no PIN at the terminal
        assert verifies_with_data(sim) == 0  # refused before any PIN left the terminal


def test_android_signs_with_its_password(reader: Opened) -> None:
    phone = get_profile("android-default")
    with reader("android-default") as (card, sim):
        password = secret(phone.sign_password)
        cert = card.read_certificate(KeyKind.SIGN, password)
        signature = card.sign(KeyKind.SIGN, DIGEST, secret(phone.sign_password))
        public = cert.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, DIGEST, padding.PKCS1v15(), PREHASHED)
        with pytest.raises(errors.WrongPinError):
            card.sign(KeyKind.SIGN, DIGEST, secret("WRONG2580"))
        assert verifies_with_data(sim) == 3


def test_phone_pulled_away_mid_command(reader: Opened, request: pytest.FixtureRequest) -> None:
    # The iPhone: on libnfc:// it is the Type A target, the new path.
    with reader("iphone-default") as (card, sim):
        assert card.token_label().startswith("JPKIAP")
        before = len(sim.apdu_log.entries)
        rig: PcscRig | None = None
        if card.channel.transport.scheme == "pcsc":
            # vpcd: the bridge drops the link as the command arrives (as in
            # test_reader_faults); a powered-off card would leave pcscd waiting.
            rig = request.getfixturevalue("pcsc_stack")
            assert rig.bridge is not None
            rig.bridge.fail_next_command()
        else:
            sim.power_off()  # the holder takes the phone away
        with pytest.raises(errors.CardRemovedError):
            card.read_certificate(KeyKind.AUTH)
        with pytest.raises(errors.CardRemovedError):
            card.token_label()  # the transport stays failed; nothing is resent
        assert len(sim.apdu_log.entries) == before
        if rig is not None and rig.bridge is not None:
            rig.wait_present(False)
            rig.bridge.insert()
            rig.wait_present(True)
