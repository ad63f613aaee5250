# SPDX-License-Identifier: Apache-2.0
"""host.card.detection: card, Android or iPhone, told apart by what they answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.card import CredentialKind, MynaCard, PinKind
from host.card.detection import (
    contactless_historical_bytes,
    detect_credential,
    fuzz_contactless_atr,
    kind_from_label,
)
from host.errors import DataFormatError
from host.transport import open_transport
from tests.unit.host.host_fakes import OK, FakeTransport

JPKI_AID = bytes.fromhex("D392F000260100000001")
ANDROID_AID = bytes.fromhex("D392F000260100000021")
IPHONE_AID = bytes.fromhex("D392F000260100000031")


def answering(label: str | None, phone_aid: bytes | None) -> FakeTransport:
    """A fake credential: the JPKI AP with ``label`` (None: no AP) and one phone AID."""

    def card(command: bytes) -> bytes:
        if command[1] == 0xA4 and command[2] == 0x04:
            aid = command[5 : 5 + command[4]]
            if aid == JPKI_AID and label is not None:
                return OK
            return OK if aid == phone_aid else bytes.fromhex("6A82")
        if command[1] == 0xA4:
            return OK
        if command[1] == 0xB0 and label is not None:
            return label.encode("ascii").ljust(32) + OK
        return bytes.fromhex("6D00")

    return FakeTransport(card)


@pytest.mark.parametrize(
    ("profile", "kind", "contactless"),
    [
        ("default", CredentialKind.CARD, False),
        ("android-default", CredentialKind.ANDROID, True),
        ("iphone-default", CredentialKind.IPHONE, True),
        ("iphone-declined", CredentialKind.IPHONE, True),
        ("android-lost", CredentialKind.ANDROID, True),
    ],
)
def test_detects_over_sim(
    sim_home_dir: Path, profile: str, kind: CredentialKind, contactless: bool
) -> None:
    with open_transport(f"sim://{profile}?home={sim_home_dir}&persist=0") as transport:
        detection = MynaCard(transport).detect(atr=transport.atr)
    assert detection.kind is kind
    assert detection.contactless is contactless
    assert (detection.phone_aid is not None) is kind.is_phone


def test_detection_spends_no_try(sim_home_dir: Path) -> None:
    with open_transport(f"sim://android-default?home={sim_home_dir}&persist=0") as transport:
        card = MynaCard(transport)
        before = card.tries_left(PinKind.AUTH)
        card.detect()
        assert card.tries_left(PinKind.AUTH) == before


def test_label_alone_and_aid_alone_decide() -> None:
    with answering("JPKIAPICCTOKEN", None) as transport:
        assert detect_credential(transport).kind is CredentialKind.CARD  # 住基カード
    with answering(None, IPHONE_AID) as transport:
        detection = detect_credential(transport)
    assert detection.kind is CredentialKind.IPHONE
    assert detection.token_label == ""


@pytest.mark.parametrize(
    ("label", "aid"),
    [
        ("JPKIAPGPSETOKEN", IPHONE_AID),  # label and AID disagree
        ("JPKIAPICCTOKEN2", ANDROID_AID),  # a card label on a phone AID
        ("SOMETHINGELSE", None),  # nothing known
        (None, None),  # not JPKI at all
    ],
)
def test_contradictions_and_strangers_are_refused(label: str | None, aid: bytes | None) -> None:
    with answering(label, aid) as transport, pytest.raises(DataFormatError):
        detect_credential(transport)


def test_kind_from_label() -> None:
    assert kind_from_label("JPKIAPGPSETOKEN  \x00") is CredentialKind.ANDROID
    assert kind_from_label("JPKIAPIOSTOKEN") is CredentialKind.IPHONE
    assert kind_from_label("JPKIAPICCTOKEN2") is CredentialKind.CARD
    assert kind_from_label("") is None


def test_contactless_historical_bytes() -> None:
    assert contactless_historical_bytes(bytes.fromhex("3B 80 80 01 01")) == b""
    card_b = bytes.fromhex("3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F")
    assert contactless_historical_bytes(card_b) == bytes.fromhex("00 00 05 E0 B3 81 A1 00")
    assert contactless_historical_bytes(card_b[:-1] + b"\x00") is None  # bad TCK
    assert contactless_historical_bytes(bytes.fromhex("3B E0 00 FF 81 31 FE 45 14")) is None
    assert contactless_historical_bytes(b"") is None


@given(st.binary(max_size=40))
def test_fuzz_target_is_total(data: bytes) -> None:
    fuzz_contactless_atr(data)
