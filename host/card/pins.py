# SPDX-License-Identifier: Apache-2.0
"""PIN status, VERIFY and CHANGE REFERENCE DATA, the same for all three secrets.

DESIGN's invariant: the agent never spends a try it was not asked to spend.
So the counter is read with the empty VERIFY (which costs nothing, §4.1)
before any VERIFY with data, and a blocked secret is refused here without
sending it. Functions take the bytes ``pin_policy.normalize_pin`` returned;
the policy check happens above, before anything reaches the card.
"""

from __future__ import annotations

import logging
from typing import Final

from host.card import commands, files
from host.card.pin_policy import PIN_RULES, PinKind
from host.channel import PIN_STATUS_WORDS, ApduChannel
from host.errors import PinBlockedError

__all__ = ["change", "read_tries", "select_pin", "tries_left", "verify"]

_log = logging.getLogger(__name__)

_SW_OK: Final = 0x9000
_SW_BLOCKED: Final = frozenset({0x63C0, 0x6984})


def select_pin(channel: ApduChannel, kind: PinKind) -> None:
    """SELECT the PIN's application, then its internal EF."""
    files.select_application(channel, kind.aid)
    files.select_file(channel, kind.fid)


def read_tries(channel: ApduChannel, kind: PinKind) -> tuple[int, int]:
    """Return ``(tries_left, sw)`` for the selected PIN EF, with an empty VERIFY.

    ``63Cx`` gives x; ``63C0`` and ``6984`` give 0 (blocked). Some cards
    answer ``9000`` when the PIN is already verified in this session (SOL,
    §4.1); a correct entry resets the counter, so that is reported as the
    full count (UNCONFIRMED for every card generation).

    Raises:
        CardError: any other status word.
    """
    response = channel.send(commands.verify(), allow=PIN_STATUS_WORDS)
    if response.sw == _SW_OK:
        return PIN_RULES[kind].max_tries, response.sw
    if response.sw in _SW_BLOCKED:
        return 0, response.sw
    return response.sw & 0x0F, response.sw


def tries_left(channel: ApduChannel, kind: PinKind) -> int:
    """Select the PIN and return its remaining tries (0 when blocked); spends none."""
    select_pin(channel, kind)
    return read_tries(channel, kind)[0]


def verify(channel: ApduChannel, kind: PinKind, pin: bytes) -> None:
    """Select the PIN, check it is not blocked, then VERIFY ``pin``.

    The application stays selected, so the caller can go on (sign, read).

    Raises:
        PinBlockedError: the PIN was blocked before (nothing sent) or by this try.
        WrongPinError: wrong PIN; ``tries_left`` says how many remain.
        CardError: any other refusal.
    """
    select_pin(channel, kind)
    tries, sw = read_tries(channel, kind)
    if tries == 0:
        # A locked PIN is never retried: it would only confirm the lockout.
        name = PIN_RULES[kind].name
        raise PinBlockedError(sw, "VERIFY", f"the {name} is blocked; it was not sent")
    if tries == 1:
        _log.warning("%s: one try left before it blocks", PIN_RULES[kind].name)
    channel.send(commands.verify(pin))
    _log.debug("%s verified", PIN_RULES[kind].name)


def change(channel: ApduChannel, kind: PinKind, current: bytes, new: bytes) -> None:
    """VERIFY ``current``, then CHANGE REFERENCE DATA to ``new``.

    Raises:
        PinBlockedError, WrongPinError: as :func:`verify`.
        CardError: the card refused the change.
    """
    verify(channel, kind, current)
    channel.send(commands.change_reference_data(new))
    _log.info("%s changed", PIN_RULES[kind].name)
