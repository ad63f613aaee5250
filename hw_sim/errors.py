# SPDX-License-Identifier: Apache-2.0
"""The simulator's exceptions, as one tree so that callers catch what they mean.

A virtual card answers every command with a status word, as a real card does;
these exceptions are for the things a real card cannot express: a caller that
talks to a card that is switched off or closed, a saved card state that is
damaged, or a card profile that does not exist. ::

    SimError                              root of everything the simulator raises
    ├── CardError                         a virtual card was used wrongly
    │   ├── CardNotPoweredError           transmit() while the card is off
    │   └── CardClosedError               any use after close()
    ├── CardStateError  (ValueError)      a saved card state file is damaged or foreign
    ├── SlotStateError  (ValueError)      a reader slot's file or name is malformed
    └── UnknownProfileError  (LookupError)  no card profile has that name

``hw_sim.pki`` keeps its cache error (``PkiCacheError``) next to the code that
raises it. No message here ever carries a PIN or personal data (STYLE §3).
"""

from __future__ import annotations

__all__ = [
    "CardClosedError",
    "CardError",
    "CardNotPoweredError",
    "CardStateError",
    "SimError",
    "SlotStateError",
    "UnknownProfileError",
]


class SimError(Exception):
    """Root of every exception the simulator raises on purpose."""


class CardError(SimError):
    """A virtual card was used in a way the hardware would not allow."""


class CardNotPoweredError(CardError):
    """A command was sent to a card that is not powered (no field, no contact)."""


class CardClosedError(CardError):
    """The card was used after ``close()``."""


class CardStateError(SimError, ValueError):
    """A saved card state file is damaged, of an unknown format or another card's.

    Attributes:
        path: the state file, when known.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class SlotStateError(SimError, ValueError):
    """A simulated reader slot's name is bad or its file damaged (``hw_sim.readers.slot``)."""


class UnknownProfileError(SimError, LookupError):
    """No card profile has the requested name.

    Attributes:
        name: the name that was asked for.
    """

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown card profile: {name!r}")
        self.name = name
