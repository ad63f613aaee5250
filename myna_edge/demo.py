# SPDX-License-Identifier: Apache-2.0
"""``myna-edge demo``: the main job on the embedded default, no hardware.

The main job is the terminal's three flows on the default virtual card:
card reading (with the verifier's VerifyCard and the issuer-signed
integrity check), the identity-verified transfer at an ATM with the
password on the controller's secure PIN pad, and the PIN reset at a kiosk
after a booking from the phone. Everything runs in this process or in
simulators it starts (``myna_edge.demo_transfer``); ``--flow`` picks one
flow, ``--card revoked`` / ``--amount`` / ``--decline`` show failure paths;
``--ui`` serves the kiosk touchscreen app instead (``myna_edge.demo_ui``).
``--flow counter`` runs the staffed desk's counter check (対面確認) from the
chip instead (``myna_edge.demo_counter``).
The demo knows the test card's PINs because it is a test card; a real
card's PINs come from its holder.
"""

from __future__ import annotations

import argparse

from myna_edge.demo_counter import run_counter_demo
from myna_edge.demo_transfer import add_flow_arguments, run_flow_demo
from myna_edge.demo_ui import add_ui_arguments, run_ui_demo

__all__ = ["COUNTER_FLOW", "add_parser", "run_demo"]

#: ``--flow counter``: the counter check, not part of ``--flow all``.
COUNTER_FLOW = "counter"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``demo``."""
    demo = sub.add_parser(
        "demo", help="run the terminal flows end to end on simulated devices (no hardware)"
    )
    add_flow_arguments(demo)
    for action in demo._actions:  # the staffed desk's flow is told apart from the other three
        if action.dest == "flow" and action.choices is not None:
            action.choices = (*action.choices, COUNTER_FLOW)
    add_ui_arguments(demo)
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Run the flows ``args.flow`` names (default: all three); 0 when they ran."""
    if getattr(args, "ui", False):
        return run_ui_demo(args)
    if args.flow == COUNTER_FLOW:
        return run_counter_demo(args)
    return run_flow_demo(args)
