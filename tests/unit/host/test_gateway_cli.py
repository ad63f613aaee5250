# SPDX-License-Identifier: Apache-2.0
"""``host.gateway.cli``: ``myna-edge gateway`` serves the app and stops on SIGTERM."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from host.gateway.cli import add_parser, run_gateway

ROOT = Path(__file__).resolve().parents[3]
_MAIN = (
    "import argparse, sys\n"
    "from host.gateway.cli import add_parser\n"
    "p = argparse.ArgumentParser(); add_parser(p.add_subparsers())\n"
    "a = p.parse_args(sys.argv[1:]); sys.exit(a.handler(a))\n"
)


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    return parser.parse_args(["gateway", *argv])


@pytest.mark.parametrize(
    "argv",
    [
        ("--agent", "0.0.0.0:50051"),
        ("--agent", "10.0.0.1:1"),
        ("--agent", "127.0.0.1:1", "--idle", "0"),
        ("--agent", "127.0.0.1:1", "--port", "70000"),
    ],
)
def test_bad_options_exit_2_before_serving(
    argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_gateway(_args(*argv)) == 2
    assert capsys.readouterr().err.startswith("myna-edge gateway: ")


def test_serves_the_app_on_loopback_and_stops_on_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = ["gateway", "--agent", "127.0.0.1:9", "--port", "0", "--voice"]
    with subprocess.Popen(
        [sys.executable, "-c", _MAIN, *argv],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("kiosk app: http://127.0.0.1:")
            url = line.split()[2]
            with urllib.request.urlopen(url, timeout=10) as reply:
                assert b"/static/app.js" in reply.read()
                assert reply.headers["X-Frame-Options"] == "DENY"
            with urllib.request.urlopen(url + "api/config", timeout=20) as reply:
                assert json.loads(reply.read())["voice_guidance"] is True  # --voice
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(20)
    assert code == 0
