# SPDX-License-Identifier: Apache-2.0
"""Argument parsing and dispatch for ``myna-edge``.

Each component registers its own subcommands (``host.cli``, ``hw_sim.cli``,
``myna_edge.demo``, ``myna_edge.bench.cli``), so the command line grows with the
components without this module knowing their options.

Why a table of command names: importing every registrar costs a long-running
process about 56 MB and 750 modules it never uses (the demo alone brings the
PDF, font and barcode stacks, the verifier and the simulator), which took the
agent's RSS past its budget. ``build_parser`` imports only the registrar of the
command named on the line, and all of them for ``--help`` or an unknown name;
a test checks the table against what each registrar really registers.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from myna_edge import __version__

__all__ = ["COMMAND_REGISTRARS", "build_parser", "main"]

#: ``module:function`` -> the top-level commands it registers (each sets
#: ``handler`` on its subparsers). Listed by hand so a command imports only its own.
COMMAND_REGISTRARS: dict[str, tuple[str, ...]] = {
    "myna_edge.demo:add_parser": ("demo",),
    "host.cli:add_parsers": ("read", "pin-status"),
    "hw_sim.cli:add_sim_parser": ("sim",),
    "myna_edge.bench.cli:add_parser": ("bench",),
    "verifier.cli:add_parser": ("verifier",),
    "host.transport.cli:add_parser": ("readers",),
    "host.agent.cli:add_parser": ("agent",),
    "myna_edge.chaos.cli:add_parser": ("chaos",),
    "host.gateway.cli:add_parser": ("gateway",),
    "host.xfs4iot.cli:add_parser": ("xfs4iot",),
    "myna_edge.devstack:add_parser": ("dev-stack",),
    "myna_edge.firmware:add_parser": ("firmware",),
    "municipal.document.cli:add_parser": ("document",),
    "municipal.cli:add_parser": ("municipal",),
    "myna_edge.municipal_world:add_parser": ("municipal-registry",),
    "myna_edge.models:add_parser": ("models",),
}


def _registrars_for(argv: Sequence[str] | None) -> list[str]:
    """The registrars to import for ``argv``: the named command's, else all."""
    words = [w for w in (sys.argv[1:] if argv is None else argv) if not w.startswith("-")]
    if words:
        for registrar, commands in COMMAND_REGISTRARS.items():
            if words[0] in commands:
                return [registrar]
    return list(COMMAND_REGISTRARS)  # --help, no command or a typo: argparse lists them all


def build_parser(argv: Sequence[str] | None = ()) -> argparse.ArgumentParser:
    """Build the ``myna-edge`` parser: every command, or only the one ``argv`` names.

    ``argv=()`` (the default) builds all of them; ``None`` reads ``sys.argv``.
    """
    parser = argparse.ArgumentParser(
        prog="myna-edge",
        description="Edge stack for terminals that use the My Number card.",
    )
    parser.add_argument("--version", action="version", version=f"myna-edge {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log more: -v info, -vv debug, -vvv APDU trace (redacted)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for registrar in _registrars_for(argv):
        module_name, _, function = registrar.partition(":")
        getattr(importlib.import_module(module_name), function)(sub)
    return parser


def _configure_logging(verbosity: int) -> None:
    from host.transport import TRACE

    level = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}.get(verbosity, TRACE)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``myna-edge``; returns the process exit code."""
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    handler = getattr(args, "handler", None)
    if handler is None:
        # hw_sim.cli registers run_sim as its entry point.
        from hw_sim import cli as sim_cli

        handler = sim_cli.run_sim
    try:
        code: int = handler(args)
    except KeyboardInterrupt:
        print("myna-edge: interrupted", file=sys.stderr)
        return 130
    return code
