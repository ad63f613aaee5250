# SPDX-License-Identifier: Apache-2.0
"""The demo's simulated card readers: a field the card is placed on or taken from.

``myna-edge demo --ui`` and the browser tests give each agent a reader
slot as its ``card_factory``: a command finds the card only while it is on
the reader, and taking it away mid-command powers the virtual card off as
a real card leaving the field would. Each card session starts from the test
card's saved state (``persist=0``), so a demo never locks the test card.
Apart from ``myna_edge.demo_ui`` so that module stays about the world.
"""

from __future__ import annotations

from host.errors import NoCardError
from host.flows import ThreadedCard
from host.transport.sim import SimTransport

__all__ = ["ReaderSlot"]


class ReaderSlot:
    """One simulated reader's field: is the card on it? Removal powers the card off."""

    def __init__(self, card: str) -> None:
        self.card = card
        self.present = False
        self._open: list[ThreadedCard] = []

    def place(self) -> None:
        """Put the card on the reader."""
        self.present = True

    def remove(self) -> None:
        """Take the card away, mid-command if one runs (the card loses power)."""
        self.present = False
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
        super().__init__(f"sim://{slot.card}?persist=0")
        self._slot = slot

    def _open(self) -> None:
        if not self._slot.present:
            raise NoCardError("no card on the reader")
        super()._open()
        self._slot._track(self, True)

    def _close(self) -> None:
        self._slot._track(self, False)
        super()._close()
