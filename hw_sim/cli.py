# SPDX-License-Identifier: Apache-2.0
"""The ``myna-edge sim`` subcommands: list the virtual cards, reset one.

``sim cards`` prints the catalogue; ``--json`` prints it for machines, with
each card's test PINs, because these are test cards whose credentials are
documented (``hw_sim.card.profiles``). ``sim reset-card PROFILE`` forgets a
card's saved PIN state. The main ``myna-edge`` command wires this in with
``add_sim_parser`` and calls ``run_sim`` for the parsed arguments.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from hw_sim.card import profiles, reset_card
from hw_sim.errors import UnknownProfileError

__all__ = ["SIM_COMMAND_MODULES", "add_sim_parser", "run_sim"]

#: Simulator parts that add their own ``sim`` subcommands (reader bridges,
#: devices). Each module has ``add_sim_commands(commands)``, which registers
#: its parsers on the ``sim`` group and sets ``handler`` on each of them.
SIM_COMMAND_MODULES: tuple[str, ...] = (
    "hw_sim.readers.cli",
    "hw_sim.devices.cli",
    "hw_sim.pki.export",
)


def add_sim_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``sim`` command group on ``subparsers``."""
    sim = subparsers.add_parser("sim", help="the hardware simulator's virtual cards")
    commands = sim.add_subparsers(dest="sim_command", metavar="COMMAND", required=True)
    cards = commands.add_parser("cards", help="list the virtual card profiles")
    cards.add_argument("--json", action="store_true", help="print JSON with the test PINs")
    reset = commands.add_parser("reset-card", help="forget a card's saved PIN state")
    reset.add_argument("profile", metavar="PROFILE", help="a profile name from 'sim cards'")
    reset.add_argument("--home", type=Path, default=None, help="simulator folder")
    for module_name in SIM_COMMAND_MODULES:
        importlib.import_module(module_name).add_sim_commands(commands)


def run_sim(args: argparse.Namespace) -> int:
    """Run the ``sim`` subcommand in ``args``; return the exit status."""
    if args.sim_command == "cards":
        return _cards(as_json=bool(args.json))
    if args.sim_command == "reset-card":
        try:
            reset_card(args.profile, home=args.home)
        except UnknownProfileError as error:
            print(f"myna-edge sim: {error}", file=sys.stderr)
            return 2
        except OSError as error:
            print(f"myna-edge sim: cannot reset: {error.strerror}", file=sys.stderr)
            return 1
        print(f"reset {args.profile}: it starts as issued on next use")
        return 0
    print(f"myna-edge sim: unknown command {args.sim_command!r}", file=sys.stderr)
    return 2


def _cards(*, as_json: bool) -> int:
    catalogue = profiles()
    if as_json:
        document: list[dict[str, Any]] = [
            {
                "name": profile.name,
                "kind": profile.device.value,
                "state": profile.state,
                "description": profile.description,
                "pins": {
                    "auth_pin": profile.auth_pin,
                    "sign_password": profile.sign_password,
                    "text_pin": profile.text_pin,
                },
            }
            for profile in catalogue
        ]
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return 0
    name_width = max(len("NAME"), *(len(profile.name) for profile in catalogue))
    state_width = max(len("STATE"), *(len(profile.state) for profile in catalogue))
    kind_width = max(len("KIND"), *(len(profile.device.value) for profile in catalogue))
    print(f"{'NAME':<{name_width}}  {'KIND':<{kind_width}}  {'STATE':<{state_width}}  DESCRIPTION")
    for profile in catalogue:
        print(
            f"{profile.name:<{name_width}}  {profile.device.value:<{kind_width}}"
            f"  {profile.state:<{state_width}}  {profile.description}"
        )
    return 0
