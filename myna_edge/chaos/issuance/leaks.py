# SPDX-License-Identifier: Apache-2.0
"""The campaign's secrets check: no PIN and no personal data on the MFP side (issue 14).

What is scanned: everything the MFP side wrote during the campaign, that is
each station's journal (SQLite) and electronic journal, and the log of the
whole run (every logger at DEBUG, captured to ``campaign.log``: the agent,
the flow, the clients, the payment and printing drivers, and the centre's
and municipality's own log lines). What must not be there: any resident's
user-authentication PIN in any encoding (``myna_edge.chaos.secrets.scan``:
ASCII with word boundaries, hex, base64, UTF-16), and their name, address
or birth date (UTF-8, as the document prints them). What the operator's
journal may hold is serial, kind, fee, outcome, reason and whether it was
charged (``ISSUE-END``), never who it was for.

Not scanned: the ledgers. The municipality keeps the issued PDFs and the
centre keeps the document until it is settled, by design (access-controlled
files, owner-only mode).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from hw_sim.card import get_profile
from myna_edge.chaos.secrets.scan import Hit, scan

__all__ = ["capture_logs", "find_leaks"]


@contextmanager
def capture_logs(path: Path) -> Iterator[None]:
    """Send every logger's records (DEBUG and up) to ``path`` while the block runs."""
    root = logging.getLogger()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    level = root.level
    # The handlers already there (a terminal's) keep what they showed before.
    quieted = [h for h in root.handlers if h.level == logging.NOTSET]
    for existing in quieted:
        existing.setLevel(level)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for existing in quieted:
            existing.setLevel(logging.NOTSET)
        handler.close()


def _personal(profile: str) -> dict[str, str]:
    person = get_profile(profile).person
    return {
        f"{profile}:name": person.name,
        f"{profile}:address": person.address,
        f"{profile}:birth_date": person.birth_date.strftime("%Y%m%d"),
    }


def _decimal(path: Path, hit: Hit, length: int) -> bool:
    """An ASCII hit that is the whole part of a decimal number (``1234.90 ms``), not a PIN.

    Why: the test cards' PINs (1234, 2468, 5678) are common numbers, and the
    access log prints each call's latency with two decimals; a PIN is never
    written with a fraction. Every other encoding, and a PIN followed by
    anything else, still counts.
    """
    if hit.encoding != "ascii":
        return False
    tail = path.read_bytes()[hit.offset + length : hit.offset + length + 2]
    return len(tail) == 2 and tail[:1] == b"." and tail[1:].isdigit()


def find_leaks(folder: Path, profiles: Sequence[str]) -> list[str]:
    """Every leak under ``folder`` as ``file: label (encoding)``; labels, never values."""
    pins = {f"{profile}:auth_pin": get_profile(profile).auth_pin for profile in profiles}
    hits, _, _ = scan(folder, pins)
    found = [
        f"{Path(hit.path).name}: {hit.label} ({hit.encoding})"
        for hit in hits
        if not _decimal(folder / hit.path, hit, len(pins[hit.label]))
    ]
    personal: dict[str, str] = {}
    for profile in profiles:
        personal.update(_personal(profile))
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for label, value in personal.items():
            if value and value.encode("utf-8") in data:
                found.append(f"{path.name}: {label} (utf-8)")
    return found
