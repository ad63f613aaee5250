# SPDX-License-Identifier: Apache-2.0
"""What was presented: a My Number card, an Android phone or an iPhone.

Why from answers and not from configuration: the same reader takes all
three, and the terminal learns which one only when it speaks to it. This is
the one host module that knows the phones' identifiers (the simulator's
counterpart is ``hw_sim/card/phones.py``); flows receive a
``CredentialKind`` and never see an AID or a label.

Evidence, strongest first:

1. the JPKI token label in EF 0006 (jpki-card.md §3.1: ``JPKIAPICCTOKEN2``
   card, ``JPKIAPICCTOKEN`` 住基カード, ``JPKIAPGPSETOKEN`` Android (MYNA),
   ``JPKIAPIOSTOKEN`` iPhone (SOL));
2. which phone DF name SELECT accepts (UNCONFIRMED identifiers, below);
   a card answers ``6A82`` to both;
3. the ATR only says contact or contactless: a PC/SC part 3 reader builds
   ``3B 8n 80 01 <historical bytes> TCK`` for any contactless target, and
   the same card gives different ATRs on different readers (§1.2), so the
   ATR never decides the kind.

The label and the AID must agree; when they contradict each other the
credential is refused (``DataFormatError``) rather than guessed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from host.card import commands
from host.card import constants as c
from host.card.selection import tracker_for
from host.channel import ApduChannel
from host.errors import DataFormatError
from host.transport.base import CardTransport

__all__ = [
    "CredentialKind",
    "Detection",
    "contactless_historical_bytes",
    "detect_credential",
    "fuzz_contactless_atr",
    "kind_from_label",
]

_log = logging.getLogger(__name__)


class CredentialKind(StrEnum):
    """What carries the JPKI credential the holder presented."""

    CARD = "card"
    ANDROID = "android"
    IPHONE = "iphone"

    @property
    def is_phone(self) -> bool:
        """Whether it is a smartphone (secrets managed on the phone)."""
        return self is not CredentialKind.CARD


#: EF 0006 labels (§3.1). The old 住基カード label counts as a card.
_LABELS: Final = {
    "JPKIAPICCTOKEN2": CredentialKind.CARD,
    "JPKIAPICCTOKEN": CredentialKind.CARD,
    "JPKIAPGPSETOKEN": CredentialKind.ANDROID,
    "JPKIAPIOSTOKEN": CredentialKind.IPHONE,
}
# UNCONFIRMED: the phones' own DF names (the same values as the simulator's
# hw_sim/card/phones.py; host/ must not import hw_sim/, STYLE §1).
_PHONE_AIDS: Final = (
    (bytes.fromhex("D392F000260100000021"), CredentialKind.ANDROID),
    (bytes.fromhex("D392F000260100000031"), CredentialKind.IPHONE),
)
#: Any refusal of a SELECT just means "not this one".
_REFUSALS: Final = range(0x6000, 0x7000)
_PCSC_CONTACTLESS: Final = bytes.fromhex("8001")  # TD1 = 80, TD2 = 01 (T=1)


@dataclass(frozen=True)
class Detection:
    """What ``detect_credential`` found, and on what evidence.

    Attributes:
        kind: card, Android or iPhone.
        token_label: the JPKI token label, or "" when the AP did not select.
        phone_aid: the phone DF name that selected, or None.
        contactless: the ATR has the PC/SC part 3 contactless shape; None
            when no ATR was given.
    """

    kind: CredentialKind
    token_label: str
    phone_aid: bytes | None
    contactless: bool | None


def kind_from_label(label: str) -> CredentialKind | None:
    """Return the kind a JPKI token label names, or None for an unknown label."""
    return _LABELS.get(label.strip("\x00 "))


def contactless_historical_bytes(atr: bytes) -> bytes | None:
    """Return the historical bytes of a PC/SC part 3 contactless ATR, else None.

    Total: any bytes give bytes or None. The shape is ``3B 8n 80 01``, ``n``
    historical bytes, then TCK (XOR of T0..the last historical byte).
    """
    if len(atr) < 5 or atr[0] != 0x3B or atr[1] & 0xF0 != 0x80:
        return None
    count = atr[1] & 0x0F
    if atr[2:4] != _PCSC_CONTACTLESS or len(atr) != 5 + count:
        return None
    check = 0
    for byte in atr[1:]:
        check ^= byte
    return bytes(atr[4 : 4 + count]) if check == 0 else None


def detect_credential(
    channel_or_transport: ApduChannel | CardTransport, *, atr: bytes | None = None
) -> Detection:
    """Find out from its answers whether a card, an Android phone or an iPhone is present.

    Leaves the JPKI AP selected when the credential has one (``MynaCard``
    methods then skip their SELECT of it: ``host.card.selection``). Spends
    no PIN try.

    Args:
        channel_or_transport: an open transport, or a channel over one.
        atr: the ATR, when the caller has it (recorded as evidence only).

    Raises:
        DataFormatError: neither the label nor a phone AID identifies the
            credential, or they contradict each other.
        CardError: a refusal while reading the token label.
        TransportError: the transport's failures, unchanged.
    """
    channel = (
        channel_or_transport
        if isinstance(channel_or_transport, ApduChannel)
        else ApduChannel(channel_or_transport)
    )
    tracker_for(channel.transport)  # watch from the first SELECT on
    # The phone DF names first, the JPKI AP last: the AP is then what stays
    # selected, and the flow's next command (in the AP) needs no SELECT again.
    phone_aid, by_aid = _phone_aid(channel)
    label = _token_label(channel)
    by_label = kind_from_label(label) if label else None
    if by_label is not None and by_aid is not None and by_label is not by_aid:
        raise DataFormatError("the token label and the phone AID name different credentials")
    if by_label is CredentialKind.CARD and by_aid is not None:
        raise DataFormatError("a card label with a phone AID")
    kind = by_label or by_aid
    if kind is None:
        raise DataFormatError("the credential is neither a My Number card nor a JPKI phone")
    contactless = None if atr is None else contactless_historical_bytes(atr) is not None
    _log.debug("credential detected: %s (label %r)", kind.value, label)
    return Detection(kind, label, phone_aid, contactless)


def _token_label(channel: ApduChannel) -> str:
    selected = channel.send(commands.select_aid(c.JPKI_AID), allow=_REFUSALS)
    if selected.sw != 0x9000:
        return ""
    channel.send(commands.select_ef(c.FID_TOKEN_INFO))
    raw = channel.send(commands.read_binary(0, c.TOKEN_LABEL_LENGTH)).data
    try:
        return raw.decode("ascii").strip("\x00 ")
    except UnicodeDecodeError:
        raise DataFormatError("token label is not ASCII") from None


def _phone_aid(channel: ApduChannel) -> tuple[bytes | None, CredentialKind | None]:
    for aid, kind in _PHONE_AIDS:
        if channel.send(commands.select_aid(aid), allow=_REFUSALS).sw == 0x9000:
            return aid, kind
    return None, None


def fuzz_contactless_atr(data: bytes) -> None:
    """Fuzz target: the ATR parser and label mapping return for any bytes."""
    contactless_historical_bytes(data)
    kind_from_label(data.decode("latin-1"))
