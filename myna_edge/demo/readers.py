# SPDX-License-Identifier: Apache-2.0
"""The demo's simulated card readers: a field the card is placed on or taken from.

``myna-edge demo --ui`` and the browser tests give each agent a reader
slot as its ``card_factory``: a command finds the card only while it is on
the reader, and taking it away mid-command powers the virtual card off as
a real card leaving the field would. Each card session starts from the test
card's saved state (``persist=0``), so a demo never locks the test card.
The reader is the simulator's ``sim://?slot=NAME`` (``hw_sim.readers.slot``),
so the panel and ``myna-edge sim reader insert|remove NAME`` in another
shell put the same card on the same reader. The panel may hold a phone
(``iphone-default``, ``android-default``) over the reader instead; the
iPhone's on-phone approval (``set_approval``) is kept here, not in the
phone, because each card session starts from the saved profile: it is put
on the phone at every open, as a user keeps the phone ready.
Apart from ``myna_edge.demo.ui`` so that module stays about the world.
"""

from __future__ import annotations

import secrets

from host.errors import NoCardError, TransportClosedError
from host.flows import ThreadedCard
from host.transport.sim import SimTransport
from hw_sim.card.phones import Approval
from hw_sim.readers.slot import insert_card, read_slot, remove_card

__all__ = ["ReaderSlot"]


class ReaderSlot:
    """One simulated reader's field: is the card on it? Removal powers the card off."""

    def __init__(self, card: str, *, name: str | None = None) -> None:
        self.card = card
        #: The slot name (``sim reader insert NAME``): unique unless given.
        self.name = name or f"demo-{secrets.token_hex(4)}"
        self._open: list[ThreadedCard] = []
        #: The iPhone's on-phone approval set by the panel or a test (None: the profile's).
        self.approval: Approval | None = None
        remove_card(self.name)  # a slot starts empty, whatever an earlier run left

    @property
    def url(self) -> str:
        """The reader URL of this slot."""
        return f"sim://?slot={self.name}&persist=0"

    @property
    def present(self) -> bool:
        """Whether a card is on the reader (put there by the panel or the CLI)."""
        return read_slot(self.name) is not None

    @property
    def profile(self) -> str | None:
        """The profile on the reader (the card or a phone), or None when it is empty."""
        state = read_slot(self.name)
        return None if state is None else state.profile

    def place(self, profile: str | None = None) -> None:
        """Put ``profile`` (default: the ``card`` profile) on the reader.

        Raises:
            UnknownProfileError: no such card or phone profile.
        """
        insert_card(self.name, profile or self.card)

    def set_approval(self, approval: Approval) -> None:
        """The iPhone's holder approves, declines or does not answer; also mid-command."""
        self.approval = approval
        for card in list(self._open):
            self._apply_approval(card)

    def _apply_approval(self, card: ThreadedCard) -> None:
        transport = card._transport
        if self.approval is None or not isinstance(transport, SimTransport):
            return
        try:
            phone = transport.virtual_card
        except TransportClosedError:  # closed meanwhile: the next open applies it
            return
        if phone.approval is not None:  # an iPhone
            phone.set_approval(self.approval)

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
        self._slot._apply_approval(self)

    def _close(self) -> None:
        self._slot._track(self, False)
        super()._close()
