# SPDX-License-Identifier: Apache-2.0
"""``myna-edge verifier``: run the service, or issue a terminal certificate.

Why here and not in ``myna_edge.cli``: each component registers its own
subcommands (``add_parser``), so the top-level CLI never learns our options::

    myna-edge verifier --listen 127.0.0.1:50051 [--config verifier.toml]
                       [--db sqlite:///PATH | --db postgresql://...] [--insecure-dev]
                       [--workers N]  (default one per core; 1 = in this process)
                       [--metrics [HOST:]PORT]  (/metrics; host 127.0.0.1 by default)
                       [--otlp URL] [--log-format text|json]  (traces, JSON-lines logs)
    myna-edge verifier issue-terminal-cert --terminal-id ID --out DIR [--csr FILE] [--config ...]
    myna-edge verifier renew-terminal-cert --terminal-id ID --out DIR [--csr FILE] [--config ...]
    myna-edge verifier fleet [--operator HOST:PORT ...] [--config ...]
    myna-edge verifier transfers [--state expired] [--terminal-id ID] [--json]
                                 [--db URL] [--config ...]
    myna-edge verifier revoke-terminal (--serial HEX | --certificate PEM |
                                        --terminal-id ID) [--note TEXT] [--config ...]

``issue-terminal-cert`` is run where the terminal CA key lives (it creates
the CA when missing): in production an offline CA host whose configuration
names ``tls.terminal_ca`` and ``tls.terminal_ca_key``; the verifier host
keeps only the CA certificate. ``revoke-terminal`` is run on the verifier
host: it needs no key, and the running service refuses the terminal at
its next call.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
from pathlib import Path

from verifier.codes import TransferState
from verifier.config import VerifierConfig, load_config, with_metrics, with_tracing
from verifier.errors import VerifierError

__all__ = [
    "add_parser",
    "run_fleet_table",
    "run_issue_terminal_cert",
    "run_renew_terminal_cert",
    "run_revoke_terminal",
    "run_transfers",
    "run_verifier",
]

_log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``verifier`` and its ``issue-terminal-cert`` subcommand."""
    parser = sub.add_parser("verifier", help="run the central verification service")
    parser.add_argument("--listen", help="host:port to bind (default 127.0.0.1:50051)")
    parser.add_argument("--config", type=Path, help="TOML configuration file")
    parser.add_argument("--db", help="sqlite:///PATH (default) or postgresql://...")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="server processes on the one port (SO_REUSEPORT); default: one per core",
    )
    parser.add_argument(
        "--metrics",
        metavar="ADDRESS",
        help="serve Prometheus /metrics on [HOST:]PORT (127.0.0.1 unless the file allows more)",
    )
    parser.add_argument(
        "--otlp",
        metavar="URL",
        help="send OpenTelemetry traces to this OTLP/HTTP endpoint (.../v1/traces)",
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="log lines as text (default) or JSON lines with trace and request ids",
    )
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
    issue.add_argument(
        "--csr",
        type=Path,
        help="sign the terminal's own CSR (its key stays on the terminal): writes <id>.pem, ca.pem",
    )
    issue.set_defaults(handler=run_issue_terminal_cert)
    renew = commands.add_parser(
        "renew-terminal-cert",
        help="replace an enrolled terminal's certificate (the agent switches without restart)",
    )
    renew.add_argument("--terminal-id", required=True, help="the terminal id (certificate CN)")
    renew.add_argument("--out", type=Path, required=True, help="folder holding <id>.pem")
    renew.add_argument("--config", type=Path, dest="issue_config", help="TOML configuration")
    renew.add_argument("--csr", type=Path, help="sign the terminal's new CSR (no key written)")
    renew.set_defaults(handler=run_renew_terminal_cert)
    revoke = commands.add_parser(
        "revoke-terminal",
        aliases=["revoke-terminal-cert"],
        help="shut a terminal out at its next call (terminal deny-list; no restart)",
    )
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--serial", help="the certificate's serial number (hex)")
    which.add_argument("--certificate", type=Path, help="the terminal's PEM certificate")
    which.add_argument(
        "--terminal-id", dest="revoke_terminal_id", help="every certificate with this CN"
    )
    revoke.add_argument("--note", default="", help="why (kept as a comment in the list)")
    revoke.add_argument("--config", type=Path, dest="revoke_config", help="TOML configuration")
    revoke.set_defaults(handler=run_revoke_terminal)
    fleet = commands.add_parser(
        "fleet", help="the terminals' status (reader, printer, controller, versions, last seen)"
    )
    fleet.add_argument(
        "--operator",
        action="append",
        metavar="HOST:PORT",
        help="a verifier's operator listener; repeat for replicas (default: [operator] listen)",
    )
    fleet.add_argument("--config", type=Path, dest="fleet_config", help="TOML configuration")
    fleet.set_defaults(handler=run_fleet_table)
    transfers = commands.add_parser(
        "transfers", help="the authorisations in the ledger, for the bank's reconciliation"
    )
    transfers.add_argument(
        "--state",
        choices=[state.name.lower() for state in TransferState],
        help="only authorisations in this state (expired: never settled by the terminal)",
    )
    transfers.add_argument(
        "--terminal-id", dest="transfers_terminal", default="", help="only this terminal's"
    )
    transfers.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    transfers.add_argument("--db", dest="transfers_db", help="the verifier's database URL")
    transfers.add_argument("--config", type=Path, dest="transfers_config", help="TOML file")
    transfers.set_defaults(handler=run_transfers)


