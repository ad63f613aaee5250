# SPDX-License-Identifier: Apache-2.0
"""``myna-edge sim controller`` and ``myna-edge sim printer``.

``sim controller --link PATH`` runs the firmware under the MicroPython unix
port and exposes the host end of its serial line as the symlink PATH; lines
on standard input drive the board (``pin 1234``, ``password ABCD1234``,
``press F1``, ``tamper open``, ``tamper close``, ``display``, ``quit``).
``sim printer --link PATH --out DIR`` emulates the receipt printer and
writes each receipt to DIR as PNG and text (``paper out|in``,
``cover open|close``, ``quit`` on standard input). Both take the link fault
options ``--corrupt --drop --duplicate --delay`` (probabilities per frame)
and ``--seed``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hw_sim.devices.base import SimDeviceABC
from hw_sim.devices.controller import SimController
from hw_sim.devices.errors import DeviceError
from hw_sim.devices.faults import LinkFaults
from hw_sim.devices.printer import SimPrinter

__all__ = ["add_sim_commands"]

_Device = TypeVar("_Device", bound=SimDeviceABC)


def _fault_options(parser: argparse.ArgumentParser) -> None:
    for name in ("corrupt", "drop", "duplicate", "delay"):
        parser.add_argument(
            f"--{name}", type=float, default=0.0, help=f"{name} probability per frame"
        )
    parser.add_argument("--seed", type=int, default=0, help="fault RNG seed")


def _faults(args: argparse.Namespace) -> LinkFaults:
    return LinkFaults(args.corrupt, args.drop, args.duplicate, args.delay, seed=args.seed)


def add_sim_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``controller`` and ``printer`` on the ``sim`` group."""
    ctl = commands.add_parser("controller", help="run the controller firmware on a pty")
    ctl.add_argument("--link", type=Path, required=True, help="symlink to create for the host end")
    ctl.add_argument("--flash", type=Path, default=None, help="file standing in for flash")
    ctl.add_argument("--serial", default="SIM-00000001", help="board serial number")
    _fault_options(ctl)
    ctl.set_defaults(handler=_run_controller)
    prn = commands.add_parser("printer", help="emulate the ESC/POS receipt printer on a pty")
    prn.add_argument("--link", type=Path, required=True, help="symlink to create for the host end")
    prn.add_argument(
        "--out", type=Path, required=True, help="folder for receipt PNG and text files"
    )
    _fault_options(prn)
    prn.set_defaults(handler=_run_printer)


def _serve(
    command: str,
    make: Callable[[], _Device],
    banner: Callable[[_Device], str],
    handle: Callable[[_Device, list[str], str], None],
) -> int:
    """Start the device, then handle one standard-input command per line until ``quit``/EOF."""
    try:
        sim = make()
        sim.start()
    except (DeviceError, ValueError, OSError) as error:
        print(f"myna-edge sim {command}: {error}", file=sys.stderr)
        return 1
    with sim:
        print(banner(sim))
        sys.stdout.flush()
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "quit":
                break
            handle(sim, words, line)
            sys.stdout.flush()
    return 0


def _run_controller(args: argparse.Namespace) -> int:
    return _serve(
        "controller",
        lambda: SimController(
            flash=args.flash, serial=args.serial, faults=_faults(args), link_path=args.link
        ),
        lambda sim: (
            f"controller on {args.link} (pid {sim.pid}); "
            "commands: pin, password, press, tamper, display, quit"
        ),
        _controller_command,
    )


def _controller_command(sim: SimController, words: list[str], line: str) -> None:
    try:
        if words[0] == "pin":
            sim.enter_pin(words[1])
        elif words[0] == "password":
            sim.enter_password(words[1])
        elif words[0] == "press":
            sim.press(*words[1:])
        elif words[0] == "tamper":
            sim.set_tamper(words[1] == "open")
        elif words[0] == "display":
            print(" | ".join(sim.display()))
        else:
            print(f"unknown command {words[0]!r}")
    except (IndexError, ValueError, DeviceError) as error:
        print(f"error: {error}")


def _run_printer(args: argparse.Namespace) -> int:
    return _serve(
        "printer",
        lambda: SimPrinter(args.out, faults=_faults(args), link_path=args.link),
        lambda sim: (
            f"printer on {args.link}; receipts to {args.out}; "
            "commands: paper out|in, cover open|close, quit"
        ),
        _printer_command,
    )


def _printer_command(sim: SimPrinter, words: list[str], line: str) -> None:
    if words[0] == "paper" and len(words) > 1:
        sim.set_paper_out(words[1] == "out")
    elif words[0] == "cover" and len(words) > 1:
        sim.set_cover_open(words[1] == "open")
    else:
        print(f"unknown command {line.strip()!r}")
