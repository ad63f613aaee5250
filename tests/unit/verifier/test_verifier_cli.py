# SPDX-License-Identifier: Apache-2.0
"""``myna-edge verifier`` argument parsing and ``issue-terminal-cert``."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from verifier.cli import add_parser


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="myna-edge")
    add_parser(parser.add_subparsers(dest="command"))
    return parser


def test_server_options() -> None:
    args = _parser().parse_args(
        ["verifier", "--listen", "127.0.0.1:6001", "--db", "sqlite:///x.db", "--insecure-dev"]
    )
    assert (args.listen, args.db, args.insecure_dev) == ("127.0.0.1:6001", "sqlite:///x.db", True)
    assert args.handler.__name__ == "run_verifier"


def test_issue_terminal_cert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "verifier.toml"
    config.write_text('[tls]\ndirectory = "tls"\n')
    args = _parser().parse_args(
        [
            "verifier",
            "issue-terminal-cert",
            "--terminal-id",
            "kiosk-3",
            "--out",
            str(tmp_path / "out"),
            "--config",
            str(config),
        ]
    )
    assert args.handler(args) == 0
    assert (tmp_path / "out" / "kiosk-3.pem").exists()
    assert (tmp_path / "tls" / "terminal-ca.key").exists()
    assert "kiosk-3.key" in capsys.readouterr().out


def test_bad_config_is_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("nonsense = 1\n")
    args = _parser().parse_args(["verifier", "--config", str(config)])
    assert args.handler(args) == 2
    assert "unknown key" in capsys.readouterr().err
