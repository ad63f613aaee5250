# SPDX-License-Identifier: Apache-2.0
"""VERIFY and CHANGE REFERENCE DATA: the PIN objects' two commands.

Rules (jpki-card.md §4.1, §4.3, §5, §9.2):

* The PIN object is the current EF (``P2=80``) or named by short EF id
  (``P2=80|SFI``, e.g. ``98`` for EF 0018); other P2 values are ``6A86``,
  and P1 must be ``00``.
* Empty VERIFY (case 1) reports the counter as ``63Cx`` and never spends a
  try; on a blocked object it answers ``63C0``. A case-2 or case-4 VERIFY
  is ``6700``.
* VERIFY with data: right → ``9000``, counter back to its maximum, the
  object counts as verified in this application; wrong → one try spent,
  ``63Cx`` with the tries left (``63C0`` on the try that blocks), and the
  object no longer counts as verified; blocked → ``6984`` and nothing
  spent. Bytes are compared as sent: a value of the wrong format is a wrong
  PIN (a real card compares reference data; it has no format to check).
* CHANGE REFERENCE DATA ``00 24 01 80|SFI Lc <new>`` needs the object
  verified in this application (else ``6982``); objects whose value is
  derived from card data (照合番号A/B, birth-date key) cannot change
  (``6985``); a new value that breaks the format is ``6A80`` and changes
  nothing. ``P1=00`` (old and new value together) is not supported
  (``6A86``): no source uses it.
* Phones (``phones``, UNCONFIRMED): CHANGE REFERENCE DATA is ``6985`` (the
  user changes secrets on the phone). An iPhone takes no PIN at the
  terminal: VERIFY with data is ``6985``, and an empty VERIFY answers the
  approval's status (``9000`` once approved).
"""

from __future__ import annotations

from typing import Final

from hw_sim.card.apdu import CommandApdu, ResponseApdu, status
from hw_sim.card.constants import Sw, sw_tries
from hw_sim.card.filesystem import PinEf
from hw_sim.card.pins import PinKey, VerifyResult
from hw_sim.card.session import CardContext

__all__ = ["change_reference_data", "verify"]

_ANY_PIN: Final = frozenset({-1})


def verify(ctx: CardContext, cmd: CommandApdu) -> ResponseApdu:
    """Handle VERIFY (``00 20``)."""
    if cmd.p1 != 0x00:
        return status(Sw.WRONG_P1P2)
    target = _resolve(ctx, cmd.p2)
    if isinstance(target, Sw):
        return status(target)
    if cmd.le is not None:
        return status(Sw.WRONG_LENGTH)
    fid, key = target
    record = ctx.pins.record(key)
    if ctx.approval is not None:
        return status(_phone_verify(ctx, bool(cmd.data)))
    if not cmd.data:
        return status(sw_tries(0 if record.blocked else record.tries_left))
    result = ctx.pins.verify(key, cmd.data)
    if result is VerifyResult.BLOCKED:
        return status(Sw.PIN_BLOCKED)
    if result is VerifyResult.MATCH:
        ctx.security.verified.add(fid)
        return status(Sw.OK)
    ctx.security.verified.discard(fid)
    return status(sw_tries(record.tries_left))


def change_reference_data(ctx: CardContext, cmd: CommandApdu) -> ResponseApdu:
    """Handle CHANGE REFERENCE DATA (``00 24``)."""
    if cmd.p1 != 0x01:
        return status(Sw.WRONG_P1P2)
    target = _resolve(ctx, cmd.p2)
    if isinstance(target, Sw):
        return status(target)
    if cmd.case != 3:
        return status(Sw.WRONG_LENGTH)
    fid, key = target
    record = ctx.pins.record(key)
    if ctx.image.device.is_phone:
        return status(Sw.CONDITIONS_NOT_SATISFIED)  # phones: changed on the phone only
    if fid not in ctx.security.verified:
        return status(Sw.SECURITY_NOT_SATISFIED)
    if not record.policy.changeable:
        return status(Sw.CONDITIONS_NOT_SATISFIED)
    if not record.policy.accepts(cmd.data):
        return status(Sw.WRONG_DATA)
    ctx.pins.change(key, cmd.data)
    return status(Sw.OK)


def _phone_verify(ctx: CardContext, with_data: bool) -> Sw:
    """VERIFY on an iPhone: no PIN at the terminal; the status is the approval's."""
    if with_data:
        return Sw.CONDITIONS_NOT_SATISFIED
    return ctx.refusal(_ANY_PIN) or Sw.OK


def _resolve(ctx: CardContext, p2: int) -> tuple[int, PinKey] | Sw:
    """Find the PIN object P2 names: (file id, PIN-store key) or the SW to answer."""
    ef = ctx.referenced_ef(p2, PinEf)
    if isinstance(ef, Sw):
        return ef
    key = ctx.pin_key(ef.fid)
    if key is None:  # a PIN EF without a record: an image/store mismatch
        return Sw.NOT_FOUND
    return ef.fid, key
