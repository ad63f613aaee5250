# SPDX-License-Identifier: Apache-2.0
"""Which application the card has selected, so that the driver does not SELECT it again.

Why: every ``MynaCard`` method selects what it needs, so calls never
depend on each other's state; but a transfer then sent the same SELECT of
the JPKI AP three times (to learn what was presented, to ask for the
signing certificate, before the PIN's counter), each a contactless round
trip (issue 15: a phone's transfer took 15-16 commands for a minimum of
11-12). ``select_application`` now skips the SELECT when this transport's
card already has that application selected.

What is selected is learnt by watching every APDU on the transport (an
observer), not from the driver's own calls: a SELECT sent by any module,
by another ``MynaCard`` over the same transport, or through a raw channel
counts too. The rules are conservative (in doubt, forget; the next SELECT
is then sent):

* a SELECT by DF name (P1 ``04``) answered ``9000`` selects that DF;
  any other answer forgets;
* a SELECT of an EF of the current DF (P1 ``02``) and any other command
  of channel 0 keep it, once answered;
* any other SELECT (MF, parent, path, file id), a command on another
  logical channel, or MANAGE CHANNEL forgets;
* a command that gets no answer (the transport failed, the card left)
  forgets.

A transport is never reopened once closed, so a new card session starts
with nothing selected. Skipping a re-SELECT keeps the application's
security status, as the physical card SOL measured keeps it on a
re-SELECT anyway (``hw_sim/card/session.py``); a host that needs a logout
power-cycles the card.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Final

from host.transport.base import ApduEvent, CardTransport, Direction

__all__ = ["SelectionTracker", "tracker_for"]

_INS_SELECT: Final = 0xA4
_INS_MANAGE_CHANNEL: Final = 0x70
_P1_BY_NAME: Final = 0x04
_P1_EF_OF_CURRENT_DF: Final = 0x02
_CLA_CHANNEL_BITS: Final = 0x03
_SW_OK: Final = b"\x90\x00"


@dataclass
class SelectionTracker:
    """The DF name selected on one transport's card, as far as its APDUs tell."""

    selected: bytes | None = None
    _after: bytes | None = None  # what is selected once the command in flight is answered
    _by_name: bool = False  # the command in flight is a SELECT by DF name

    def forget(self) -> None:
        """Assume nothing is selected: the next SELECT is sent (a measurement's fresh start)."""
        self.selected = None

    def __call__(self, event: ApduEvent) -> None:
        """Observe one APDU (``CardTransport.add_observer``)."""
        apdu = event.apdu.data
        if event.direction is Direction.RESPONSE:
            answered_ok = apdu[-2:] == _SW_OK
            self.selected = None if self._by_name and not answered_ok else self._after
            self._after, self._by_name = None, False
            return
        # Unknown until the card answers: a command that gets no answer (the
        # transport failed, the card left) leaves nothing known.
        after, self.selected, self._by_name = self.selected, None, False
        if len(apdu) < 4:
            self._after = after
            return
        cla, ins, p1 = apdu[0], apdu[1], apdu[2]
        if cla & _CLA_CHANNEL_BITS or ins == _INS_MANAGE_CHANNEL:
            after = None
        elif ins == _INS_SELECT and p1 != _P1_EF_OF_CURRENT_DF:
            after = None
            if p1 == _P1_BY_NAME and len(apdu) > 5 and len(apdu) >= 5 + apdu[4]:
                after, self._by_name = bytes(apdu[5 : 5 + apdu[4]]), True
        self._after = after


_TRACKERS: Final[weakref.WeakKeyDictionary[CardTransport, SelectionTracker]] = (
    weakref.WeakKeyDictionary()
)


def tracker_for(transport: CardTransport) -> SelectionTracker:
    """The tracker watching ``transport`` (attached on first use, before any SELECT it skips).

    A tracker attached late has seen nothing, so it starts with nothing
    selected: the first SELECT is always sent.
    """
    tracker = _TRACKERS.get(transport)
    if tracker is None:
        tracker = SelectionTracker()
        transport.add_observer(tracker)
        _TRACKERS[transport] = tracker
    return tracker
