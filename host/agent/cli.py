# SPDX-License-Identifier: Apache-2.0
"""``myna-edge agent --config terminal.toml``: run the terminal agent in the foreground.

systemd runs it (``deploy/myna-edge-agent.service``); it stops on SIGTERM.
A configuration error exits with status 2 and a message naming the key.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from host.agent.config import AgentConfigError, load_agent_config, with_metrics
from host.agent.runner import Agent

__all__ = ["add_parser", "run_agent"]

_log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``agent``."""
    agent = sub.add_parser("agent", help="run the terminal agent (flows + local API)")
    agent.add_argument("--config", type=Path, required=True, help="terminal.toml")
    agent.add_argument(
        "--metrics",
        metavar="ADDRESS",
        help="serve Prometheus /metrics on [HOST:]PORT (127.0.0.1 unless the file allows more)",
    )
    agent.set_defaults(handler=run_agent)


def run_agent(args: argparse.Namespace) -> int:
    """Load the config and run until stopped; 2 on a configuration error."""
    try:
        config = with_metrics(load_agent_config(args.config), getattr(args, "metrics", None))
    except AgentConfigError as exc:
        print(f"myna-edge agent: {exc}", file=sys.stderr)
        return 2
    asyncio.run(Agent(config).run())
    return 0