def _config(args: argparse.Namespace, path: Path | None) -> VerifierConfig:
    config = load_config(
        path,
        listen=getattr(args, "listen", None),
        database=getattr(args, "db", None),
        insecure_dev=getattr(args, "insecure_dev", None),
    )
    config = with_tracing(
        with_metrics(config, getattr(args, "metrics", None)), getattr(args, "otlp", None)
    )
    log_format = getattr(args, "log_format", None)
    return config if log_format is None else dataclasses.replace(config, log_format=log_format)


def run_verifier(args: argparse.Namespace) -> int:
    """Run the service until SIGINT/SIGTERM, then drain and stop."""
    try:
        config = _config(args, args.config)
    except VerifierError as exc:
        print(f"myna-edge verifier: {exc}", file=sys.stderr)
        return 2
    if config.log_format == "json":
        from myna_metrics.json_logs import use_json_logs

        use_json_logs()
    if config.insecure_dev:
        print(
            "myna-edge verifier: WARNING: --insecure-dev: plaintext, no terminal "
            "authentication, test PKI trusted. Development only.",
            file=sys.stderr,
        )
    from verifier.workers import default_workers

    workers = args.workers if getattr(args, "workers", None) is not None else default_workers()
    if workers < 1:
        print("myna-edge verifier: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        if workers == 1:
            asyncio.run(_serve(config))
        else:
            _supervise(config, workers)
    except VerifierError as exc:
        print(f"myna-edge verifier: {exc}", file=sys.stderr)
        return 1
    return 0


def _supervise(config: VerifierConfig, workers: int) -> None:
    """``workers`` processes on one port until SIGINT/SIGTERM (``verifier.workers``)."""
    from verifier.metrics import supervisor_metrics
    from verifier.workers import WorkerPool

    pool = WorkerPool(config, workers)
    previous = {
        sig: signal.signal(sig, pool.request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    # One /metrics for all workers (verifier.metrics: why multiprocess mode).
    with supervisor_metrics(config, lambda: len(pool.pids)):
        try:
            port = pool.start()
            pids = " ".join(str(pid) for pid in pool.pids)
            print(
                f"myna-edge verifier: listening on port {port} ({workers} workers, pids {pids})",
                file=sys.stderr,
                flush=True,
            )
            pool.supervise()
        finally:
            pool.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


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
    await server.stop(drain=config.shutdown_drain_seconds)


def run_issue_terminal_cert(args: argparse.Namespace) -> int:
    """Issue ``<id>.pem``, ``<id>.key`` and ``ca.pem`` into ``--out`` (no key with ``--csr``)."""
    from verifier.tls import (
        issue_from_csr,
        issue_terminal_certificate,
        write_certificate,
        write_issued,
    )

    try:
        config = _config(args, args.issue_config or args.config)
        if args.csr is not None:
            cert, ca = issue_from_csr(config.tls, args.csr.read_bytes(), args.terminal_id)
            paths = write_certificate(cert, ca, args.out, args.terminal_id)
        else:
            issued = issue_terminal_certificate(config.tls, args.terminal_id)
            paths = write_issued(issued, args.out, args.terminal_id)
    except (VerifierError, OSError) as exc:
        print(f"myna-edge verifier: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


def run_renew_terminal_cert(args: argparse.Namespace) -> int:
    """Renew ``<id>.pem`` (and ``<id>.key`` unless ``--csr``) in ``--out``; print the serials."""
    from verifier.terminal_certs import renew_terminal_certificate

    try:
        config = _config(args, args.issue_config or args.config)
        csr = args.csr.read_bytes() if args.csr is not None else None
        renewal = renew_terminal_certificate(config.tls, args.terminal_id, args.out, csr_pem=csr)
    except (VerifierError, OSError) as exc:
        print(f"myna-edge verifier renew-terminal-cert: {exc}", file=sys.stderr)
        return 2
    for path in renewal.paths:
        print(path)
    print(f"serial {renewal.serial:x} replaces {renewal.previous_serial or 0:x}")
    print(
        "once the terminal has switched: myna-edge verifier revoke-terminal "
        f"--serial {renewal.previous_serial or 0:x}"
    )
    return 0


def run_fleet_table(args: argparse.Namespace) -> int:
    """Print the fleet table from the operator listener(s) (``verifier.fleet_cli``)."""
    from verifier.fleet_cli import run_fleet

    addresses = args.operator
    if not addresses:
        try:
            config = _config(args, args.fleet_config or args.config)
        except VerifierError as exc:
            print(f"myna-edge verifier fleet: {exc}", file=sys.stderr)
            return 2
        operator = config.operator
        addresses = [operator.listen if operator is not None else "127.0.0.1:50052"]
    return run_fleet([a if ":" in a else f"127.0.0.1:{a}" for a in addresses])


def run_transfers(args: argparse.Namespace) -> int:
    """List the ledger's authorisations (``verifier.transfers_cli``); 2 on a bad database."""
    from verifier.storage import open_storage
    from verifier.transfers_cli import print_transfers

    try:
        config = _config(args, args.transfers_config or args.config)
        url: str = args.transfers_db or config.database
        path = url.removeprefix("sqlite:///")
        if path != url and not Path(path).is_file():
            raise VerifierError(f"no database at {path}")  # never create an empty one
        with open_storage(url) as storage:
            print_transfers(
                storage,
                state=TransferState[args.state.upper()] if args.state else None,
                terminal_id=args.transfers_terminal,
                as_json=args.json,
            )
    except VerifierError as exc:
        print(f"myna-edge verifier transfers: {exc}", file=sys.stderr)
        return 2
    return 0


def run_revoke_terminal(args: argparse.Namespace) -> int:
    """Add a certificate serial or a terminal id to the terminal deny-list."""
    from verifier.terminal_denylist import revoke, serial_of_pem

    try:
        config = _config(args, args.revoke_config or args.config)
        serial = None
        if args.serial is not None:
            serial = int(args.serial, 16)
        elif args.certificate is not None:
            serial = serial_of_pem(args.certificate.read_bytes())
            if serial is None:
                raise ValueError(f"{args.certificate} is not a PEM certificate")
        path = config.tls.path("revoked_terminals")
        line = revoke(path, serial=serial, terminal_id=args.revoke_terminal_id, note=args.note)
    except (VerifierError, ValueError, OSError) as exc:
        print(f"myna-edge verifier revoke-terminal: {exc}", file=sys.stderr)
        return 2
    print(f"{path}: {line}")
    return 0
