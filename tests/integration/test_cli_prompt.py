# SPDX-License-Identifier: Apache-2.0
"""The PIN prompt on a real terminal: asked for, accepted, never echoed.

Runs ``myna-edge read`` on a pseudo-terminal, as a person at a shell would,
and types the PIN at the prompt.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from hw_sim.card import get_profile

DEADLINE_S = 60.0


def _read_until(fd: int, needle: bytes, deadline: float) -> bytes:
    seen = b""
    while needle not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out waiting for {needle!r}; saw {seen!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    return seen


def _read_rest(fd: int, deadline: float) -> bytes:
    out = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out


def test_pin_prompt_reads_from_the_terminal_without_echo(sim_home_dir: Path) -> None:
    pin = get_profile("default").text_pin
    controller, terminal = pty.openpty()
    env = {**os.environ, "MYNA_EDGE_SIM_HOME": str(sim_home_dir)}
    process = subprocess.Popen(
        [sys.executable, "-m", "myna_edge", "read", "--json"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        start_new_session=True,
    )
    os.close(terminal)
    try:
        deadline = time.monotonic() + DEADLINE_S
        prompt = _read_until(controller, b"PIN", deadline)
        assert b"Card-info PIN" in prompt
        os.write(controller, pin.encode() + b"\n")
        rest = _read_rest(controller, deadline)
        assert process.wait(timeout=DEADLINE_S) == 0, rest.decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)
    text = rest.decode()
    report = json.loads(text[text.index("{") :])
    assert report["name"] == get_profile("default").person.name
    # The terminal shows what it echoes: the PIN must not be among it.
    assert pin.encode() not in rest.split(b"{", 1)[0]
