# SPDX-License-Identifier: Apache-2.0
"""``myna-edge demo``: the main job on the embedded default, no hardware.

The main job is the terminal's four flows on the default virtual card:
card reading (with the verifier's VerifyCard and the issuer-signed
integrity check), the identity-verified transfer at an ATM with the
password on the controller's secure PIN pad, the PIN reset at a kiosk
after a booking from the phone, and a certificate printed at a
convenience-store MFP (``myna_edge.demo.issue``: ccTalk payment on a pty,
CUPS with ``ippeveprinter``). Everything runs in this process or in
simulators it starts. ``--flow`` picks one flow (the registry of stories is
``myna_edge.demo.stories``), ``--card revoked`` / ``--amount`` /
``--decline`` show failure paths; ``--ui`` serves the kiosk touchscreen app
instead (``myna_edge.demo.ui``). ``--flow counter`` runs the staffed desk's
counter check (対面確認) from the chip instead (``myna_edge.demo.counter``).
The demo knows the test card's PINs because it is a test card; a real
card's PINs come from its holder. Also ``python -m myna_edge.demo``.

The package's modules: ``world`` (the in-process verifier and the
simulated devices), ``stories`` (the ``--flow`` registry and its runner),
``flows`` (the kiosk's read and reset stories), ``transfer`` (the ATM's
story), ``counter`` (the staffed desk), ``ui`` and ``readers`` (the
touchscreen app, the simulator panel in ``panel/`` and the reader slots).
"""

from __future__ import annotations

import argparse

from myna_edge.demo.counter import run_counter_demo
from myna_edge.demo.stories import COUNTER_FLOW, add_flow_arguments, run_stories
from myna_edge.demo.ui import add_ui_arguments, run_ui_demo

__all__ = ["add_arguments", "add_parser", "main", "run_demo"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options (the ``--flow`` choices and ``--ui``) to ``parser``."""
    add_flow_arguments(parser)
    add_ui_arguments(parser)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``demo``."""
    demo = sub.add_parser(
        "demo", help="run the terminal flows end to end on simulated devices (no hardware)"
    )
    add_arguments(demo)
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Run the flows ``args.flow`` names (default: all four); 0 when they ran."""
    if getattr(args, "ui", False):
        return run_ui_demo(args)
    if args.flow == COUNTER_FLOW:
        return run_counter_demo(args)
    return run_stories(args)


def main(argv: list[str] | None = None) -> int:
    """``python -m myna_edge.demo [--flow F] [--card P] [--document K] [--decline] [--ui]``."""
    parser = argparse.ArgumentParser(prog="myna-edge demo")
    add_arguments(parser)
    return run_demo(parser.parse_args(argv))
