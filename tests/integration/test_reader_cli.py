# SPDX-License-Identifier: Apache-2.0
"""``myna-edge sim pcsc``, ``myna-edge sim pn532`` and ``myna-edge readers``, end to end.

The sim commands run as real processes, stopped by PID; ``sim pn532`` is
checked with libnfc's own ``nfc-list``, ``sim pcsc`` against a vpcd
stand-in on 127.0.0.1 (a real pcscd runs confined to its own network
namespace in the other tests, where a separate process cannot dial it).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.card import PinKind
from host.transport.cli import run_readers
from hw_sim.readers.stack import PcscRig, Pn532Rig
from tests.integration.reader_stack import PCSC_READER, pcsc_stack, pn532_stack, require

__all__ = ["pcsc_stack", "pn532_stack"]

ROOT = Path(__file__).resolve().parents[2]
ATR = bytes.fromhex("3BE000FF8131FE4514")


_LINES: dict[int, queue.Queue[str]] = {}
_READERS: dict[int, threading.Thread] = {}


def start(*argv: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "myna_edge", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    lines: queue.Queue[str] = queue.Queue()
    _LINES[process.pid] = lines
    stdout = process.stdout
    assert stdout is not None
    reader = threading.Thread(target=lambda: [lines.put(x) for x in stdout], daemon=True)
    reader.start()
    _READERS[process.pid] = reader
    return process


def read_line(process: subprocess.Popen[str], timeout: float = 30) -> str:
    try:
        return _LINES[process.pid].get(timeout=timeout)
    except queue.Empty:
        raise AssertionError("the command printed nothing") from None


@pytest.fixture
def stop_at_end() -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        _READERS.pop(process.pid).join(timeout=10)  # it ends at EOF
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def nfc_list(connstring: str) -> str:
    require(shutil.which("nfc-list") is not None, "nfc-list (libnfc-bin) is not installed")
    env = {**os.environ, "LIBNFC_DEVICE": connstring}
    done = subprocess.run(["nfc-list"], capture_output=True, text=True, env=env, timeout=30)
    return done.stdout


def test_sim_pn532_serves_nfc_list_and_removes_on_signal(
    tmp_path: Path, stop_at_end: list[subprocess.Popen[str]]
) -> None:
    link = tmp_path / "pn532"
    process = start("sim", "pn532", "--profile", "default", "--link", str(link))
    stop_at_end.append(process)
    assert "PN532 on /dev/pts/" in read_line(process)
    read_line(process)  # the signal help
    assert "1 ISO14443B passive target(s) found" in nfc_list(f"pn532_uart:{link}")
    reader = f"libnfc://pn532_uart:{link}"
    status = subprocess.run(
        [sys.executable, "-m", "myna_edge", "pin-status", "--json", "--reader", reader],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
        check=False,
    )
    assert status.returncode == 0, status.stderr
    rows = json.loads(status.stdout)  # the card's saved state is shared: check shape, not counts
    assert [row["pin"] for row in rows] == [kind.value for kind in PinKind]
    assert all(0 <= row["tries_left"] <= row["max_tries"] for row in rows)
    process.send_signal(signal.SIGUSR1)
    assert read_line(process).strip() == "card removed"
    out = nfc_list(f"pn532_uart:{link}")
    assert "NFC device: user defined device opened" in out
    assert "ISO14443B passive target" not in out
    process.send_signal(signal.SIGUSR2)
    assert read_line(process).strip() == "card inserted"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert not link.exists()


def test_sim_pcsc_dials_vpcd_and_hangs_up_on_removal(
    stop_at_end: list[subprocess.Popen[str]],
) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(30)
    port = server.getsockname()[1]
    try:
        process = start("sim", "pcsc", "--profile", "default", "--port", str(port))
        stop_at_end.append(process)
        assert f"127.0.0.1:{port}" in read_line(process)
        conn, _ = server.accept()
        with conn:
            conn.settimeout(10)
            conn.sendall(struct.pack(">H", 1) + b"\x04")
            head = conn.recv(2, socket.MSG_WAITALL)
            assert conn.recv(struct.unpack(">H", head)[0], socket.MSG_WAITALL) == ATR
            read_line(process)  # the signal help
            process.send_signal(signal.SIGUSR1)
            assert read_line(process).strip() == "card removed"
            assert conn.recv(2) == b""  # hung up: vpcd reports no card
        process.send_signal(signal.SIGUSR2)
        again, _ = server.accept()  # redialled
        again.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        server.close()


@pytest.mark.parametrize("command", ["pcsc", "pn532"])
def test_sim_commands_refuse_unknown_profiles(
    command: str, tmp_path: Path, stop_at_end: list[subprocess.Popen[str]]
) -> None:
    extra = ["--link", str(tmp_path / "x")] if command == "pn532" else []
    process = start("sim", command, "--profile", "no-such-card", *extra)
    stop_at_end.append(process)
    assert process.stderr is not None
    assert process.wait(timeout=30) == 2
    assert "no-such-card" in process.stderr.read()


def test_readers_lists_every_transport(
    pcsc_stack: PcscRig,
    pn532_stack: Pn532Rig,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LIBNFC_DEVICE", pn532_stack.pty.connstring)
    with pcsc_stack.card():
        import argparse

        assert run_readers(argparse.Namespace(json=True)) == 0
    entries = json.loads(capsys.readouterr().out)
    by_transport = {e["transport"]: e for e in entries if not e["error"]}
    assert by_transport["sim"]["url"] == "sim://default"
    pcsc = [e for e in entries if e["transport"] == "pcsc" and e["name"] == PCSC_READER]
    assert pcsc[0]["card_present"] is True
    assert pcsc[0]["url"] == "pcsc://Virtual%20PCD%2000%2000"
    assert by_transport["libnfc"]["url"] == f"libnfc://{pn532_stack.pty.connstring}"
