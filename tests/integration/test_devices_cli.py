# SPDX-License-Identifier: Apache-2.0
"""``myna-edge sim controller`` and ``sim printer`` as processes a person would run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from host.peripherals import BoardKey, Controller, KeyPressed
from host.peripherals.printer import ReceiptPrinter
from tests.integration.controller_support import require_micropython
from tests.vectors.receipts import transfer_receipt


@contextmanager
def sim_process(*args: str) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "myna_edge", "sim", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert " on " in banner, banner + (proc.stderr.read() if proc.stderr else "")
        yield proc
    finally:
        if proc.poll() is None:
            try:
                assert proc.stdin is not None
                proc.stdin.write("quit\n")
                proc.stdin.flush()
                proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _say(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


def test_sim_controller_cli(tmp_path: Path) -> None:
    require_micropython()
    link = tmp_path / "controller"
    with sim_process("controller", "--link", str(link)) as proc:
        with Controller(str(link)) as board:
            board.display(0, "HELLO CLI")
            _say(proc, "press F1 5")
            assert board.next_event(3.0) == KeyPressed(0x81)
            assert board.next_event(3.0) == KeyPressed(0x35)
        _say(proc, "display")
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "HELLO CLI |"
        _say(proc, "quit")
        assert proc.wait(timeout=5) == 0
    assert not link.exists()


def test_sim_printer_cli(tmp_path: Path) -> None:
    link, out = tmp_path / "printer", tmp_path / "receipts"
    with sim_process("printer", "--link", str(link), "--out", str(out)) as proc:
        with ReceiptPrinter(str(link)) as printer:
            printer.print_receipt(transfer_receipt())
        deadline = time.monotonic() + 5
        while not (out / "receipt-0001.png").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (out / "receipt-0001.png").exists()
        assert "TX-2026-000123" in (out / "receipt-0001.txt").read_text(encoding="utf-8")
        _say(proc, "quit")
        assert proc.wait(timeout=5) == 0


def test_sim_printer_runs_on_when_stdin_closes_until_sigterm(tmp_path: Path) -> None:
    # Under a supervisor there is no terminal: standard input ends at once.
    link, out = tmp_path / "printer", tmp_path / "receipts"
    proc = subprocess.Popen(
        [sys.executable, "-m", "myna_edge", "sim", "printer", "--link", str(link),
         "--out", str(out)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert " on " in proc.stdout.readline()
        # the end of standard input was seen, and the printer still serves
        assert "standard input closed" in proc.stderr.readline()
        assert proc.poll() is None
        with ReceiptPrinter(str(link)) as printer:
            printer.print_receipt(transfer_receipt())
        deadline = time.monotonic() + 5
        while not (out / "receipt-0001.png").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (out / "receipt-0001.png").exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert not link.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_sim_controller_commission_injects_the_key_file(tmp_path: Path) -> None:
    require_micropython()
    link, key_file = tmp_path / "controller", tmp_path / "board.key"
    with sim_process("controller", "--link", str(link), "--commission", str(key_file)) as proc:
        # a missing key file gets a fresh key, owner-only, in terminal.toml's hex format
        assert key_file.stat().st_mode & 0o777 == 0o600
        key = BoardKey(bytes.fromhex(key_file.read_text(encoding="ascii").strip()))
        with Controller(str(link), key=key) as board:
            status = board.status()
            assert status.commissioned
            assert status.kcv == key.kcv()
        _say(proc, "quit")
        assert proc.wait(timeout=5) == 0


def test_sim_controller_commission_refuses_a_bad_key_file(tmp_path: Path) -> None:
    require_micropython()
    key_file = tmp_path / "board.key"
    key_file.write_text("not hex\n", encoding="ascii")
    done = subprocess.run(
        [sys.executable, "-m", "myna_edge", "sim", "controller", "--link",
         str(tmp_path / "controller"), "--commission", str(key_file)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "64 hex digits" in done.stderr
    assert not (tmp_path / "controller").exists()
