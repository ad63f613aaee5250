# SPDX-License-Identifier: Apache-2.0
"""The dev stack's files: the test PKI as trust folder, mTLS material, the two TOML configs.

Why files and not in-process objects: the point of ``myna-edge dev-stack``
is the production shape (``myna-edge verifier --config verifier.toml`` and
``myna-edge agent --config terminal.toml`` as separate processes over mTLS),
so an integrator can read, copy and change exactly what runs. TOML strings
are written with ``json.dumps`` quoting, which is valid TOML for the paths
and URLs used here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from hw_sim.pki.export import export_test_pki
from verifier.config import TlsConfig
from verifier.tls import ensure_tls_material, issue_terminal_certificate, write_issued

__all__ = ["StackFiles", "prepare_files", "terminal_toml", "verifier_toml"]

_TERMINAL_FOLDER: Final = "terminal"


def _q(value: str | Path) -> str:
    return json.dumps(str(value))


@dataclass(frozen=True)
class StackFiles:
    """Where the stack's files are.

    Attributes:
        root: the ``--out`` folder.
        trust: the verifier's ``trust_dir`` (the exported test PKI).
        ca: the verifier's server CA, for the terminal.
        certificate: the terminal's client certificate (CN = terminal id).
        key: its private key (0600).
    """

    root: Path
    trust: Path
    ca: Path
    certificate: Path
    key: Path


def prepare_files(root: Path, terminal_id: str, *, sim_home: Path) -> StackFiles:
    """Export the test PKI, create the verifier's TLS material, issue the terminal certificate.

    Raises:
        OSError: a file cannot be written.
        PkiCacheError, ConfigError: the simulator's PKI or the TLS folder is damaged.
    """
    root.mkdir(parents=True, exist_ok=True)
    trust = root / "trust"
    export_test_pki(trust, home=sim_home)
    tls = TlsConfig(directory=root / "verifier-tls")
    # A fresh terminal CA is this command's intent, not news for its user: the
    # verifier's warning about creating one is meant for an operator.
    tls_log = logging.getLogger("verifier.tls")
    level = tls_log.level
    tls_log.setLevel(logging.ERROR)
    try:
        ensure_tls_material(tls)
    finally:
        tls_log.setLevel(level)
    issued = issue_terminal_certificate(tls, terminal_id)
    certificate, key, ca = write_issued(issued, root / _TERMINAL_FOLDER, terminal_id)
    return StackFiles(root, trust, ca, certificate, key)


def verifier_toml(files: StackFiles) -> str:
    """The verifier's config: mTLS on a free loopback port, SQLite, the test PKI trusted."""
    return (
        "# Written by myna-edge dev-stack: the production shape (mTLS), test PKI trusted.\n"
        'listen = "127.0.0.1:0"\n'
        f"database = {_q('sqlite:///' + str(files.root / 'verifier.sqlite'))}\n"
        f"trust_dir = {_q(files.trust)}\n\n"
        f"[tls]\ndirectory = {_q(files.root / 'verifier-tls')}\n"
    )


def terminal_toml(
    files: StackFiles,
    *,
    profile: str,
    terminal_id: str,
    reader: str,
    api: str,
    verifier_port: int,
    printer: Path | None,
    controller: Path | None,
    controller_key: Path | None,
) -> str:
    """The agent's config for this stack (see ``deploy/terminal.toml`` for every key)."""
    lines = [
        "# Written by myna-edge dev-stack (deploy/terminal.toml explains every key).",
        f"profile = {_q(profile)}",
        f"terminal_id = {_q(terminal_id)}",
        f"reader = {_q(reader)}",
    ]
    if printer is not None:
        lines.append(f"printer = {_q(printer)}")
    if controller is not None and controller_key is not None:
        lines += [f"controller = {_q(controller)}", f"controller_key = {_q(controller_key)}"]
    lines += [
        f"listen = {_q(api)}",
        f"journal = {_q(files.root / 'journal.sqlite')}",
        f"electronic_journal = {_q(files.root / 'electronic-journal.txt')}",
        "recovery_answer_seconds = 30",
        "",
        "[verifier]",
        f"target = {_q(f'127.0.0.1:{verifier_port}')}",
        f"ca = {_q(files.ca)}",
        f"certificate = {_q(files.certificate)}",
        f"key = {_q(files.key)}",
    ]
    return "\n".join(lines) + "\n"
