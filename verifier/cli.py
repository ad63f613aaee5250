# SPDX-License-Identifier: Apache-2.0
"""``myna-edge verifier``: run the service, or issue a terminal certificate.

Why here and not in ``myna_edge.cli``: each component registers its own
subcommands (``add_parser``), so the top-level CLI never learns our options::

    myna-edge verifier --listen 127.0.0.1:50051 [--config verifier.toml]
                       [--db sqlite:///PATH | --db postgresql://...] [--insecure-dev]
    myna-edge verifier issue-terminal-cert --terminal-id ID --out DIR [--config ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from verifier.config import VerifierConfig, load_config
from verifier.errors import VerifierError

__all__ = ["add_parser", "run_issue_terminal_cert", "run_verifier"]

_log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``verifier`` and its ``issue-terminal-cert`` subcommand."""
    parser = sub.add_parser("verifier", help="run the central verification service")
    parser.add_argument("--listen", help="host:port to bind (default 127.0.0.1:50051)")
    parser.add_argument("--config", type=Path, help="TOML configuration file")
    parser.add_argument("--db", help="sqlite:///PATH (default) or postgresql://...")
    parser.add_argument(
        "--insecure-dev",
        action="store_true",
        default=None,
        help="plaintext, unauthenticated terminals, test PKI: development only",
    )
    parser.set_defaults(handler=run_verifier)
    commands = parser.add_subparsers(dest="verifier_command", metavar="SUBCOMMAND")
    issue = commands.add_parser(
        "issue-terminal-cert", help="issue a terminal mTLS certificate from the terminal CA"
    )
    issue.add_argument("--terminal-id", required=True, help="the terminal id (certificate CN)")
    issue.add_argument("--out", type=Path, required=True, help="folder for the PEM files")
    issue.add_argument("--config", type=Path, dest="issue_config", help="TOML configuration")
    issue.set_defaults(handler=run_issue_terminal_cert)


def _config(args: argparse.Namespace, path: Path | None) -> VerifierConfig:
    return load_config(
        path,
        listen=getattr(args, "listen", None),
        database=getattr(args, "db", None),
        insecure_dev=getattr(args, "insecure_dev", None),
    )


def run_verifier(args: argparse.Namespace) -> int:
    """Run the service until SIGINT/SIGTERM, then drain and stop."""
    try:
        config = _config(args, args.config)
    except VerifierError as exc:
        print(f"myna-edge verifier: {exc}", file=sys.stderr)
        return 2
    if config.insecure_dev:
        print(
            "myna-edge verifier: WARNING: --insecure-dev: plaintext, no terminal "
            "authentication, test PKI trusted. Development only.",
            file=sys.stderr,
        )
    try:
        asyncio.run(_serve(config))
    except VerifierError as exc:
        print(f"myna-edge verifier: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(config: VerifierConfig) -> None:
    from verifier.server import VerifierServer

    server = VerifierServer(config)
    port = await server.start()
    print(f"myna-edge verifier: listening on port {port}", file=sys.stderr, flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    await server.stop()


def run_issue_terminal_cert(args: argparse.Namespace) -> int:
    """Issue ``<id>.pem``, ``<id>.key`` and ``ca.pem`` into ``--out``."""
    from verifier.tls import issue_terminal_certificate, write_issued

    try:
        config = _config(args, args.issue_config or args.config)
        issued = issue_terminal_certificate(config.tls, args.terminal_id)
    except VerifierError as exc:
        print(f"myna-edge verifier: {exc}", file=sys.stderr)
        return 2
    for path in write_issued(issued, args.out, args.terminal_id):
        print(path)
    return 0
