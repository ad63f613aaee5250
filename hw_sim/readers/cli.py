# SPDX-License-Identifier: Apache-2.0
"""``myna-edge sim pcsc``, ``sim pn532`` and ``sim reader``: present a card as hardware.

Why: a developer without a reader runs one of these and then any PC/SC or
libnfc program (``opensc-tool``, ``nfc-list``, ``myna-edge read --reader
pcsc://``) sees the virtual card. Both run until interrupted. For manual
removal: SIGUSR1 takes the card out, SIGUSR2 puts it back.

``sim reader insert|remove|show SLOT`` puts a card on the simulated reader
``sim://?slot=SLOT`` (``hw_sim.readers.slot``), takes it away, or says what
is there; an agent in another process sees the change at its next APDU.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from hw_sim.card import VirtualCard, open_card
from hw_sim.errors import SlotStateError, UnknownProfileError
from hw_sim.readers.pn532_pty import Pn532Pty
from hw_sim.readers.slot import insert_card, read_slot, remove_card
from hw_sim.readers.vpcd import DEFAULT_PORT, VpcdBridge

__all__ = ["add_sim_commands", "run_pcsc", "run_pn532", "run_reader"]


def add_sim_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``sim pcsc`` and ``sim pn532`` on the ``sim`` group."""
    pcsc = commands.add_parser("pcsc", help="present a virtual card to pcscd through vpcd")
    pcsc.add_argument("--profile", default="default", help="card profile (see 'sim cards')")
    pcsc.add_argument("--port", type=int, default=DEFAULT_PORT, help="vpcd port on 127.0.0.1")
    pcsc.add_argument("--home", type=Path, default=None, help="simulator folder")
    pcsc.set_defaults(handler=run_pcsc)
    pn532 = commands.add_parser("pn532", help="a PN532 on a pty with a virtual card in its field")
    pn532.add_argument("--profile", default="default", help="card profile (see 'sim cards')")
    pn532.add_argument("--link", type=Path, required=True, help="symlink to create to the pty")
    pn532.add_argument("--home", type=Path, default=None, help="simulator folder")
    pn532.set_defaults(handler=run_pn532)
    reader = commands.add_parser(
        "reader", help="put a card on the simulated reader sim://?slot=SLOT or take it away"
    )
    reader.add_argument("action", choices=("insert", "remove", "show"))
    reader.add_argument("slot", metavar="SLOT", help="the slot name of the reader URL")
    reader.add_argument("--profile", default="default", help="card to insert (see 'sim cards')")
    reader.add_argument("--home", type=Path, default=None, help="simulator folder")
    reader.set_defaults(handler=run_reader)


def _open_card(args: argparse.Namespace, command: str) -> VirtualCard | None:
    """The ``--profile`` card, or None after telling the user the profile is unknown."""
    try:
        return open_card(args.profile, home=args.home)
    except UnknownProfileError as error:
        print(f"myna-edge sim {command}: {error}", file=sys.stderr)
        return None


def _wait_for_stop(on_remove: Callable[[], None], on_insert: Callable[[], None]) -> None:
    print("SIGUSR1 removes the card, SIGUSR2 inserts it; Ctrl-C stops", flush=True)
    stop = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGUSR1:
            on_remove()
            print("card removed", flush=True)
        elif signum == signal.SIGUSR2:
            on_insert()
            print("card inserted", flush=True)
        else:
            stop.set()

    for signum in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handle)
    while not stop.wait(0.5):
        pass


def run_pcsc(args: argparse.Namespace) -> int:
    """Run the vpcd bridge until SIGINT/SIGTERM."""
    card = _open_card(args, "pcsc")
    if card is None:
        return 2
    with card, VpcdBridge(card, port=args.port) as bridge:
        print(f"card {args.profile!r} dialling vpcd at 127.0.0.1:{args.port}", flush=True)
        _wait_for_stop(bridge.remove, bridge.insert)
    return 0


def run_pn532(args: argparse.Namespace) -> int:
    """Run the PN532 emulator until SIGINT/SIGTERM."""
    card = _open_card(args, "pn532")
    if card is None:
        return 2
    with card, Pn532Pty(card, link=args.link) as pn532:
        print(f"PN532 on {pn532.path}; connstring {pn532.connstring}", flush=True)
        _wait_for_stop(lambda: pn532.place(None), lambda: pn532.place(card))
    return 0


def run_reader(args: argparse.Namespace) -> int:
    """Insert, remove or show the card of a ``sim://?slot=`` reader; 2 on bad input."""
    try:
        if args.action == "insert":
            insert_card(args.slot, args.profile, home=args.home)
            print(f"card {args.profile!r} on sim reader {args.slot!r}")
        elif args.action == "remove":
            removed = remove_card(args.slot, home=args.home)
            print(f"card taken from sim reader {args.slot!r}" if removed else "no card was there")
        else:
            state = read_slot(args.slot, home=args.home)
            print(f"card {state.profile!r}" if state is not None else "empty")
    except (SlotStateError, UnknownProfileError) as error:
        print(f"myna-edge sim reader: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"myna-edge sim reader: {error.strerror}", file=sys.stderr)
        return 1
    return 0
