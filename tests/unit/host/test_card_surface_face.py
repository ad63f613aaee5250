# SPDX-License-Identifier: Apache-2.0
"""host.card.surface_face: parse the card face, check its signature, compare with the text AP.

Faces are built with the simulator's own builder (``hw_sim.card.surface_ap``)
so host and simulator are held to one contract, then altered byte by byte
for the forged cases.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host.card.basic_four import BasicFour
from host.card.surface_face import (
    CardFace,
    check_face_signature,
    face_differences,
    parse_card_face,
)
from host.errors import DataFormatError, IntegrityError, ProtocolError
from hw_sim.card.cv_cert import public_key_blob
from hw_sim.card.profiles import get_profile
from hw_sim.card.surface_ap import SurfaceContent, card_face
from hw_sim.identity import Sex
from hw_sim.pki import TestPki

_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def keys(sim_home_dir: Path) -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """(card-data issuer key, surface AP key, a forger's key)."""
    pki = TestPki.open(sim_home_dir / "pki")
    return pki.card_data_key(), pki.holder_key("t21-surface-ap"), pki.holder_key("t21-forger")


def build(
    keys: tuple[rsa.RSAPrivateKey, ...],
    *,
    signer: rsa.RSAPrivateKey | None = None,
    expiry: dt.date = dt.date(2035, 1, 1),
    **person_changes: object,
) -> bytes:
    profile = get_profile("default")
    person = dataclasses.replace(profile.person, **person_changes)  # type: ignore[arg-type]
    content = SurfaceContent(person, expiry, "2285", "SERIAL-T21", signer or keys[0], keys[1])
    return card_face(content, public_key_blob(keys[1].public_key())) + b"\xff" * 40


def test_genuine_face_parses_and_verifies(keys: tuple[rsa.RSAPrivateKey, ...]) -> None:
    face = parse_card_face(build(keys))
    assert face.birth_date == dt.date(1980, 1, 1)
    assert face.sex == "1"
    assert face.expiry == dt.date(2035, 1, 1)
    assert face.photo.startswith(b"\x00\x00\x00\x0cjP  ")  # JPEG 2000 from the simulator
    assert face.name_image.startswith(b"\x89PNG")
    check_face_signature(face, keys[0].public_key())
    assert repr(face) == "CardFace(<redacted>)"
    assert "1980" not in str(face)


def test_face_signed_by_another_key_is_refused(keys: tuple[rsa.RSAPrivateKey, ...]) -> None:
    face = parse_card_face(build(keys, signer=keys[2]))
    with pytest.raises(IntegrityError, match=r"not signed by the trusted issuer|does not match"):
        check_face_signature(face, keys[0].public_key())


@pytest.mark.parametrize("marker", [b"\xdf\x22\x08", b"\xdf\x27"])
def test_altered_signed_item_is_refused(keys: tuple[rsa.RSAPrivateKey, ...], marker: bytes) -> None:
    raw = bytearray(build(keys))
    position = raw.index(marker) + len(marker) + 4  # a byte inside the value
    raw[position] ^= 0x01
    try:
        face = parse_card_face(bytes(raw))
    except DataFormatError:
        return  # a birth date that no longer parses is refused earlier: also fine
    with pytest.raises(IntegrityError):
        check_face_signature(face, keys[0].public_key())


def test_expiry_is_outside_the_signature(keys: tuple[rsa.RSAPrivateKey, ...]) -> None:
    # DF29 is not covered (§3.3): altering it keeps the signature valid. The
    # counter flow relies on 照合番号B (which holds the expiry year) instead.
    raw = build(keys).replace(b"\xdf\x29\x0820350101", b"\xdf\x29\x0820250101")
    face = parse_card_face(raw)
    check_face_signature(face, keys[0].public_key())
    assert face.expiry == dt.date(2025, 1, 1)


def test_wrong_offsets_and_tags_are_refused(keys: tuple[rsa.RSAPrivateKey, ...]) -> None:
    raw = bytearray(build(keys))
    index = raw.index(b"\xdf\x21") + 3
    raw[index + 1] ^= 0x01  # DF21's first offset no longer points at DF22
    with pytest.raises(DataFormatError, match="DF21 offset"):
        parse_card_face(bytes(raw))
    with pytest.raises(DataFormatError, match="not FF20"):
        parse_card_face(b"\xff\x30\x00")
    with pytest.raises(DataFormatError, match="lacks"):
        parse_card_face(b"\xff\x20\x03\xdf\x21\x00")


def test_differences_with_the_text_ap(keys: tuple[rsa.RSAPrivateKey, ...]) -> None:
    face = parse_card_face(build(keys))
    same = BasicFour("山田\u3000太郎", "東京都", dt.date(1980, 1, 1), "1")
    assert face_differences(face, same) == ()
    other = BasicFour("山田\u3000太郎", "東京都", dt.date(1980, 1, 2), "2")
    assert face_differences(face, other) == ("birth_date", "sex")


@_SETTINGS
@given(
    born=st.dates(dt.date(1900, 1, 1), dt.date(2020, 12, 31)),
    expiry=st.dates(dt.date(2016, 1, 1), dt.date(2099, 12, 31)),
    sex=st.sampled_from(list(Sex)),
    name=st.text(min_size=1, max_size=40),
)
def test_round_trip_with_the_simulator(
    keys: tuple[rsa.RSAPrivateKey, ...], born: dt.date, expiry: dt.date, sex: Sex, name: str
) -> None:
    face = parse_card_face(build(keys, expiry=expiry, birth_date=born, sex=sex, name=name))
    assert (face.birth_date, face.expiry, face.sex) == (born, expiry, sex.value)
    check_face_signature(face, keys[0].public_key())


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_format_errors(data: bytes) -> None:
    try:
        face = parse_card_face(data)
    except ProtocolError:
        return
    assert isinstance(face, CardFace)


@_SETTINGS
@given(data=st.data())
def test_mutated_faces_raise_only_typed_errors(
    keys: tuple[rsa.RSAPrivateKey, ...], data: st.DataObject
) -> None:
    raw = bytearray(build(keys))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    try:
        face = parse_card_face(bytes(raw))
        check_face_signature(face, keys[0].public_key())
    except (ProtocolError, IntegrityError):
        return
