# SPDX-License-Identifier: Apache-2.0
"""The demo's simulated card readers: a field the card is placed on or taken from.

``myna-edge demo --ui`` and the browser tests give each agent a reader
slot as its ``card_factory``: a command finds the card only while it is on
the reader, and taking it away mid-command powers the virtual card off as
a real card leaving the field would. Each card session starts from the test
card's saved state (``persist=0``), so a demo never locks the test card.
The reader is the simulator's ``sim://?slot=NAME`` (``hw_sim.readers.slot``),
so the panel and ``myna-edge sim reader insert|remove NAME`` in another
shell put the same card on the same reader.
Apart from ``myna_edge.demo.ui`` so that module stays about the world.
"""

from __future__ import annotations

import secrets

from host.errors import NoCardError
from host.flows import ThreadedCard
from host.transport.sim import SimTransport
from hw_sim.readers.slot import insert_card, read_slot, remove_card

__all__ = ["ReaderSlot"]


class ReaderSlot:
    """One simulated reader's field: is the card on it? Removal powers the card off."""

    def __init__(self, card: str, *, name: str | None = None) -> None:
        self.card = card
        #: The slot name (``sim reader insert NAME``): unique unless given.
        self.name = name or f"demo-{secrets.token_hex(4)}"
        self._open: list[ThreadedCard] = []
        remove_card(self.name)  # a slot starts empty, whatever an earlier run left

    @property
    def url(self) -> str:
        """The reader URL of this slot."""
        return f"sim://?slot={self.name}&persist=0"

    @property
    def present(self) -> bool:
        """Whether a card is on the reader (put there by the panel or the CLI)."""
        return read_slot(self.name) is not None

    def place(self) -> None:
        """Put the ``card`` profile on the reader."""
        insert_card(self.name, self.card)

    def remove(self) -> None:
        """Take the card away, mid-command if one runs (the card loses power)."""
        remove_card(self.name)
        for card in self._open:
            transport = card._transport
            if isinstance(transport, SimTransport) and transport.is_open:
                transport.virtual_card.power_off()

    def pin_tries(self) -> dict[str, int]:
        """The open card's PIN counters (``"<AID>/<FID>"`` -> tries left), mid-command.

        Raises:
            NoCardError: no command has the card open on this reader.
        """
        for card in self._open:
            transport = card._transport
            if isinstance(transport, SimTransport) and transport.is_open:
                pins = transport.virtual_card.state_snapshot().pins
                return {name: tries for name, tries, _ in pins}
        raise NoCardError("no card session is open on this reader")

    def card_factory(self) -> ThreadedCard:
        """A ``CardPort`` for one command on this reader (the agent's ``card_factory``)."""
        return _SlotCard(self)

    def _track(self, card: ThreadedCard, opened: bool) -> None:
        if opened:
            self._open.append(card)
        elif card in self._open:
            self._open.remove(card)


class _SlotCard(ThreadedCard):
    def __init__(self, slot: ReaderSlot) -> None:
        super().__init__(slot.url)
        self._slot = slot

    def _open(self) -> None:
        super()._open()  # NoCardError from the transport while the slot is empty
        self._slot._track(self, True)

    def _close(self) -> None:
        self._slot._track(self, False)
        super()._close()
