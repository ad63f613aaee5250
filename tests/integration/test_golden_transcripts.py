# SPDX-License-Identifier: Apache-2.0
"""The virtual card answers the reference transcripts (jpki-card.md §9) byte for byte.

The same transcripts are what the host driver is checked to send, so the
simulator is held to the reference rather than to our own driver.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from host.card import KeyKind, MynaCard, ReadStrategy
from host.secret import Secret
from host.transport import open_transport
from host.transport.sim import SimTransport
from hw_sim.card import get_profile, open_card
from tests.vectors.transcripts import load_transcripts


def _pins(profile: str) -> dict[str, str]:
    card = get_profile(profile)
    return {
        "auth_pin": card.auth_pin,
        "sign_password": card.sign_password,
        "text_pin": card.text_pin,
    }


PINS = _pins("default")
TRANSCRIPTS = load_transcripts(PINS)


@pytest.mark.parametrize("name", sorted(TRANSCRIPTS))
def test_virtual_card_follows_transcript(name: str) -> None:
    with open_card("default", persist=False) as card:
        card.power_on()
        for step, exchange in enumerate(TRANSCRIPTS[name]):
            response = card.transmit(exchange.command)
            assert exchange.expected.matches(response), (
                f"{name} step {step}: sent {exchange.command.hex(' ')}, "
                f"got {response[:16].hex(' ')}... ({len(response)} bytes)"
            )


def test_transcripts_file_parses_into_every_named_case() -> None:
    assert {"read-auth-cert-opensc", "verify-auth-pin-and-sign", "read-basic-four"} <= set(
        TRANSCRIPTS
    )
    assert all(TRANSCRIPTS.values())


DRIVER_RUNS: dict[str, Callable[[MynaCard], object]] = {
    "driver-read-auth-cert": lambda card: card.read_certificate(KeyKind.AUTH),
    "driver-sign-auth": lambda card: card.sign(
        KeyKind.AUTH, hashlib.sha256(b"hello").digest(), Secret.from_text(PINS["auth_pin"])
    ),
    "driver-read-card-info": lambda card: card.read_card_info(Secret.from_text(PINS["text_pin"])),
}


def _without_pin_data(command: bytes) -> bytes:
    """The card's APDU log keeps VERIFY/CHANGE headers and Lc only (no PIN)."""
    return command[:5] if command[1] in (0x20, 0x24) and len(command) > 5 else command


@pytest.mark.parametrize("name", sorted(DRIVER_RUNS))
def test_driver_sends_exactly_the_transcript(name: str) -> None:
    with open_transport("sim://default?persist=0") as transport:
        assert isinstance(transport, SimTransport)
        DRIVER_RUNS[name](MynaCard(transport, read_strategy=ReadStrategy.EXTENDED))
        sent = [entry.command for entry in transport.virtual_card.apdu_log.entries]
    assert sent == [_without_pin_data(exchange.command) for exchange in TRANSCRIPTS[name]]
