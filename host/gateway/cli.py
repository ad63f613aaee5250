# SPDX-License-Identifier: Apache-2.0
"""``myna-edge gateway``: serve the kiosk touchscreen app beside a running agent.

On a kiosk PC systemd runs the agent and this gateway side by side; the
locked-down browser opens ``http://127.0.0.1:PORT/`` full screen. The
gateway binds 127.0.0.1 only and reaches the agent at its configured API
address (``unix:PATH`` or ``127.0.0.1:PORT``). It stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from host.api import check_listen
from host.gateway.server import Gateway, GatewayConfig

__all__ = ["add_parser", "run_gateway"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``gateway``."""
    gateway = sub.add_parser(
        "gateway", help="serve the kiosk touchscreen app on 127.0.0.1 (beside the agent)"
    )
    gateway.add_argument(
        "--agent", required=True, help="the agent's API: unix:PATH or 127.0.0.1:PORT"
    )
    gateway.add_argument("--port", type=int, default=8080, help="local port (default 8080)")
    gateway.add_argument(
        "--idle", type=float, default=60.0, help="idle timeout of the app in seconds"
    )
    gateway.add_argument(
        "--voice",
        action="store_true",
        help="speak each screen's prompt in Japanese (never a PIN); needs a speaker",
    )
    gateway.add_argument(
        "--max-connections", type=int, default=32, help="connections served at once (32)"
    )
    gateway.set_defaults(handler=run_gateway)


async def _serve(config: GatewayConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Gateway(config) as gateway:
        print(f"kiosk app: {gateway.url} (agent {config.agent})", flush=True)
        await stop.wait()


def run_gateway(args: argparse.Namespace) -> int:
    """Serve until stopped; 2 on a bad option."""
    try:
        config = GatewayConfig(
            agent=check_listen(args.agent),
            port=args.port,
            idle_seconds=args.idle,
            voice_guidance=args.voice,
            max_connections=args.max_connections,
        )
        Gateway(config)  # checks port and idle before anything binds
    except ValueError as exc:
        print(f"myna-edge gateway: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(config))
    except OSError as exc:
        print(f"myna-edge gateway: cannot serve on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0
