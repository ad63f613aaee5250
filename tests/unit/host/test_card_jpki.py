# SPDX-License-Identifier: Apache-2.0
"""host.card.jpki: certificate reads, signing, token label, over a channel."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from host import errors
from host.card import constants as c
from host.card import jpki
from host.card.kinds import KeyKind
from host.channel import ApduChannel
from host.transport import open_transport
from tests.unit.host.host_fakes import FakeTransport, MiniCard, MiniPin


def mini(files: dict[int, bytes | MiniPin]) -> tuple[ApduChannel, FakeTransport]:
    transport = FakeTransport(MiniCard({c.JPKI_AID: files}))
    transport.open()
    return ApduChannel(transport), transport


def test_token_label_trims_spaces_and_nuls() -> None:
    ch, transport = mini({c.FID_TOKEN_INFO: b"JPKIAPGPSETOKEN\x00" + b" " * 16 + b"\x00" * 128})
    with transport:
        assert jpki.token_label(ch) == "JPKIAPGPSETOKEN"


def test_token_label_not_ascii() -> None:
    ch, transport = mini({c.FID_TOKEN_INFO: "トークン".encode() + b" " * 20})
    with transport, pytest.raises(errors.DataFormatError, match="ASCII"):
        jpki.token_label(ch)


def test_certificate_that_is_not_der() -> None:
    ch, transport = mini({c.FID_AUTH_CERT: bytes.fromhex("3082000401020304") + b"\xff" * 8})
    with transport, pytest.raises(errors.DataFormatError, match=r"X\.509"):
        jpki.read_certificate(ch, KeyKind.AUTH)


def test_missing_file_is_typed() -> None:
    ch, transport = mini({})
    with transport, pytest.raises(errors.FileNotFoundOnCardError):
        jpki.read_ca_certificate(ch, KeyKind.SIGN)


def test_sign_digest_length() -> None:
    ch, transport = mini({c.FID_AUTH_PIN: MiniPin(b"1234", 3)})
    with transport, pytest.raises(ValueError, match="32-byte"):
        jpki.sign(ch, KeyKind.AUTH, b"\x00" * 33, b"1234")
    assert transport.sent == []


def test_auth_certificate_with_pin_verifies_first(sim_url: Callable[[str], str]) -> None:
    # smartphone JPKI reads the auth cert only after the PIN (§3.1); the driver
    # verifies when given a PIN, which a card also accepts
    with open_transport(sim_url("default")) as transport:
        ch = ApduChannel(transport)
        cert = jpki.read_certificate(ch, KeyKind.AUTH, b"1234")
        assert cert.public_key().key_size == 2048  # type: ignore[union-attr]
        with pytest.raises(ValueError, match="signing password"):
            jpki.read_certificate(ch, KeyKind.SIGN)


def test_sign_returns_card_signature(sim_url: Callable[[str], str]) -> None:
    with open_transport(sim_url("default")) as transport:
        signature = jpki.sign(ApduChannel(transport), KeyKind.AUTH, b"\x01" * 32, b"1234")
    assert len(signature) == 256


def _ins(transport: object) -> list[int]:
    card = transport.virtual_card  # type: ignore[attr-defined]
    return [entry.command[1] for entry in card.apdu_log.entries]


def test_prove_after_the_counter_read_is_the_protocol_minimum(
    sim_url: Callable[[str], str],
) -> None:
    from host.card import pins
    from host.card.pin_policy import PinKind
    from hw_sim.card import get_profile

    password = get_profile("default").sign_password.encode()
    with open_transport(sim_url("default")) as transport:
        ch = ApduChannel(transport)
        transport.virtual_card.apdu_log.clear()  # type: ignore[attr-defined]
        assert pins.tries_left(ch, PinKind.SIGN) == 5
        cert, signature = jpki.prove(ch, KeyKind.SIGN, b"\x01" * 32, password, counter_read=True)
        sent = _ins(transport)
        again = jpki.read_certificate(ch, KeyKind.SIGN, password)
    # one VERIFY with the password, one certificate read, one signature
    assert len(sent) == 8, sent
    assert sent.count(c.INS_VERIFY) == 2  # the empty one (tries) and the password
    assert cert == again
    assert len(signature) == 256


def test_prove_falls_back_when_the_card_lost_the_pin_ef(sim_url: Callable[[str], str]) -> None:
    from host.card import files

    with open_transport(sim_url("default")) as transport:
        ch = ApduChannel(transport)
        files.select_application(ch, c.JPKI_AID)  # no PIN EF selected: the promise is stale
        cert, signature = jpki.prove(ch, KeyKind.AUTH, b"\x02" * 32, b"1234", counter_read=True)
    assert cert.public_key().key_size == 2048  # type: ignore[union-attr]
    assert len(signature) == 256


def test_prove_with_a_wrong_pin_spends_one_try(sim_url: Callable[[str], str]) -> None:
    from host.card import pins
    from host.card.pin_policy import PinKind

    with open_transport(sim_url("default")) as transport:
        ch = ApduChannel(transport)
        tries = pins.tries_left(ch, PinKind.AUTH)
        with pytest.raises(errors.WrongPinError):
            jpki.prove(ch, KeyKind.AUTH, b"\x02" * 32, b"9999", counter_read=True)
        assert pins.tries_left(ch, PinKind.AUTH) == tries - 1
        with pytest.raises(ValueError, match="32-byte"):
            jpki.prove(ch, KeyKind.AUTH, b"\x02" * 31, b"1234")
