# SPDX-License-Identifier: Apache-2.0
"""Saving and loading a card's memory: PIN counters and changed PIN verifiers.

A real card keeps its retry counters and any new PIN through power-off and
between sessions (jpki-card.md §5), so a virtual card saves them to
``<home>/cards/<profile>/state.json`` after every change and reads them
when opened. The file holds the card's salt and, per PIN object, the tries
left, the salted verifier and a change counter: never a PIN value::

    {"format": 1, "profile": "default", "salt": "<hex>",
     "pins": {"D392F000260100000001/0018":
              {"tries_left": 2, "verifier": "<hex>", "version": 0}, ...}}

A missing file means "as issued". A damaged or foreign file is refused
with ``CardStateError`` rather than silently reset, because a reset would
unblock a blocked PIN. Two cards opened on the same profile and folder
overwrite each other's saves (last write wins); that is a test folder's
problem, not a card's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from hw_sim.card.pins import PinKey, PinRecord, PinSeed, PinStore, pin_key_name
from hw_sim.errors import CardStateError
from hw_sim.files import atomic_write

__all__ = ["STATE_FILE", "forget_state", "load_pins", "save_pins"]

STATE_FILE: Final = "state.json"
_FORMAT: Final = 1
_SALT_BYTES: Final = 16
_VERIFIER_BYTES: Final = 32


def save_pins(path: Path, profile: str, pins: PinStore) -> None:
    """Save ``pins`` to the state file at ``path``.

    Raises:
        OSError: the file cannot be written.
    """
    records: dict[str, dict[str, Any]] = {}
    for key in pins:
        record = pins.record(key)
        records[pin_key_name(key)] = {
            "tries_left": record.tries_left,
            "verifier": None if record.verifier is None else record.verifier.hex(),
            "version": record.version,
        }
    document = {"format": _FORMAT, "profile": profile, "salt": pins.salt.hex(), "pins": records}
    text = json.dumps(document, indent=1, sort_keys=True) + "\n"
    atomic_write(path, text.encode("utf-8"), parents=True)


def load_pins(path: Path, profile: str, seeds: Mapping[PinKey, PinSeed]) -> PinStore:
    """Return the PIN store saved at ``path``, or a fresh one from ``seeds`` if none is.

    PIN objects the file does not mention start as issued.

    Raises:
        CardStateError: the file is unreadable, damaged, of another format or
            of another profile, or names a PIN object this card lacks.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return PinStore.issue(seeds)
    except (OSError, UnicodeDecodeError) as error:
        raise CardStateError("cannot read the card state file", path=str(path)) from error
    try:
        document = json.loads(text)
    except ValueError as error:
        raise CardStateError("the card state file is not JSON", path=str(path)) from error
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        raise CardStateError("unknown card state format", path=str(path))
    if document.get("profile") != profile:
        raise CardStateError("the card state file belongs to another profile", path=str(path))
    salt = _hex(document.get("salt"), _SALT_BYTES, path)
    store = PinStore.issue(seeds, salt=salt)
    saved = document.get("pins")
    if not isinstance(saved, dict):
        raise CardStateError("the card state file has no PIN table", path=str(path))
    names = {pin_key_name(key): key for key in store}
    for name, entry in saved.items():
        key = names.get(name)
        if key is None:
            raise CardStateError("the card state names an unknown PIN object", path=str(path))
        _apply(store.record(key), entry, path)
    return store


def _apply(record: PinRecord, entry: object, path: Path) -> None:
    if not isinstance(entry, dict):
        raise CardStateError("a PIN entry is not an object", path=str(path))
    tries, verifier, version = entry.get("tries_left"), entry.get("verifier"), entry.get("version")
    if (
        not isinstance(tries, int)
        or isinstance(tries, bool)
        or not 0 <= tries <= record.policy.max_tries
    ):
        raise CardStateError("a PIN entry has an impossible counter", path=str(path))
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise CardStateError("a PIN entry has an impossible version", path=str(path))
    record.tries_left = tries
    record.verifier = None if verifier is None else _hex(verifier, _VERIFIER_BYTES, path)
    record.version = version


def _hex(value: object, size: int, path: Path) -> bytes:
    if not isinstance(value, str):
        raise CardStateError("a hex field is missing", path=str(path))
    try:
        data = bytes.fromhex(value)
    except ValueError as error:
        raise CardStateError("a hex field is damaged", path=str(path)) from error
    if len(data) != size:
        raise CardStateError("a hex field has the wrong size", path=str(path))
    return data


def forget_state(path: Path) -> bool:
    """Delete the state file at ``path``; return whether there was one.

    Raises:
        OSError: the file exists but cannot be deleted.
    """
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
