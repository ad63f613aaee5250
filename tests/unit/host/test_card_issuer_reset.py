# SPDX-License-Identifier: Apache-2.0
"""The issuer-reset relay against the virtual card: challenge, refusals, argument checks."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from host.card import KeyKind, MynaCard
from host.card.issuer_reset import apply_issuer_reset, card_id, get_challenge
from host.errors import CardError
from host.transport import open_transport


def test_challenge_is_fresh_and_a_wrong_authorisation_is_refused(
    sim_url: Callable[[str], str],
) -> None:
    with open_transport(sim_url("default")) as transport:
        card = MynaCard(transport)
        first, second = get_challenge(card.channel), get_challenge(card.channel)
        assert len(first) == 8
        assert first != second
        with pytest.raises(CardError) as info:
            apply_issuer_reset(card.channel, 1, b"\x00" * 16, b"NEWPASS1")
        assert info.value.sw == 0x6300
        der = card.read_certificate(KeyKind.AUTH).public_bytes(Encoding.DER)
        assert len(card_id(der)) == 16


def test_arguments_are_checked_before_sending(sim_url: Callable[[str], str]) -> None:
    with open_transport(sim_url("default")) as transport:
        channel = MynaCard(transport).channel
        with pytest.raises(ValueError, match="operation"):
            apply_issuer_reset(channel, 3, b"\x00" * 16, b"1234")
        with pytest.raises(ValueError, match="16 bytes"):
            apply_issuer_reset(channel, 1, b"\x00", b"1234")
