# SPDX-License-Identifier: Apache-2.0
"""The dev stack's child processes: started in their own session, logged, stopped by PID.

Why a session each: Ctrl-C in the terminal reaches the whole foreground
process group, and a child that dies on it before the agent would leave the
agent talking to nothing; the supervisor (``myna_edge.devstack``) alone
receives the signal and stops the children in order. Each child writes to
its own log file, which is also where readiness lines are looked for (a pipe
nobody drains would block it). A child that outlasts its stop timeout is
killed with its whole process group, so a grandchild (the firmware under
MicroPython) cannot outlive it. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Final

__all__ = ["Child", "ChildError", "myna_edge_argv"]

_POLL: Final = 0.05


class ChildError(RuntimeError):
    """A child did not start, or said it failed (its log's tail is in the message)."""


def myna_edge_argv(*args: str) -> list[str]:
    """``myna-edge ARGS`` with this interpreter (the same install, no PATH lookup)."""
    return [sys.executable, "-m", "myna_edge", *args]


class Child:
    """One running child process and its log; ``stop`` is harmless twice.

    Args:
        name: what the stack calls it (``verifier``, ``agent``...).
        argv: the command line.
        log: file for its standard output and error.
        stdin: give it a pipe for commands (else ``/dev/null``: it must not
            need a terminal).
        cwd: its working folder.
    """

    def __init__(
        self, name: str, argv: list[str], log: Path, *, stdin: bool = False, cwd: Path
    ) -> None:
        self.name = name
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own argv, no shell
                argv,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    def alive(self) -> bool:
        """Whether it still runs."""
        return self.process.poll() is None

    def tail(self, size: int = 1200) -> str:
        """The end of its log, for error messages."""
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-size:]
        except OSError:
            return ""

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        """Wait until its log has a line matching ``pattern``; return the match.

        Raises:
            ChildError: it exited first, or ``timeout`` s passed.
        """
        compiled = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = compiled.search(self.tail(1 << 16))
            if found is not None:
                return found
            if not self.alive():
                raise ChildError(f"{self.name} exited ({self.process.returncode}):\n{self.tail()}")
            time.sleep(_POLL)
        raise ChildError(f"{self.name} not ready within {timeout:.0f} s:\n{self.tail()}")

    def say(self, line: str) -> bool:
        """Write one command line to its standard input; False when it cannot take it."""
        pipe: IO[bytes] | None = self.process.stdin
        if pipe is None or not self.alive():
            return False
        try:
            pipe.write(line.encode("utf-8") + b"\n")
            pipe.flush()
        except OSError:
            return False
        return True

    def stop(self, timeout: float) -> int | None:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL its process group; reap it.

        Returns:
            Its exit status.
        """
        process = self.process
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill_group()
                process.wait(timeout=10)
        else:
            self._kill_group()  # it ended, but a grandchild may not have
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        return process.returncode

    def _kill_group(self) -> None:
        # ProcessLookupError: the group is empty, everybody in it has ended.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
