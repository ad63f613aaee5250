# SPDX-License-Identifier: Apache-2.0
"""``myna-edge readers``: every reader the host can reach, on every transport.

The transport layer's command (as ``hw_sim.readers.cli`` is the simulated
readers'); it was ``host/readers.py`` until issue 13.8.

Why: the first question at a terminal with a new reader is "does the host
see it, and under which URL?". Each backend is asked in turn; one that
cannot run here (pyscard missing, pcscd stopped) is reported, not fatal.
libnfc devices on a pty are found only through ``LIBNFC_DEVICE`` or
libnfc.conf (libnfc scans only ttyUSB/ttyS/ttyACM/ttyAMA names).
"""

from __future__ import annotations

import argparse
import ctypes
import json
from dataclasses import asdict, dataclass
from urllib.parse import quote

from host.errors import MynaEdgeError
from host.transport import nfc_binding

__all__ = ["ReaderEntry", "add_parser", "list_all", "run_readers"]


@dataclass(frozen=True)
class ReaderEntry:
    """One reader (or one backend's error)."""

    transport: str
    url: str
    name: str
    card_present: bool | None
    error: str = ""


def _pcsc() -> list[ReaderEntry]:
    from host.transport.pcsc import list_readers

    return [
        ReaderEntry("pcsc", f"pcsc://{quote(name)}", name, present)
        for name, present in list_readers()
    ]


def _libnfc() -> list[ReaderEntry]:
    try:
        nfc = nfc_binding.load()
    except (ImportError, OSError) as exc:
        return [ReaderEntry("libnfc", "", "", None, f"pynfc/libnfc unavailable: {exc}")]
    context = ctypes.POINTER(nfc.nfc_context)()
    nfc.nfc_init(ctypes.byref(context))
    if not context:
        return [ReaderEntry("libnfc", "", "", None, "libnfc could not initialise")]
    try:
        found = (nfc.nfc_connstring * 8)()
        count = nfc.nfc_list_devices(context, found, 8)
        names = [found[i].value.decode() for i in range(max(0, count))]
    finally:
        nfc.nfc_exit(context)
    return [ReaderEntry("libnfc", f"libnfc://{name}", name, None) for name in names]


def list_all() -> list[ReaderEntry]:
    """Readers on every transport; a backend that fails gives one error entry."""
    entries = [ReaderEntry("sim", "sim://default", "virtual card (in-process)", True)]
    try:
        entries += _pcsc()
    except MynaEdgeError as exc:
        entries.append(ReaderEntry("pcsc", "", "", None, str(exc)))
    entries += _libnfc()
    return entries


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``readers``."""
    readers = sub.add_parser("readers", help="list readers on every transport")
    readers.add_argument("--json", action="store_true", help="print JSON")
    readers.set_defaults(handler=run_readers)


def run_readers(args: argparse.Namespace) -> int:
    """Print the readers; exit 0 even when a backend is unavailable."""
    entries = list_all()
    if args.json:
        print(json.dumps([asdict(e) for e in entries], indent=2))
        return 0
    for entry in entries:
        if entry.error:
            print(f"{entry.transport:7} unavailable: {entry.error}")
            continue
        card = {True: "card", False: "no card", None: "-"}[entry.card_present]
        print(f"{entry.transport:7} {entry.url:45} {card}")
    return 0
