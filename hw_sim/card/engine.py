# SPDX-License-Identifier: Apache-2.0
"""The card's APDU engine: bytes in, response out, no I/O.

``CardEngine.process`` is total: any bytes give a ``ResponseApdu`` and never
an exception. It checks, in this order, what the card checks before it
looks at a command's meaning (jpki-card.md §1.1, §4.3):

1. fewer than four bytes → ``6700``;
2. CLA: only the first interindustry class (``0x``) and JICSAP's
   proprietary class (``8x``) exist → else ``6E00``; logical channel bits
   ≠ 0 (and the further-interindustry classes ``40``-``7F``, channels 4-19)
   → ``6881``; secure messaging bits → ``69FC`` on READ BINARY and VERIFY,
   ``6882`` on anything else; command chaining → ``6884``;
3. INS unknown for the class → ``6D00``;
4. framing (``hw_sim.card.apdu``) → ``6700``;
5. the command handler: P1/P2, lengths, files, security.

A command answered with anything but ``9000`` or ``63Cx`` changes nothing;
``state_snapshot`` exists so tests can prove it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from hw_sim.card import crypto_commands, file_commands, issuer_commands, pin_commands
from hw_sim.card.apdu import CommandApdu, ResponseApdu, parse_command, status
from hw_sim.card.constants import Ins, Sw
from hw_sim.card.filesystem import CardImage
from hw_sim.card.phones import Approval
from hw_sim.card.pins import PinStore, pin_key_name
from hw_sim.card.session import CardContext, SecurityState

__all__ = ["CardEngine", "CardSnapshot"]

_Handler = Callable[[CardContext, CommandApdu], ResponseApdu]

_INTERINDUSTRY: Final = 0x00
_PROPRIETARY: Final = 0x80

_HANDLERS: Final[dict[tuple[int, int], _Handler]] = {
    (_INTERINDUSTRY, Ins.SELECT): file_commands.select,
    (_INTERINDUSTRY, Ins.READ_BINARY): file_commands.read_binary,
    (_INTERINDUSTRY, Ins.READ_RECORD): file_commands.read_record,
    (_INTERINDUSTRY, Ins.VERIFY): pin_commands.verify,
    (_INTERINDUSTRY, Ins.CHANGE_REFERENCE_DATA): pin_commands.change_reference_data,
    (_INTERINDUSTRY, Ins.GET_CHALLENGE): crypto_commands.get_challenge,
    (_INTERINDUSTRY, Ins.GET_DATA): crypto_commands.get_data,
    (_INTERINDUSTRY, Ins.EXTERNAL_AUTHENTICATE): issuer_commands.external_authenticate,
    (_INTERINDUSTRY, Ins.RESET_RETRY_COUNTER): issuer_commands.reset_retry_counter,
    # JPKI's signature command uses the proprietary class (§4.1: 80 2A).
    (_PROPRIETARY, Ins.COMPUTE_DIGITAL_SIGNATURE): crypto_commands.compute_digital_signature,
}

#: SOL: with an SM CLA these two answer 69FC, everything else 6882 (§1.1).
_SM_69FC_INS: Final = frozenset({Ins.READ_BINARY, Ins.VERIFY})


@dataclass(frozen=True)
class CardSnapshot:
    """Everything about a card's state that commands can change.

    Attributes:
        application: AID of the selected application, or None.
        current_ef: file id of the current EF, or None.
        verified: file ids of PIN objects verified in the application.
        pins: per PIN object ``(name, tries left, value version)``, sorted;
            the version changes when CHANGE REFERENCE DATA sets a new value.
    """

    application: bytes | None
    current_ef: int | None
    verified: frozenset[int]
    pins: tuple[tuple[str, int, int], ...]


class CardEngine:
    """The sans-I/O card: a file system, PIN objects and a security state."""

    def __init__(
        self,
        image: CardImage,
        pins: PinStore,
        *,
        reselect_clears_security: bool = False,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        """Create the engine over ``image`` and ``pins``.

        Args:
            image: the card's immutable content.
            pins: PIN objects with their counters (changed in place).
            reselect_clears_security: whether SELECT of the already selected
                application clears its security status (``session``).
            random_bytes: source for GET CHALLENGE.
        """
        self._context = CardContext(
            image=image,
            pins=pins,
            security=SecurityState(),
            reselect_clears_security=reselect_clears_security,
            random_bytes=random_bytes,
            approval=image.approval,
        )

    def __repr__(self) -> str:
        application = self._context.security.application
        return f"CardEngine(application={application.name if application else None!r})"

    @property
    def image(self) -> CardImage:
        """The card's immutable content."""
        return self._context.image

    @property
    def pins(self) -> PinStore:
        """The PIN objects (persistent state)."""
        return self._context.pins

    @property
    def approval(self) -> Approval | None:
        """The iPhone's on-phone user verification, or None (not an iPhone)."""
        return self._context.approval

    def set_approval(self, approval: Approval) -> None:
        """Set the iPhone's user verification; it lasts until set again.

        Raises:
            ValueError: this credential has no on-phone verification.
        """
        if self._context.approval is None:
            raise ValueError("only an iPhone credential has an on-phone approval")
        self._context.approval = Approval(approval)

    def reset(self) -> None:
        """Forget selection and security status, as a power cycle does."""
        self._context.security.clear()

    def process(self, raw: bytes) -> ResponseApdu:
        """Execute one command APDU and return the response. Never raises."""
        if len(raw) < 4:
            return status(Sw.WRONG_LENGTH)
        cla, ins = raw[0], raw[1]
        refused = _check_class(cla, ins)
        if refused is not None:
            return status(refused)
        handler = _HANDLERS.get((cla & _PROPRIETARY, ins))
        if handler is None:
            return status(Sw.INS_NOT_SUPPORTED)
        command = parse_command(raw)
        if isinstance(command, Sw):
            return status(command)
        return handler(self._context, command)

    def state_snapshot(self) -> CardSnapshot:
        """Return the changeable state: selection, security status, PIN counters."""
        security = self._context.security
        pins = self._context.pins
        return CardSnapshot(
            application=security.application.aid if security.application else None,
            current_ef=security.current_ef,
            verified=frozenset(security.verified),
            pins=tuple(
                sorted(
                    (pin_key_name(key), pins.record(key).tries_left, pins.record(key).version)
                    for key in pins
                )
            ),
        )


def _check_class(cla: int, ins: int) -> Sw | None:
    """Return the SW that refuses ``cla`` for ``ins``, or None if it may go on."""
    if 0x40 <= cla <= 0x7F:
        return Sw.CHANNEL_NOT_SUPPORTED  # further interindustry: channels 4-19
    if cla & 0x60:
        return Sw.CLA_NOT_SUPPORTED  # 20-3F reserved, A0-FF other proprietary
    if cla & 0x03:
        return Sw.CHANNEL_NOT_SUPPORTED  # §1.1: only channel 0
    if cla & 0x0C:
        return Sw.SM_CLA_ON_READ_OR_VERIFY if ins in _SM_69FC_INS else Sw.SM_NOT_SUPPORTED
    if cla & 0x10:
        return Sw.CHAINING_NOT_SUPPORTED
    return None
