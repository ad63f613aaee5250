# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.card.filesystem``: applications, files, AID matching."""

from __future__ import annotations

import pytest

from hw_sim.card.constants import AID_JPKI, AID_SURFACE, AID_TEXT, ATR_CONTACT
from hw_sim.card.filesystem import Application, CardImage, PinEf, TransparentEf
from hw_sim.card.pins import AUTH_PIN


def make_image() -> CardImage:
    jpki = Application("jpki", AID_JPKI, {0x0A: TransparentEf(0x0A, b"\x30\x82")})
    text = Application("text", AID_TEXT, {0x11: PinEf(0x11, AUTH_PIN)})
    surface = Application("surface", AID_SURFACE, {})
    return CardImage((jpki, text, surface), ATR_CONTACT, {0x5F51: b"\xe0"})


def test_exact_and_prefix_match() -> None:
    image = make_image()
    assert image.find_application(AID_JPKI).name == "jpki"  # type: ignore[union-attr]
    # §2: a DF-name prefix selects the first application it matches; the
    # 8-byte prefix in use picks the card-info AP.
    prefix = bytes.fromhex("D3 92 10 00 31 00 01 01")
    assert image.find_application(prefix).name == "text"  # type: ignore[union-attr]
    assert image.find_application(AID_SURFACE).name == "surface"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "name",
    [
        "D3 92",  # shorter than the RID
        "A0 00 00 00 01 01",  # OpenSC's muscle probe must never match (§1.3)
        "D3 92 F0 00 26 01 00 00 00 01 00",  # longer than the AID
        "D3 92 F0 00 26 01 00 00 00 02",
    ],
)
def test_no_match(name: str) -> None:
    assert make_image().find_application(bytes.fromhex(name)) is None


def test_files_by_fid_and_sfi() -> None:
    image = make_image()
    jpki = image.applications[0]
    assert jpki.file(0x0A) == jpki.file_by_sfi(0x0A)
    assert jpki.file(0x0B) is None
    assert jpki.file_by_sfi(0) is None
    assert jpki.file_by_sfi(31) is None


def test_application_is_immutable_and_consistent() -> None:
    with pytest.raises(ValueError, match="registered under"):
        Application("x", AID_JPKI, {0x01: TransparentEf(0x02, b"")})
    image = make_image()
    with pytest.raises(TypeError):
        image.data_objects[0x1234] = b""  # type: ignore[index]
    assert "3082" not in repr(image.applications[0].file(0x0A))
