# SPDX-License-Identifier: Apache-2.0
"""``myna-edge demo --ui`` as a person runs it, and its simulator panel in the browser.

The command must print the kiosk, ATM and panel URLs, serve them (with
``--reset-otp`` the panel's booking shows the reset's one-time password),
and stop cleanly on Ctrl-C (SIGINT) with its simulated devices gone. The panel's
buttons move the card on and off the readers; a bad action changes nothing.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.browser.browser_support import WorldThread, shot

ROOT = Path(__file__).resolve().parents[2]


def test_ui_demo_command_prints_urls_serves_and_stops() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "myna_edge", "demo", "--ui", "--idle", "5", "--reset-otp"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while not any("Ctrl-C" in line for line in lines):
            assert time.monotonic() < deadline, lines
            line = proc.stdout.readline()
            assert line, f"the demo exited early: {lines}"
            lines.append(line)
        text = "".join(lines)
        urls = re.findall(r"http://127\.0\.0\.1:\d+/\S*", text)
        assert len(urls) == 3, text
        kiosk, atm, panel = urls
        assert panel == kiosk + "sim"
        with urllib.request.urlopen(kiosk, timeout=10) as reply:
            assert b"/static/app.js" in reply.read()
        with urllib.request.urlopen(kiosk + "api/config", timeout=10) as reply:
            config = json.loads(reply.read())
        assert config["idle_seconds"] == 5
        assert config["capabilities"]["pin_reset"] is True
        with urllib.request.urlopen(atm + "api/config", timeout=10) as reply:
            assert json.loads(reply.read())["capabilities"]["transfer"] is True
        with urllib.request.urlopen(panel + "/state", timeout=10) as reply:
            assert json.loads(reply.read())["kiosk_card"] is False
        assert "PIN reset policy: one-time password" in text
        book = urllib.request.Request(
            panel + "/action", data=json.dumps({"action": "book", "value": "sign"}).encode(),
            headers={"Content-Type": "application/json", "Origin": kiosk.rstrip("/")},
        )  # fmt: skip
        with urllib.request.urlopen(book, timeout=20) as reply:
            booked = json.loads(reply.read())
        assert re.fullmatch(r"\d{8}", booked["one_time_password"])  # the phone shows the OTP
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            assert proc.stdout is not None
            proc.stdout.close()
    assert code == 0


def test_ui_simulator_panel_moves_the_card(world: WorldThread, page: Any) -> None:
    w = world.world
    assert w.kiosk is not None
    page.goto(w.kiosk.url + "sim")
    page.wait_for_selector("#pad-display")
    page.click("button[data-action='place'][data-value='kiosk']:not([data-profile])")
    page.wait_for_function(
        "() => document.getElementById('kiosk-state').textContent.includes('on')"
    )
    assert w.kiosk_reader.present
    assert not w.atm_reader.present
    shot(page, "17-simulator-panel")
    page.click("button[data-action='remove'][data-value='kiosk']")
    page.wait_for_function("() => document.getElementById('kiosk-state').textContent === '(empty)'")
    assert not w.kiosk_reader.present
    origin = w.kiosk.url.rstrip("/")
    for body in ({"action": "place", "value": "nowhere"}, {"action": "explode"}, [1]):
        reply = page.request.post(
            w.kiosk.url + "sim/action", data=json.dumps(body),
            headers={"Content-Type": "application/json", "Origin": origin},
        )  # fmt: skip
        assert reply.status == 400
    assert not w.kiosk_reader.present
    assert not w.atm_reader.present
    foreign = page.request.post(
        w.kiosk.url + "sim/action", data=json.dumps({"action": "place", "value": "kiosk"}),
        headers={"Content-Type": "application/json", "Origin": "http://evil.example"},
    )  # fmt: skip
    assert foreign.status == 403
    assert not w.kiosk_reader.present
