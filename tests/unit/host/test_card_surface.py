# SPDX-License-Identifier: Apache-2.0
"""host.card.surface through the virtual card: 照合番号 tries, lock-out, bad faces."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from host.card import (
    CodeKind,
    CodeTarget,
    FaceVerdict,
    MynaCard,
    ReadStrategy,
    assess_face,
    decode_photo,
    face_differences,
    files,
    surface,
)
from host.channel import ApduChannel
from host.errors import (
    IntegrityError,
    PinBlockedError,
    PinPolicyError,
    SecurityStatusError,
    WrongPinError,
)
from host.secret import Secret
from host.transport import open_transport
from host.transport.sim import SimTransport
from hw_sim.card.profiles import get_profile
from hw_sim.identity import Sex
from hw_sim.pki import TestPki
from tests.unit.host.surface_cards import variant_transport

PROFILE = get_profile("default")
CODE_B = PROFILE.verification_code_b  # 55010120352285
CODE_A = PROFILE.verification_code_a
WRONG_B = "55010120359999"
TODAY = dt.date(2026, 12, 7)


@pytest.fixture(scope="module")
def issuer(sim_home_dir: Path) -> rsa.RSAPublicKey:
    return TestPki.open(sim_home_dir / "pki").card_data_key().public_key()


def verifies_with_data(sent: list[bytes]) -> int:
    return sum(1 for command in sent if command[1] == 0x20 and len(command) > 5)


def test_genuine_face_through_the_sim(
    sim_url: Callable[[str], str], issuer: rsa.RSAPublicKey
) -> None:
    with open_transport(sim_url("default")) as transport:
        card = MynaCard(transport)
        assert card.code_tries_left(CodeKind.B) == 10
        reading = card.read_card_face(CodeKind.B, Secret.from_text(CODE_B), issuer_key=issuer)
        info = card.read_card_info_with_code_b(Secret.from_text(CODE_B), issuer_key=issuer)
    face = reading.face
    assert (face.birth_date, face.sex, face.expiry) == (
        PROFILE.person.birth_date,
        PROFILE.person.sex.value,
        PROFILE.card_expiry,
    )
    assert reading.signature_verified
    assert info.name == PROFILE.person.name
    assert info.my_number is None
    assert info.integrity.signature_verified
    assert face_differences(face, info.basic_four) == ()
    assert assess_face(reading, today=TODAY) is FaceVerdict.GENUINE
    photo = decode_photo(face.photo)
    assert (photo.source_format, photo.mode) == ("jp2", "L")


@pytest.mark.parametrize("strategy", list(ReadStrategy))
def test_face_reads_on_short_apdu_paths(
    sim_url: Callable[[str], str], issuer: rsa.RSAPublicKey, strategy: ReadStrategy
) -> None:
    url = sim_url("default") + "&extended=0" if strategy is not ReadStrategy.SIZED else None
    with open_transport(url or sim_url("default")) as transport:
        card = MynaCard(transport, read_strategy=strategy)
        reading = card.read_card_face(CodeKind.B, Secret.from_text(CODE_B), issuer_key=issuer)
    assert reading.face.expiry == PROFILE.card_expiry


def test_code_a_opens_the_face_but_not_the_basic_four(
    sim_url: Callable[[str], str], issuer: rsa.RSAPublicKey
) -> None:
    with open_transport(sim_url("default")) as transport:
        card = MynaCard(transport)
        reading = card.read_card_face(CodeKind.A, Secret.from_text(CODE_A), issuer_key=issuer)
        assert reading.signature_verified
        # §3.2: A does not open EF 0002 of the card-info AP.
        channel = ApduChannel(transport)
        surface.verify_code(channel, CodeKind.A, CODE_A.encode(), CodeTarget.TEXT)
        files.select_file(channel, 0x0002)
        with pytest.raises(SecurityStatusError):
            files.read_object(channel)


def test_code_b_does_not_open_the_my_number(sim_url: Callable[[str], str]) -> None:
    with open_transport(sim_url("default")) as transport:
        channel = ApduChannel(transport)
        surface.verify_code(channel, CodeKind.B, CODE_B.encode(), CodeTarget.TEXT)
        files.select_file(channel, 0x0001)  # §3.2: only the PIN or A open the My Number
        with pytest.raises(SecurityStatusError):
            files.read_physical(channel)


def test_wrong_code_b_counts_down_and_locks_out(
    sim_url: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(1)  # everything, wire traffic included
    with open_transport(sim_url("default")) as transport:
        assert isinstance(transport, SimTransport)
        card = MynaCard(transport)
        for expected in range(9, 0, -1):
            with pytest.raises(WrongPinError) as caught:
                card.read_card_face(CodeKind.B, Secret.from_text(WRONG_B))
            assert caught.value.tries_left == expected
            assert card.code_tries_left(CodeKind.B) == expected
        # Each application has its own counter (§5).
        assert card.code_tries_left(CodeKind.B, CodeTarget.TEXT) == 10
        with pytest.raises(PinBlockedError):
            card.read_card_face(CodeKind.B, Secret.from_text(WRONG_B))
        assert card.code_tries_left(CodeKind.B) == 0
        transport.virtual_card.apdu_log.clear()
        with pytest.raises(PinBlockedError, match="not sent"):
            card.read_card_face(CodeKind.B, Secret.from_text(CODE_B))
        after = transport.virtual_card.apdu_log.entries
        # Locked: SELECTs and the empty VERIFY went out, never a VERIFY with data.
        assert [e.command_length for e in after if e.command[1] == 0x20] == [4]
    for secret in (CODE_B, WRONG_B, CODE_B[:8], WRONG_B[-6:]):
        assert secret not in caplog.text
        assert secret.encode().hex() not in caplog.text.replace(" ", "").lower()


def test_impossible_code_sends_nothing(sim_url: Callable[[str], str]) -> None:
    with open_transport(sim_url("default")) as transport:
        card = MynaCard(transport)
        with pytest.raises(PinPolicyError):
            card.read_card_face(CodeKind.B, Secret.from_text("55130120352285"))
        assert card.code_tries_left(CodeKind.B) == 10


def test_forged_face_fails_its_signature(sim_home_dir: Path, issuer: rsa.RSAPublicKey) -> None:
    with variant_transport(sim_home_dir, forged=True) as transport:
        card = MynaCard(transport)
        with pytest.raises(IntegrityError, match="issuer"):
            card.read_card_face(CodeKind.B, Secret.from_text(CODE_B), issuer_key=issuer)
        # Without a trusted key the face reads, but the verdict says so.
        reading = card.read_card_face(CodeKind.B, Secret.from_text(CODE_B))
        assert assess_face(reading, today=TODAY) is FaceVerdict.NOT_CHECKED


def test_expired_card(sim_home_dir: Path, issuer: rsa.RSAPublicKey) -> None:
    expiry = dt.date(2025, 3, 31)
    code = PROFILE.verification_code_b[:6] + "2025" + PROFILE.security_code
    with variant_transport(sim_home_dir, expiry=expiry) as transport:
        card = MynaCard(transport)
        with pytest.raises(WrongPinError):  # 照合番号B holds the expiry year
            card.read_card_face(CodeKind.B, Secret.from_text(CODE_B), issuer_key=issuer)
        reading = card.read_card_face(CodeKind.B, Secret.from_text(code), issuer_key=issuer)
    assert reading.face.expiry == expiry
    assert assess_face(reading, today=TODAY) is FaceVerdict.EXPIRED
    assert assess_face(reading, today=expiry) is FaceVerdict.GENUINE  # valid through the day


def test_face_differing_from_the_text_ap(sim_home_dir: Path, issuer: rsa.RSAPublicKey) -> None:
    with variant_transport(sim_home_dir, face_sex=Sex.FEMALE, extended=False) as transport:
        card = MynaCard(transport)
        reading = card.read_card_face(CodeKind.B, Secret.from_text(CODE_B), issuer_key=issuer)
        info = card.read_card_info_with_code_b(Secret.from_text(CODE_B), issuer_key=issuer)
    differences = face_differences(reading.face, info.basic_four)
    assert differences == ("sex",)
    verdict = assess_face(reading, today=TODAY, differences=differences)
    assert verdict is FaceVerdict.INCONSISTENT


def test_code_b_never_reaches_reprs_or_errors(sim_url: Callable[[str], str]) -> None:
    with open_transport(sim_url("default")) as transport:
        card = MynaCard(transport)
        secret = Secret.from_text(WRONG_B)
        with pytest.raises(WrongPinError) as caught:
            card.read_card_face(CodeKind.B, secret)
        reading = card.read_card_face(CodeKind.B, Secret.from_text(CODE_B))
    for text in (str(caught.value), repr(caught.value), repr(secret), repr(reading)):
        assert WRONG_B not in text
        assert CODE_B not in text
        assert "1980" not in text


def test_one_verify_per_read(sim_home_dir: Path) -> None:
    with variant_transport(sim_home_dir) as transport:
        MynaCard(transport).read_card_face(CodeKind.B, Secret.from_text(CODE_B))
        assert verifies_with_data(transport.sent) == 1
    logging.getLogger(__name__).debug("done")


def test_counter_read_verifies_at_once_and_falls_back_when_the_ef_was_lost(
    sim_url: Callable[[str], str], issuer: rsa.RSAPublicKey
) -> None:
    """``counter_read``: the tries were just read, so VERIFY goes without a second look.

    When the card lost the code EF since (here: another application was
    selected, as after a reset), the VERIFY is refused as no wrong or blocked
    code, no try is spent, and the full select-check-verify path runs.
    """
    code = Secret.from_text(CODE_B)
    with open_transport(sim_url("default")) as transport:
        assert isinstance(transport, SimTransport)
        card, log = MynaCard(transport), transport.virtual_card.apdu_log
        assert card.code_tries_left(CodeKind.B) == 10
        log.clear()
        card.read_card_face(CodeKind.B, code, issuer_key=issuer, counter_read=True)
        # VERIFY, SELECT EF 0002, one extended READ BINARY: the protocol minimum
        assert [e.command[1] for e in log.entries] == [0x20, 0xA4, 0xB0]
        assert card.code_tries_left(CodeKind.B) == 10
        files.select_application(ApduChannel(transport), CodeTarget.TEXT.aid)
        log.clear()
        reading = card.read_card_face(CodeKind.B, code, issuer_key=issuer, counter_read=True)
        sent = [(e.command[1], e.command_length) for e in log.entries]
    assert reading.signature_verified
    # the refused VERIFY, then SELECT AP, SELECT EF, empty VERIFY, VERIFY, SELECT, READ
    assert [ins for ins, _ in sent] == [0x20, 0xA4, 0xA4, 0x20, 0x20, 0xA4, 0xB0]
    assert [length for ins, length in sent if ins == 0x20] == [19, 4, 19]
