# SPDX-License-Identifier: Apache-2.0
"""A simulated reader slot: a card is put on it or taken away from another process.

Why a file: ``sim://PROFILE`` cards are always present, so insertion and
removal cannot be exercised against an agent running in its own process
(``myna-edge agent``, ``myna-edge dev-stack``). A slot is one small file,
``<sim home>/slots/<NAME>``, holding the profile of the card on the reader
and an insertion id; no file means an empty reader. ``myna-edge sim reader
insert|remove`` write it, the ``sim://?slot=NAME`` transport reads it at
open and before every APDU: an empty slot is "no card", and a file whose
insertion id changed (taken away, even if put back) is "card removed", as a
card leaving the field loses its session. Writes are atomic (``os.replace``),
so a reader never sees half a file.

File grammar (one line, ASCII)::

    PROFILE SP INSERTION-ID LF      INSERTION-ID = 16 lowercase hex digits
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from hw_sim.card import get_profile
from hw_sim.errors import SlotStateError
from hw_sim.home import sim_home

__all__ = [
    "SLOT_FOLDER",
    "SlotState",
    "insert_card",
    "parse_slot",
    "read_slot",
    "remove_card",
    "slot_path",
]

#: Folder under the sim home that holds one file per slot.
SLOT_FOLDER: Final = "slots"
_NAME: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_LINE: Final = re.compile(r"([A-Za-z0-9_.-]{1,64}) ([0-9a-f]{16})\n?")
#: A slot file is one short line; anything longer is not ours.
_MAX_BYTES: Final = 128


@dataclass(frozen=True)
class SlotState:
    """The card on a slot.

    Attributes:
        profile: the card profile (``myna-edge sim cards``).
        insertion: changes at every insertion, so a reader notices a swap.
    """

    profile: str
    insertion: str


def slot_path(name: str, *, home: Path | None = None) -> Path:
    """The file of slot ``name`` under the sim home (not created).

    Raises:
        SlotStateError: ``name`` is not 1-64 of ``A-Z a-z 0-9 _ . -``.
    """
    if not _NAME.fullmatch(name) or name in (".", ".."):
        raise SlotStateError(f"bad reader slot name {name!r}")
    return sim_home(home) / SLOT_FOLDER / name


def parse_slot(data: bytes) -> SlotState:
    """Parse a slot file's bytes (total: any input gives a state or ``SlotStateError``).

    Raises:
        SlotStateError: not the one-line grammar of the module docstring.
    """
    if len(data) > _MAX_BYTES:
        raise SlotStateError("reader slot file too long")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise SlotStateError("reader slot file is not ASCII") from None
    match = _LINE.fullmatch(text)
    if match is None or match[1] in (".", ".."):
        raise SlotStateError("malformed reader slot file")
    return SlotState(match[1], match[2])


def read_slot(name: str, *, home: Path | None = None) -> SlotState | None:
    """The card on slot ``name``, or None when the reader is empty.

    Raises:
        SlotStateError: bad name or damaged file.
        OSError: the file exists but cannot be read.
    """
    try:
        data = slot_path(name, home=home).read_bytes()
    except FileNotFoundError:
        return None
    return parse_slot(data)


def insert_card(name: str, profile: str = "default", *, home: Path | None = None) -> SlotState:
    """Put a ``profile`` card on slot ``name`` (replacing any card there).

    Raises:
        SlotStateError: bad slot name.
        UnknownProfileError: no such card profile.
        OSError: the slot folder cannot be written.
    """
    path = slot_path(name, home=home)
    get_profile(profile)
    state = SlotState(profile, secrets.token_hex(8))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{name}.{os.getpid()}.tmp")
    partial.write_bytes(f"{state.profile} {state.insertion}\n".encode("ascii"))
    os.replace(partial, path)
    return state


def remove_card(name: str, *, home: Path | None = None) -> bool:
    """Take the card off slot ``name``; False when it was already empty.

    Raises:
        SlotStateError: bad slot name.
        OSError: the file cannot be removed.
    """
    try:
        slot_path(name, home=home).unlink()
    except FileNotFoundError:
        return False
    return True
