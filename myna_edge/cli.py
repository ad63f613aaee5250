# SPDX-License-Identifier: Apache-2.0
"""Argument parsing and dispatch for ``myna-edge``.

Each component registers its own subcommands (``host.cli``, ``hw_sim.cli``,
``myna_edge.demo``, ``myna_edge.bench.cli``), so the command line grows with the
components without this module knowing their options.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from myna_edge import __version__

__all__ = ["COMMAND_REGISTRARS", "build_parser", "main"]

#: ``module:function`` pairs; each function registers its subcommands on the
#: top-level subparsers and sets ``handler`` on them.
COMMAND_REGISTRARS: tuple[str, ...] = (
    "myna_edge.demo:add_parser",
    "host.cli:add_parsers",
    "hw_sim.cli:add_sim_parser",
    "myna_edge.bench.cli:add_parser",
    "verifier.cli:add_parser",
    "host.transport.cli:add_parser",
    "host.agent.cli:add_parser",
    "myna_edge.chaos.cli:add_parser",
    "host.gateway.cli:add_parser",
    "host.xfs4iot.cli:add_parser",
    "myna_edge.devstack:add_parser",
    "myna_edge.firmware:add_parser",
    "municipal.document.cli:add_parser",
    "municipal.cli:add_parser",
    "myna_edge.municipal_world:add_parser",
    "myna_edge.models:add_parser",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the full ``myna-edge`` parser."""
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
    for registrar in COMMAND_REGISTRARS:
        module_name, _, function = registrar.partition(":")
        getattr(importlib.import_module(module_name), function)(sub)
    return parser


def _configure_logging(verbosity: int) -> None:
    from host.transport import TRACE

    level = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}.get(verbosity, TRACE)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``myna-edge``; returns the process exit code."""
    parser = build_parser()
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
