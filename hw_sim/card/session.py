# SPDX-License-Identifier: Apache-2.0
"""What a card remembers only while powered: selection and security status.

A VERIFY is scoped to the application it was made in and lasts until that
application is left or the card loses power (jpki-card.md §2, §10). This
module holds that volatile state and the context every command handler
receives, so handlers stay plain functions over data.

Re-selecting the *same* application is the one behaviour the sources leave
open: SOL measured a physical card that kept the security status, while
OpenSC's ``logout`` re-selects the JPKI AP on the assumption that it clears
it. The card keeps it unless ``reselect_clears_security`` is set, so a host
that needs a real logout must power-cycle (or select another AP); tests run
both ways.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hw_sim.card.filesystem import Application, CardImage
from hw_sim.card.pins import PinKey, PinStore

__all__ = ["CardContext", "SecurityState"]


@dataclass
class SecurityState:
    """Volatile state: the current application and EF, and verified PIN objects.

    Attributes:
        application: the selected application, or None at MF level.
        current_ef: file id of the current EF in it, or None.
        verified: file ids of PIN objects verified in this application.
    """

    application: Application | None = None
    current_ef: int | None = None
    verified: set[int] = field(default_factory=set)

    def clear(self) -> None:
        """Forget selection and security status (power-off)."""
        self.application = None
        self.current_ef = None
        self.verified.clear()


@dataclass
class CardContext:
    """What a command handler may look at and change.

    Attributes:
        image: the card's immutable content.
        pins: PIN objects with counters (persistent).
        security: selection and security status (volatile).
        reselect_clears_security: see the module docstring.
        random_bytes: source of GET CHALLENGE bytes.
    """

    image: CardImage
    pins: PinStore
    security: SecurityState
    reselect_clears_security: bool
    random_bytes: Callable[[int], bytes]

    def pin_key(self, fid: int) -> PinKey | None:
        """Return the PIN-store key of ``fid`` in the selected application, if any."""
        application = self.security.application
        if application is None:
            return None
        key = (application.aid, fid)
        return key if key in self.pins else None

    def satisfied(self, condition: frozenset[int]) -> bool:
        """Return whether any PIN object of ``condition`` is verified (empty = always)."""
        return not condition or bool(condition & self.security.verified)
