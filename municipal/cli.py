# SPDX-License-Identifier: Apache-2.0
"""``myna-edge municipal --config FILE``: run the reference municipality service.

Flags override the file: ``--listen``, ``--db``, ``--registry``, ``--metrics``; plaintext
only with ``--insecure-dev`` on a loopback address (``municipal.config``).
SIGINT/SIGTERM drain in-flight RPCs, then the ledger is closed. The
reference registry file is written by ``myna-edge municipal-registry``
(``myna_edge.municipal_world``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import signal
import sys
from pathlib import Path

from municipal.config import MunicipalConfig, load_config, with_metrics
from municipal.errors import MunicipalError

__all__ = ["add_parser", "run_municipal"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``myna-edge municipal``."""
    parser = sub.add_parser(
        "municipal", help="run the reference municipality issuing service (証明発行サーバ)"
    )
    parser.add_argument("--config", type=Path, required=True, help="TOML configuration file")
    parser.add_argument("--listen", help="host:port to bind (overrides the file)")
    parser.add_argument("--db", help="sqlite:///PATH ledger (overrides the file)")
    parser.add_argument("--registry", type=Path, help="registry JSON file (overrides the file)")
    parser.add_argument(
        "--metrics",
        metavar="[HOST:]PORT",
        help="serve Prometheus /metrics on [HOST:]PORT (127.0.0.1 unless the file allows more)",
    )
    parser.add_argument(
        "--insecure-dev",
        action="store_true",
        help="plaintext gRPC on a loopback address, no client certificate (development only)",
    )
    parser.set_defaults(handler=run_municipal)


def _config(args: argparse.Namespace) -> MunicipalConfig:
    config = load_config(args.config)
    changes: dict[str, object] = {"insecure_dev": bool(args.insecure_dev)}
    if args.listen:
        changes["listen"] = args.listen
    if args.db:
        changes["database"] = args.db
    if args.registry:
        changes["registry"] = args.registry
    config = dataclasses.replace(config, **changes)  # type: ignore[arg-type]
    return with_metrics(config, getattr(args, "metrics", None))


async def _serve(config: MunicipalConfig) -> None:
    from municipal.server import MunicipalServer

    server = MunicipalServer(config)
    port = await server.start()
    print(f"myna-edge municipal: listening on port {port}", file=sys.stderr, flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    await server.stop()


def run_municipal(args: argparse.Namespace) -> int:
    """Run the service until SIGINT/SIGTERM; 2 on a configuration error."""
    try:
        asyncio.run(_serve(_config(args)))
    except MunicipalError as exc:
        print(f"myna-edge municipal: {exc}", file=sys.stderr)
        return 2
    return 0
