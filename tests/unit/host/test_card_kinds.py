# SPDX-License-Identifier: Apache-2.0
"""host.card.kinds: key kinds map to the files of jpki-card.md §3.1."""

from __future__ import annotations

from host.card.kinds import KeyKind, PinKind


def test_key_files() -> None:
    assert (KeyKind.AUTH.key_fid, KeyKind.AUTH.cert_fid, KeyKind.AUTH.ca_cert_fid) == (
        0x0017,
        0x000A,
        0x000B,
    )
    assert (KeyKind.SIGN.key_fid, KeyKind.SIGN.cert_fid, KeyKind.SIGN.ca_cert_fid) == (
        0x001A,
        0x0001,
        0x0002,
    )


def test_key_pins() -> None:
    assert KeyKind.AUTH.pin is PinKind.AUTH
    assert KeyKind.SIGN.pin is PinKind.SIGN
    assert KeyKind.SIGN.cert_needs_pin
    assert not KeyKind.AUTH.cert_needs_pin
    assert str(KeyKind.SIGN) == "sign"
