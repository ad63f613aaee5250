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

from host.agent.config import AgentConfigError, load_agent_config, with_metrics, with_tracing
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
    agent.add_argument(
        "--otlp",
        metavar="URL",
        help="send OpenTelemetry traces to this OTLP/HTTP endpoint (.../v1/traces)",
    )
    agent.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="log lines as text (default) or JSON lines with trace and request ids",
    )
    agent.set_defaults(handler=run_agent)


def run_agent(args: argparse.Namespace) -> int:
    """Load the config and run until stopped; 2 on a configuration error."""
    try:
        config = with_metrics(load_agent_config(args.config), getattr(args, "metrics", None))
        config = with_tracing(config, getattr(args, "otlp", None))
    except AgentConfigError as exc:
        print(f"myna-edge agent: {exc}", file=sys.stderr)
        return 2
    log_format = getattr(args, "log_format", None) or config.log_format
    if log_format == "json":
        from myna_metrics.json_logs import use_json_logs

        use_json_logs()
    asyncio.run(Agent(config).run())
    return 0
