# SPDX-License-Identifier: Apache-2.0
"""``myna-edge xfs4iot``: serve the agent's devices as XFS4IoT services on 127.0.0.1.

On an ATM, systemd runs the agent and this front end side by side; the
bank's XFS4IoT application discovers the services at
``ws://127.0.0.1:PORT/xfs4iot/v1.0``. It stops on SIGTERM/SIGINT. Serving
another address takes ``--host`` plus ``--allow-remote`` and a TLS
certificate (docs/xfs4iot.md): never by accident, never in clear.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from host.api import check_listen
from host.xfs4iot.server import DEFAULT_PORT, Xfs4IotConfig, Xfs4IotServer

__all__ = ["add_parser", "run_xfs4iot"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``xfs4iot``."""
    parser = sub.add_parser(
        "xfs4iot", help="serve the agent's devices as XFS4IoT services on 127.0.0.1"
    )
    parser.add_argument(
        "--agent", required=True, help="the agent's API: unix:PATH or 127.0.0.1:PORT"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"local port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a browser origin allowed to connect (repeatable; default: none)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; non-loopback needs --allow-remote)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="serve a non-loopback address to other machines (requires --tls-cert/--tls-key)",
    )
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate chain for wss://")
    parser.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    parser.set_defaults(handler=run_xfs4iot)


async def _serve(config: Xfs4IotConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Xfs4IotServer(config) as server:
        print(f"XFS4IoT service publisher: {server.url} (agent {config.agent})", flush=True)
        await stop.wait()


def run_xfs4iot(args: argparse.Namespace) -> int:
    """Serve until stopped; 2 on a bad option, 1 when the port cannot be bound."""
    try:
        config = Xfs4IotConfig(
            agent=check_listen(args.agent),
            port=args.port,
            allowed_origins=frozenset(args.allow_origin),
            host=args.host,
            allow_remote=args.allow_remote,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
        )
    except ValueError as exc:
        print(f"myna-edge xfs4iot: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(config))
    except OSError as exc:
        print(f"myna-edge xfs4iot: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0
