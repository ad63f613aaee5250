# SPDX-License-Identifier: Apache-2.0
"""Opening a virtual card by profile name, and forgetting what it remembered.

``open_card`` is how everything else gets a card: it opens the test PKI in
``<home>/pki``, builds (or reuses cached) certificates in
``<home>/cards/<profile>/``, loads the saved PIN state from ``state.json``
there, and returns a powered-off ``VirtualCard``. ``reset_card`` deletes
that state file, so the next open starts as issued (certificates and their
serial numbers are kept).

Loading RSA keys dominates opening a card (tenths of a second), so built
card images are cached in the process, keyed by folder and profile. A cache
entry is used only while the files it was built from look unchanged (path,
inode, size and mtime of every file in the PKI folder, its subfolders (the
mobile CAs among them) and the card's folder), so a PKI regenerated or a certificate revoked by
another process causes a rebuild.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from hw_sim.card.filesystem import CardImage
from hw_sim.card.issue import build_card, build_phone
from hw_sim.card.pins import PinKey, PinSeed, PinStore
from hw_sim.card.profiles import CardProfile, get_profile
from hw_sim.card.storage import STATE_FILE, forget_state, load_pins
from hw_sim.card.virtual_card import VirtualCard
from hw_sim.home import sim_home
from hw_sim.pki import TestPki, open_mobile_pki

__all__ = ["open_card", "reset_card"]

_log = logging.getLogger(__name__)

_Fingerprint = tuple[tuple[str, int, int, int], ...]
_Built = tuple[CardImage, dict[PinKey, PinSeed]]
_CACHE: dict[tuple[Path, str], tuple[_Fingerprint, _Built]] = {}
_CACHE_LOCK = threading.Lock()


def _card_dir(home: Path, profile: str) -> Path:
    return home / "cards" / profile


def open_card(
    profile: str = "default",
    *,
    home: Path | None = None,
    persist: bool = True,
    reselect_clears_security: bool | None = None,
) -> VirtualCard:
    """Return the virtual card of ``profile``, powered off.

    Args:
        profile: a catalogue name (``hw_sim.card.profiles()``).
        home: the simulator folder; default ``hw_sim.home.sim_home()``.
        persist: load PIN state saved by earlier runs and save every change;
            False starts as issued and keeps everything in memory.
        reselect_clears_security: override the profile's choice of whether
            SELECT of the current application clears its security status.

    Raises:
        UnknownProfileError: no such profile.
        CardStateError: the saved state file is damaged or foreign.
        hw_sim.pki.PkiCacheError: the PKI folder is damaged.
        OSError: the folder cannot be created or written.
    """
    card_profile = get_profile(profile)
    root = sim_home(home)
    card_dir = _card_dir(root, card_profile.name)
    image, seeds = _built(card_profile, root, card_dir)
    state_path = card_dir / STATE_FILE
    pins = load_pins(state_path, card_profile.name, seeds) if persist else PinStore.issue(seeds)
    clears = (
        card_profile.reselect_clears_security
        if reselect_clears_security is None
        else reselect_clears_security
    )
    _log.debug("opened card %s (persist=%s)", card_profile.name, persist)
    return VirtualCard(
        image,
        pins,
        profile_name=card_profile.name,
        reselect_clears_security=clears,
        state_path=state_path if persist else None,
    )


def _built(profile: CardProfile, root: Path, card_dir: Path) -> _Built:
    key = (root.resolve(), profile.name)
    pki_dir = root / "pki"
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None and cached[0] == _fingerprint(pki_dir, card_dir):
            return cached[1]
        if profile.device.is_phone:
            built = build_phone(profile, open_mobile_pki(pki_dir), card_dir)
        else:
            built = build_card(profile, TestPki.open(pki_dir), card_dir)
        _CACHE[key] = (_fingerprint(pki_dir, card_dir), built)
        return built


def _fingerprint(pki_dir: Path, card_dir: Path) -> _Fingerprint:
    """Identify the files a card image was built from (state.json excluded)."""
    entries: list[tuple[str, int, int, int]] = []
    pending = [pki_dir, card_dir]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as scan:
                for entry in scan:
                    if entry.is_dir(follow_symlinks=False) and folder == pki_dir:
                        pending.append(Path(entry.path))
                    elif entry.is_file() and entry.name != STATE_FILE:
                        stat = entry.stat()
                        entries.append((entry.path, stat.st_ino, stat.st_size, stat.st_mtime_ns))
        except FileNotFoundError:
            continue
    return tuple(sorted(entries))


def reset_card(profile: str, *, home: Path | None = None) -> None:
    """Forget ``profile``'s saved state: the next ``open_card`` starts as issued.

    Raises:
        UnknownProfileError: no such profile.
        OSError: the state file exists but cannot be deleted.
    """
    card_profile = get_profile(profile)
    removed = forget_state(_card_dir(sim_home(home), card_profile.name) / STATE_FILE)
    _log.debug("reset card %s (had state: %s)", card_profile.name, removed)
