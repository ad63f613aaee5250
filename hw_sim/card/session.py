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

VERIFY, CHANGE REFERENCE DATA and COMPUTE DIGITAL SIGNATURE name their
object the same way in P2 (jpki-card.md §4.1): ``80`` is the current EF and
``80|SFI`` (``81``-``9E``) the EF with that short id; ``referenced_ef``
resolves both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, TypeVar

from hw_sim.card.constants import Sw
from hw_sim.card.filesystem import Application, CardImage, Ef
from hw_sim.card.phones import Approval
from hw_sim.card.pins import PinKey, PinStore

__all__ = ["CardContext", "SecurityState"]

#: P2 naming the current EF; ``_P2_CURRENT_EF | sfi`` names an EF by short id.
_P2_CURRENT_EF: Final = 0x80

_EfT = TypeVar("_EfT", bound=Ef)

_APPROVAL_SW: Final = {
    Approval.DECLINED: Sw.APPROVAL_DECLINED,
    Approval.NO_ANSWER: Sw.APPROVAL_PENDING,
}


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
    #: The last 8-byte GET CHALLENGE answer, for EXTERNAL AUTHENTICATE.
    challenge: bytes | None = field(default=None, repr=False)
    #: The reset operation the issuer authorised (issuer_commands), or None.
    issuer_authorized: int | None = None

    def clear(self) -> None:
        """Forget selection and security status (power-off)."""
        self.application = None
        self.current_ef = None
        self.verified.clear()
        self.challenge = None
        self.issuer_authorized = None


@dataclass
class CardContext:
    """What a command handler may look at and change.

    Attributes:
        image: the card's immutable content.
        pins: PIN objects with counters (persistent).
        security: selection and security status (volatile).
        reselect_clears_security: see the module docstring.
        random_bytes: source of GET CHALLENGE bytes.
        approval: the iPhone's on-phone user verification, or None for a
            credential without one (``phones``); set by tests or the panel.
    """

    image: CardImage
    pins: PinStore
    security: SecurityState
    reselect_clears_security: bool
    random_bytes: Callable[[int], bytes]
    approval: Approval | None = None

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

    def refusal(self, condition: frozenset[int]) -> Sw | None:
        """Return the SW refusing a use guarded by ``condition``, or None to go on.

        On an iPhone the on-phone approval stands in for every PIN object
        (``phones``): approved opens everything, declined and no answer get
        their own status words. Elsewhere ``6982`` until a PIN is verified.
        """
        if not condition:
            return None
        if self.approval is not None:
            return _APPROVAL_SW.get(self.approval)
        return None if self.satisfied(condition) else Sw.SECURITY_NOT_SATISFIED

    def referenced_ef(self, p2: int, kind: type[_EfT]) -> _EfT | Sw:
        """Return the EF of type ``kind`` that P2 names, or the SW to answer.

        ``NO_CURRENT_EF`` for ``80`` with no current EF, ``NOT_FOUND`` for an
        SFI with no EF, ``WRONG_P1P2`` for any other P2, and
        ``INCOMPATIBLE_FILE`` when the EF is not a ``kind``.
        """
        application = self.security.application
        ef: Ef | None
        if p2 == _P2_CURRENT_EF:
            fid = self.security.current_ef
            if fid is None or application is None:
                return Sw.NO_CURRENT_EF
            ef = application.file(fid)
        elif p2 & 0xE0 == _P2_CURRENT_EF and 1 <= p2 & 0x1F <= 30:
            ef = application.file_by_sfi(p2 & 0x1F) if application is not None else None
            if ef is None:
                return Sw.NOT_FOUND
        else:
            return Sw.WRONG_P1P2
        return ef if isinstance(ef, kind) else Sw.INCOMPATIBLE_FILE
