# SPDX-License-Identifier: Apache-2.0
"""``myna_edge.demo.readers``: the open card's PIN counters, as the browser tests read them."""

from __future__ import annotations

import asyncio

import pytest

from host.card import PinKind
from host.errors import NoCardError
from myna_edge.demo.readers import ReaderSlot


def test_pin_tries_reads_the_open_card_and_refuses_without_one() -> None:
    slot = ReaderSlot("default")
    with pytest.raises(NoCardError):
        slot.pin_tries()  # nothing open

    async def main() -> dict[str, int]:
        slot.place()
        card = slot.card_factory()
        try:
            await card.wait_card(2.0)
            auth = await card.tries_left(PinKind.AUTH)
            sign = await card.tries_left(PinKind.SIGN)
            tries = slot.pin_tries()
            assert auth in tries.values()
            assert sign in tries.values()
            return tries
        finally:
            await card.aclose()

    tries = asyncio.run(main())
    assert len(tries) >= 3  # card-info, authentication and signing secrets at least
    assert all(name.count("/") == 1 for name in tries)  # "<AID>/<FID>"
    with pytest.raises(NoCardError):
        slot.pin_tries()  # the session closed
