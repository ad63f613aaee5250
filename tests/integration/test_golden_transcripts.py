# SPDX-License-Identifier: Apache-2.0
"""The virtual card answers the reference transcripts (jpki-card.md §9) byte for byte.

The same transcripts are what the host driver is checked to send, so the
simulator is held to the reference rather than to our own driver.
"""

from __future__ import annotations

import pytest

from hw_sim.card import get_profile, open_card
from tests.vectors.transcripts import load_transcripts


def _pins(profile: str) -> dict[str, str]:
    card = get_profile(profile)
    return {
        "auth_pin": card.auth_pin,
        "sign_password": card.sign_password,
        "text_pin": card.text_pin,
    }


TRANSCRIPTS = load_transcripts(_pins("default"))


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
